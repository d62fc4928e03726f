import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import {
  Actions,
  BlazeError,
  ErrorCodes,
  Sources,
  badRequest,
  decodeFrame,
  encodeFrame,
  invalidField,
  newUuid,
  parseRequestEnvelope,
  parseTimestampMicros,
  salvageId,
  type BlazeMessage,
  type MessageView,
  type RequestEnvelope,
} from "@openblaze/protocol";
import type { ServerConfig } from "../config.js";
import type { Identity } from "../core/identity.js";
import type { MessagingService } from "../core/messaging.js";
import type { Metrics } from "../metrics.js";
import { sendAckView } from "../core/views.js";
import type { PendingMessage, Store } from "../store/store.js";
import type { PushFrameCache } from "./frame-cache.js";
import { ReadBackpressure, RequestRateGate, ackItems, refusalReply, shuttingDown, tooManyRequests } from "./limits.js";

const PAGE = 100;

export interface ConnectionDeps {
  config: Readonly<ServerConfig>;
  store: Store;
  messaging: MessagingService;
  frames: PushFrameCache;
  log: Logger;
  metrics?: Metrics;
}

/**
 * One authenticated socket: decodes requests, calls core, encodes replies, and pumps this
 * session's mailbox once LIST_PENDING_MESSAGES subscribed it.
 */
export class Connection {
  lastSeen = Date.now();
  private subscribed = false;
  /** Highest mailbox seq pushed on this socket. */
  private cursor = 0;
  /** Rows up to here existed when the client subscribed: they are its backlog. */
  private backlogHighSeq = 0;
  private createdAfter: number | undefined;
  private pumping = false;
  /** The last mailbox read came back short with nothing asked since: offered rows may be pushed directly. */
  private caughtUp = false;
  private pumpAgain = false;
  private unflushed = 0;
  private badFrames = 0;
  /** Requests are admitted in arrival order, so one socket's messages keep their order. */
  private admission: Promise<unknown> = Promise.resolve();
  /** Admitted requests whose reply has not been written yet (sends and acks waiting for their commit). */
  private replying: Set<Promise<unknown>> | undefined;
  /** Admitted acknowledgements not yet committed: a later LIST_PENDING_MESSAGES waits for them. */
  private acking: Set<Promise<unknown>> | undefined;
  /** Set by quiesce(): requests read from now on are refused, not processed. */
  private stopping = false;
  private readonly gate: RequestRateGate;
  private readonly backpressure: ReadBackpressure;
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.socket.uncork();
  };
  /** The last drain stopped on flow control, maybe with mail left: a flush resumes it. */
  private stalled = false;
  private readonly flushed = () => {
    // While reads are paused for backpressure, bytes leaving are the only sign the client lives.
    if (this.ws.isPaused) this.lastSeen = Date.now();
    this.backpressure.afterFlush();
    if (this.stalled && this.canSend()) {
      this.stalled = false;
      void this.pump();
    }
  };

  constructor(
    readonly ws: WebSocket,
    /** The TCP socket under `ws`, corked while a tick writes frames. */
    private readonly socket: Duplex,
    readonly who: Identity,
    private readonly deps: ConnectionDeps,
  ) {
    this.gate = new RequestRateGate(deps.config.maxRequestsPerSecond);
    this.backpressure = new ReadBackpressure(ws, deps.config.maxBufferedBytes);
    ws.on("message", (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on("pong", () => (this.lastSeen = Date.now()));
    ws.on("ping", () => (this.lastSeen = Date.now()));
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    // Decoded before the rate check: a refusal is answered under the request's own id and action,
    // and an acknowledgement's action decides whether it is free.
    let raw: unknown;
    let req: RequestEnvelope | undefined;
    let bad: unknown;
    try {
      if (!isBinary) throw badRequest("text frames are not supported; send gzip in binary frames");
      raw = decodeFrame(data, this.deps.config.frameLimits);
      req = parseRequestEnvelope(raw);
    } catch (e) {
      bad = e;
    }
    if (this.stopping) return this.reply(refusalReply(raw, shuttingDown()));
    if (!this.admitRate(raw, req)) return;
    if (!req) {
      this.reply({ id: salvageId(raw) ?? newUuid(), action: Actions.ERROR, error: this.toError(bad).toJSON() });
      if (++this.badFrames >= this.deps.config.maxBadFrames) this.ws.close(1008, "too many bad frames");
      return;
    }
    this.deps.metrics?.frameIn(req.action);
    this.badFrames = 0;
    const { id, action, params } = req;
    this.admission = this.admission.then(() => this.handle(id, action, params));
  }

  /** The per-socket request rate (acks of what was delivered are free: RequestRateGate.earnAck). */
  private admitRate(raw: unknown, req: RequestEnvelope | undefined): boolean {
    const verdict = this.gate.check(req ? ackItems(req) : 0);
    if (verdict === "ok") return true;
    this.reply(refusalReply(raw, tooManyRequests(this.deps.config.maxRequestsPerSecond)));
    if (verdict === "close") this.ws.close(1008, "too many requests");
    return false;
  }

  /**
   * Resolves once the request is admitted (validated, queued for commit); the reply follows when
   * it completes, so later requests are not held behind this one's commit.
   */
  private async handle(id: string, action: string, params: Record<string, unknown> | undefined): Promise<void> {
    const done = (data?: unknown) => this.reply(data === undefined ? { id, action } : { id, action, data });
    const fail = (e: unknown) => this.reply({ id, action, error: this.toError(e).toJSON() });
    const p = params ?? {};
    try {
      switch (action) {
        case Actions.LIST_PENDING_MESSAGES:
          // Read your own acks: what this socket acked before asking is not pushed again.
          if (this.acking?.size) await Promise.allSettled([...this.acking]);
          await this.subscribe(p);
          return done();
        case Actions.CREATE_MESSAGE: {
          const sent = this.deps.messaging.sendOne(this.who, params);
          this.track(sent.then((r) => done(sendAckView(r.message)), fail));
          return;
        }
        case Actions.CREATE_PLAIN_MESSAGES: {
          const sent = this.deps.messaging.sendBatch(this.who, p.messages, "plain");
          this.track(sent.then(() => done(), fail));
          return;
        }
        // Queued for the ack commit in arrival order, as sends are: the socket's next request does
        // not wait for this commit, so one socket's acks can share a transaction (a draining client
        // sends a frame of acks every few ms; waiting for each commit capped it at one frame per
        // commit interval).
        case Actions.ACKNOWLEDGE_MESSAGE_RECEIPT:
        case Actions.ACKNOWLEDGE_MESSAGE_RECEIPTS: {
          const items = action === Actions.ACKNOWLEDGE_MESSAGE_RECEIPT ? [p] : p.messages;
          const acked = this.deps.messaging.acknowledge(this.who, items).then(() => done(), fail);
          this.track(acked);
          holdUntilSettled((this.acking ??= new Set()), acked);
          return;
        }
        default:
          throw badRequest(`unknown action ${action}`);
      }
    } catch (e) {
      fail(e);
    }
  }

  private track(replied: Promise<unknown>): void {
    // Created on first use: most sockets of an idle fleet never send.
    holdUntilSettled((this.replying ??= new Set()), replied);
  }

  /**
   * Graceful stop: requests read from now on are refused (7000, not processed); wait until every
   * request admitted before has its reply written, so each is answered before the going-away close.
   */
  async quiesce(): Promise<void> {
    this.stopping = true;
    for (;;) {
      await this.admission;
      if (!this.replying || this.replying.size === 0) break;
      await Promise.allSettled([...this.replying]);
    }
  }

  private async subscribe(params: Record<string, unknown>): Promise<void> {
    let createdAfter: number | undefined;
    if (params.offset !== undefined && params.offset !== null && params.offset !== "") {
      createdAfter = typeof params.offset === "string" ? parseTimestampMicros(params.offset) : undefined;
      if (createdAfter === undefined) throw invalidField("offset", "offset must be an RFC 3339 timestamp");
    }
    // Every (re)subscription starts from the top: whatever is still unacked is pushed again.
    this.createdAfter = createdAfter;
    this.cursor = 0;
    this.caughtUp = false;
    this.backlogHighSeq = await this.deps.store.lastSeq();
    this.subscribed = true;
    setImmediate(() => void this.pump());
  }

  /**
   * A row just committed for this session (Gateway.inSequence vouches that every earlier row was
   * offered or is in the store). A caught-up socket with room pushes it at once; otherwise the
   * mailbox is read as for any wake-up.
   */
  offer(row: PendingMessage): void {
    if (!this.subscribed || row.seq <= this.cursor) return;
    if (this.caughtUp && !this.pumping && this.canSend() && (this.createdAfter === undefined || row.message.createdAt > this.createdAfter)) {
      this.push(row);
      return;
    }
    void this.pump();
  }

  /** New mail for this user, or room in the window again. */
  pump(): Promise<void> | void {
    if (!this.subscribed) return;
    // Until a read comes back short again, rows may be waiting in the store.
    this.caughtUp = false;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    return this.drainMailbox()
      .catch((e) => this.deps.log.error({ err: e, userId: this.who.userId }, "mailbox pump failed"))
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          if (this.canSend()) void this.pump();
          else this.stalled = true;
        }
      });
  }

  /**
   * Pushes mailbox rows until the mailbox is drained or flow control stops it; stopped, it marks
   * the connection stalled and the next flush (push or reply) resumes it. (Resuming on "was blocked,
   * now unblocked" within one send callback missed the moment bufferedAmount fell below the limit
   * between two callbacks: a paused reader then stalled until new mail arrived.)
   */
  private async drainMailbox(): Promise<void> {
    do {
      this.pumpAgain = false;
      for (;;) {
        if (!this.canSend()) return void (this.stalled = true);
        const rows = await this.deps.store.pendingMessages(this.who.userId, this.who.sessionId, this.cursor, PAGE, this.createdAfter);
        for (const row of rows) {
          if (!this.canSend()) return void (this.stalled = true);
          this.push(row);
        }
        if (rows.length < PAGE) break;
      }
    } while (this.pumpAgain);
    this.caughtUp = true;
  }

  private push(row: PendingMessage): void {
    const source = row.seq <= this.backlogHighSeq ? Sources.LIST_PENDING_MESSAGES : Sources.CREATE_MESSAGE;
    this.sendFrame(this.deps.frames.get(row.message, source));
    this.deps.metrics?.delivered(row.message.createdAt, source === Sources.CREATE_MESSAGE);
    this.cursor = row.seq;
  }

  /** Flow control: a slow reader slows only its own delivery; server memory stays bounded. */
  private canSend(): boolean {
    return (
      this.ws.readyState === this.ws.OPEN &&
      this.unflushed < this.deps.config.sendWindow &&
      this.ws.bufferedAmount < this.deps.config.maxBufferedBytes
    );
  }

  /**
   * Frames written in one tick (a commit's replies, a page of pushes, receipts) leave in one writev
   * instead of one syscall each (BENCHMARKS.md "Profile": writev was 9-13% of the server's time).
   */
  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(this.uncork);
  }

  private sendFrame(frame: Buffer): void {
    this.cork();
    this.unflushed++;
    this.gate.earnAck();
    this.ws.send(frame, { binary: true }, () => {
      this.unflushed--;
      this.flushed();
    });
  }

  pushReceipt(view: MessageView): void {
    if (!this.subscribed || this.ws.readyState !== this.ws.OPEN) return;
    // Receipts are best effort (protocol.md decision 7): dropped, not queued, when the socket is full.
    if (this.ws.bufferedAmount >= this.deps.config.maxBufferedBytes) return;
    // The Node SDK acks receipts too, so they earn ack credit like pushes.
    this.gate.earnAck();
    this.reply({ id: newUuid(), action: Actions.ACKNOWLEDGE_MESSAGE_RECEIPT, data: view });
  }

  private reply(message: BlazeMessage): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.cork();
    this.ws.send(encodeFrame(message, this.deps.config.compression), { binary: true }, this.flushed);
    this.backpressure.afterSend();
    this.deps.metrics?.frameOut(message.action, message.error?.code);
  }

  private toError(e: unknown): BlazeError {
    if (e instanceof BlazeError) return e;
    this.deps.log.error({ err: e, userId: this.who.userId }, "request failed");
    return new BlazeError(ErrorCodes.BLAZE_SERVER);
  }
}

/** Keeps `p` in `pending` until it settles. */
function holdUntilSettled(pending: Set<Promise<unknown>>, p: Promise<unknown>): void {
  pending.add(p);
  void p.finally(() => pending.delete(p));
}

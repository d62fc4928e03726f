import {
  Actions,
  BlazeError,
  ErrorCodes,
  Limits,
  invalidField,
  isPlainCategory,
  newUuid,
  parseKeystore,
  uniqueConversationId,
  type AppCardPayload,
  type AudioPayload,
  type BlazeMessage,
  type ButtonGroupPayload,
  type DataPayload,
  type FrameLimits,
  type ImagePayload,
  type LivePayload,
  type LocationPayload,
  type MessageView,
  type PayloadRules,
  type PinAction,
  type SessionCredentials,
  type StickerPayload,
  type VideoPayload,
} from "@openblaze/protocol";
import { AckManager, isTransient, type AckSender, type AckStatus, type BlazeAck } from "./blaze/acks.js";
import { Backoff, sleep, stripUndefined, type ReconnectBackoff } from "./blaze/backoff.js";
import { Connection, type DisconnectInfo, type OpenInfo } from "./blaze/connection.js";
import { LruDedup, NO_DEDUP, type DedupStore } from "./blaze/dedup.js";
import { Dispatcher } from "./blaze/dispatcher.js";
import { Emitter, toError } from "./blaze/events.js";
import { asReceipt, decodeMessage, isMessageView, type MessageReceipt, type ReceivedMessage, type SystemConversationMessage } from "./blaze/incoming.js";
import { OffsetTracker } from "./blaze/offset.js";
import { RequestTracker, type RequestOptions } from "./blaze/requests.js";
import { compose, toMessageParams, type MessageParams, type Outgoing, type SendOptions, type Target } from "./compose.js";
import { AuthError, ClosedError, TimeoutError } from "./errors.js";
import { Endpoints } from "./endpoints.js";

export { LruDedup, type DedupStore } from "./blaze/dedup.js";
export { LivenessError, type DisconnectInfo, type OpenInfo } from "./blaze/connection.js";
export type { AckSender, AckStatus, BlazeAck } from "./blaze/acks.js";
export type { ReconnectBackoff } from "./blaze/backoff.js";
export type { RequestOptions } from "./blaze/requests.js";
export type {
  MessageKind,
  MessageReceipt,
  PayloadKinds,
  RawMessage,
  ReceivedBase,
  ReceivedMessage,
  SystemConversationMessage,
  TypedMessage,
} from "./blaze/incoming.js";
export { decodeMessage } from "./blaze/incoming.js";

/** What a handler gets besides the message. */
export interface HandlerContext {
  client: BlazeClient;
  /**
   * Answers the message in its conversation, quoting nothing unless asked. In a 1:1 conversation
   * it addresses the sender; in a group it goes to the whole group.
   */
  reply(message: Outgoing, options?: BlazeSendOptions): Promise<BlazeSendResult>;
}

export type MessageHandler = (message: ReceivedMessage, context: HandlerContext) => unknown;

/** Handlers whose completion decides the ack (unlike `on(...)` listeners, which only observe). */
export interface BlazeHandlers {
  /** Every delivered message (SYSTEM_CONVERSATION too, unless `conversation` is given). */
  message?: MessageHandler;
  /** SYSTEM_CONVERSATION messages (membership changes). */
  conversation?: (message: SystemConversationMessage, context: HandlerContext) => unknown;
  /** Status receipts for messages we sent. Never acked: the server does not queue them. */
  receipt?: (receipt: MessageReceipt) => unknown;
}

export type AckPolicy = "after-handler" | "on-receipt" | "manual";

export interface BlazeClientOptions {
  /** Official keystore (`app_id`, `session_id`, `session_private_key`) or the legacy `client_id`/`private_key` form. */
  keystore: unknown;
  /**
   * WebSocket URL (default Endpoints.local.blazeUrl). A list fails over: after an attempt that
   * never opened, the next URL is tried (Endpoints.mixin then Endpoints.mixinZeromesh, like the
   * official apps). A function is asked before every attempt.
   */
  url?: string | readonly string[] | (() => string);
  handler?: MessageHandler | BlazeHandlers;
  /**
   * after-handler (default): ack once the handler resolved; a throwing handler means no ack, so
   * the server redelivers after the next reconnect. on-receipt: ack before handling (at most once).
   * manual: call client.ack().
   */
  ackPolicy?: AckPolicy;
  /** READ (default, what bots send) or DELIVERED. */
  ackStatus?: AckStatus;
  /**
   * "ws" (default): ACKNOWLEDGE_MESSAGE_RECEIPTS over this socket (falling back to one
   * ACKNOWLEDGE_MESSAGE_RECEIPT per message if the server refuses batches). Or a function that
   * delivers a batch some other way, e.g. HTTP POST /acknowledgements as the official apps do.
   */
  ackVia?: "ws" | AckSender;
  /** Acks per request, at most 100 (default 100). */
  ackBatchSize?: number;
  /** How long an ack waits for companions (default 100 ms). */
  ackFlushMs?: number;
  /** Default per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** WebSocket handshake timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Client pings (default every 10 s). */
  pingIntervalMs?: number;
  /** Drop a socket that delivered nothing, not even a pong, for this long (default 25 s). */
  readTimeoutMs?: number;
  backoff?: ReconnectBackoff;
  /** Messages held at once (handlers running + queued). Reads pause at the limit. Default 32. */
  maxInFlight?: number;
  /** Handled-message store ({has, add}, sync or async); default an in-memory LRU of 50,000 ids. false disables dedup. */
  dedup?: DedupStore | false;
  /**
   * Resume the backlog with LIST_PENDING_MESSAGES `offset` (the newest safely handled created_at),
   * so handled-but-unacked messages are not pushed again. Pass { offset } to continue from a value
   * saved from `client.offset` in an earlier run. Default off.
   */
  resume?: boolean | { offset?: string };
  /** Retries of a send on timeout, drop, 429 or 5xx, with the same message_id (default 5). */
  sendRetries?: number;
  /** Payload rules for the send helpers (APP_BUTTON_GROUP limit; openblaze allows up to 18). */
  payloadRules?: PayloadRules;
  /** How long close() waits for running handlers and the final ack flush (default 5 s). */
  closeTimeoutMs?: number;
  /** Subprotocols offered (default Mixin-Blaze-1). */
  protocols?: string[];
  /** Lifetime of the connection token (default 600 s; a fresh one is signed per connection). */
  tokenTtlSeconds?: number;
}

export type BlazeClientState = "idle" | "connecting" | "open" | "ready" | "reconnecting" | "closing" | "closed";

/** Where an "error" event came from. */
export interface ErrorContext {
  phase: "handler" | "listener" | "ack" | "frame" | "connection" | "dedup";
  message?: ReceivedMessage;
  acks?: BlazeAck[];
}

export interface ClosedInfo {
  /** "closed": close() was called. "auth": the server refused the keystore. */
  reason: "closed" | "auth";
  error?: Error;
}

// A type alias, not an interface: only aliases are assignable to the emitter's Record constraint.
export type BlazeClientEvents = {
  connecting: [info: { attempt: number; url: string }];
  open: [info: OpenInfo];
  /** The LIST_PENDING_MESSAGES reply arrived: backlog and live messages follow. */
  ready: [];
  reconnecting: [attempt: number, delayMs: number];
  disconnected: [info: DisconnectInfo];
  /** Stopped for good. */
  closed: [info: ClosedInfo];
  error: [error: Error, context: ErrorContext];
  /** Each new (not duplicate) message, in handling order, just before its handler. */
  message: [message: ReceivedMessage];
  conversation: [message: SystemConversationMessage];
  receipt: [receipt: MessageReceipt];
  /** Every decoded inbound frame, for logging and debugging. */
  frame: [frame: BlazeMessage];
}

export interface BlazeSendOptions extends SendOptions, RequestOptions {
  /** Overrides the client's sendRetries. */
  retries?: number;
}

export interface BlazeSendResult {
  messageId: string;
  conversationId: string;
  /** The server's reply (a MessageView with status SENT; openblaze leaves category and conversation empty, as apps expect). */
  view: MessageView | undefined;
}

export interface BlazeBatchItem {
  target: Target;
  message: Outgoing;
  options?: SendOptions;
}

export interface BlazeClientStats {
  state: BlazeClientState;
  /** Messages being handled or queued for a handler. */
  inFlight: number;
  /** Whether socket reads are paused for backpressure. */
  paused: boolean;
  pendingAcks: number;
  /** ACKNOWLEDGE batches sent (or handed to ackVia). */
  ackRequests: number;
  pendingRequests: number;
  /** Connections opened so far. */
  connections: number;
}

const CLIENT_FRAME_LIMITS: FrameLimits = {
  // A 128 KB payload appears twice in base64 (data and data_base64) and may not compress (encrypted
  // categories), so server frames can exceed the 128 KiB the server accepts from clients.
  maxFrameBytes: 4 * 1024 * 1024,
  maxInflatedBytes: 8 * 1024 * 1024,
};

/**
 * The Blaze WebSocket client: a connection manager (fresh token per connection, backoff with
 * jitter, stop on 401, client pings with a read deadline), promise requests correlated by id,
 * typed receive with dedup and per-conversation ordering, batched acks, and sends with retries.
 */
export class BlazeClient {
  readonly userId: string;
  readonly sessionId: string;
  private readonly events = new Emitter<BlazeClientEvents>((error) => this.events.emit("error", error, { phase: "listener" }));
  private readonly creds: SessionCredentials;
  private readonly handlers: BlazeHandlers;
  private readonly ackPolicy: AckPolicy;
  private readonly ackStatus: AckStatus;
  private readonly requestTimeoutMs: number;
  private readonly sendRetries: number;
  private readonly closeTimeoutMs: number;
  private readonly backoffOptions: ReconnectBackoff;
  private readonly payloadRules: PayloadRules | undefined;
  private readonly dedup: DedupStore;
  private readonly resume: OffsetTracker | undefined;
  private readonly connection: Connection;
  private readonly tracker: RequestTracker;
  private readonly dispatcher: Dispatcher<ReceivedMessage>;
  private readonly acks: AckManager;
  private currentState: BlazeClientState = "idle";
  private started = false;
  private accepting = true;
  private closing: Promise<void> | undefined;
  private finalError: Error | undefined;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** The server refused ACKNOWLEDGE_MESSAGE_RECEIPTS once: ack one by one from then on. */
  private singleAcks = false;
  private connections = 0;

  constructor(options: BlazeClientOptions) {
    // Fail loudly now: NODE signs an empty token for a bad keystore and then reconnects forever.
    this.creds = parseKeystore(options.keystore);
    this.userId = this.creds.userId;
    this.sessionId = this.creds.sessionId;
    this.handlers = typeof options.handler === "function" ? { message: options.handler } : { ...options.handler };
    this.ackPolicy = options.ackPolicy ?? "after-handler";
    this.ackStatus = options.ackStatus ?? "READ";
    this.requestTimeoutMs = positive(options.requestTimeoutMs, 10_000, "requestTimeoutMs");
    this.sendRetries = Math.max(0, Math.trunc(options.sendRetries ?? 5));
    this.closeTimeoutMs = positive(options.closeTimeoutMs, 5_000, "closeTimeoutMs");
    this.backoffOptions = stripUndefined(options.backoff ?? {});
    this.payloadRules = options.payloadRules;
    this.dedup = options.dedup === false ? NO_DEDUP : (options.dedup ?? new LruDedup());
    if (options.resume) this.resume = new OffsetTracker(typeof options.resume === "object" ? options.resume.offset : undefined);

    this.connection = new Connection(
      {
        url: urlPicker(options.url ?? Endpoints.local.blazeUrl),
        creds: this.creds,
        protocols: options.protocols ?? ["Mixin-Blaze-1"],
        connectTimeoutMs: positive(options.connectTimeoutMs, 10_000, "connectTimeoutMs"),
        pingIntervalMs: positive(options.pingIntervalMs, 10_000, "pingIntervalMs"),
        readTimeoutMs: positive(options.readTimeoutMs, 25_000, "readTimeoutMs"),
        tokenTtlSeconds: positive(options.tokenTtlSeconds, 600, "tokenTtlSeconds"),
        backoff: new Backoff(this.backoffOptions),
        frameLimits: CLIENT_FRAME_LIMITS,
      },
      {
        connecting: (info) => {
          this.currentState = "connecting";
          this.events.emit("connecting", info);
        },
        open: (info) => this.onOpen(info),
        frame: (frame) => this.onFrame(frame),
        disconnected: (info) => this.onDisconnected(info),
        reconnecting: (attempt, delayMs) => {
          this.currentState = "reconnecting";
          this.events.emit("reconnecting", attempt, delayMs);
        },
        authFailed: (error) => this.onAuthFailed(error),
        error: (error) => this.events.emit("error", error, { phase: "connection" }),
      },
    );
    this.tracker = new RequestTracker((frame) => this.connection.send(frame));
    this.dispatcher = new Dispatcher<ReceivedMessage>({
      maxInFlight: Math.trunc(positive(options.maxInFlight, 32, "maxInFlight")),
      run: (message) => this.handle(message),
      pressure: (saturated) => this.connection.setPaused(saturated && this.accepting),
    });
    const ackVia = options.ackVia ?? "ws";
    this.acks = new AckManager({
      send: ackVia === "ws" ? (batch) => this.sendAcksOverWs(batch) : ackVia,
      batchSize: Math.min(Limits.MAX_BATCH, Math.trunc(positive(options.ackBatchSize, Limits.MAX_BATCH, "ackBatchSize"))),
      flushMs: positive(options.ackFlushMs, 100, "ackFlushMs"),
      concurrency: 4,
      onError: (error, acks) => this.events.emit("error", error, { phase: "ack", acks }),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  get state(): BlazeClientState {
    return this.currentState;
  }

  /**
   * Starts the connection (idempotent). Resolves when the first LIST_PENDING_MESSAGES reply
   * arrives; transient failures are retried with backoff meanwhile. Rejects with AuthError when
   * the keystore is refused, or ClosedError when close() comes first.
   */
  connect(): Promise<void> {
    if (this.finalError) return Promise.reject(this.finalError);
    if (this.currentState === "ready") return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    if (!this.started) {
      this.started = true;
      this.connection.start();
    }
    return ready;
  }

  /**
   * Stops for good: no reconnect ever after. Stops taking new messages (undispatched ones were
   * not acked, so the server keeps them), waits for running handlers, flushes pending acks, closes
   * the socket cleanly and fails outstanding requests with ClosedError. Bounded by closeTimeoutMs.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasStarted = this.started;
    this.started = true;
    this.accepting = false;
    this.finalError ??= new ClosedError("client closed");
    if (this.currentState !== "closed") this.currentState = "closing";
    this.connection.stopReconnecting();
    // Reads must flow again so the replies to our final acks can arrive.
    this.connection.setPaused(false);
    if (!this.connection.isOpen) this.tracker.failQueued(new ClosedError("client closed while disconnected"));
    if (wasStarted) {
      // One deadline for both steps; cleared after, so close() leaves no timer holding the process.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.closeTimeoutMs)));
      await Promise.race([this.dispatcher.stop(), deadline]);
      await Promise.race([this.acks.drain(), deadline]);
      clearTimeout(timer);
    }
    this.acks.stop();
    await this.connection.stop();
    this.tracker.failAll(this.finalError);
    this.settleReady(this.finalError);
    if (this.currentState !== "closed") {
      this.currentState = "closed";
      this.events.emit("closed", { reason: "closed" });
    }
  }

  /** Listens to a lifecycle or message event; returns the function that unsubscribes. */
  on<K extends keyof BlazeClientEvents & string>(event: K, listener: (...args: BlazeClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  once<K extends keyof BlazeClientEvents & string>(event: K, listener: (...args: BlazeClientEvents[K]) => void): () => void {
    return this.events.once(event, listener);
  }

  /** The LIST_PENDING_MESSAGES offset to save for `resume: { offset }` next run (with resume on). */
  get offset(): string | undefined {
    return this.resume?.offset;
  }

  stats(): BlazeClientStats {
    return {
      state: this.currentState,
      inFlight: this.dispatcher.inFlight,
      paused: this.connection.isPaused,
      pendingAcks: this.acks.pending,
      ackRequests: this.acks.requests,
      pendingRequests: this.tracker.size,
      connections: this.connections,
    };
  }

  private onOpen(info: OpenInfo): void {
    this.connections++;
    this.currentState = "open";
    this.events.emit("open", info);
    // The docs require LIST_PENDING_MESSAGES first; it is the subscription, so it goes out before
    // anything that waited for this socket.
    const offset = this.resume?.offset;
    const frame: BlazeMessage = { id: newUuid(), action: Actions.LIST_PENDING_MESSAGES };
    if (offset) frame.params = { offset };
    this.tracker.request(frame, this.requestTimeoutMs).then(
      () => {
        if (this.currentState !== "open") return;
        this.currentState = "ready";
        this.events.emit("ready");
        this.settleReady();
        this.acks.kick();
      },
      (e: Error) => {
        if (e instanceof AuthError || e instanceof ClosedError) return;
        // Without a subscription the socket carries no messages: redial with backoff.
        this.events.emit("error", e, { phase: "connection" });
        this.connection.drop("LIST_PENDING_MESSAGES failed");
      },
    );
    this.tracker.flushQueued();
  }

  private onDisconnected(info: DisconnectInfo): void {
    this.tracker.failSent(new ClosedError(`connection closed (${info.code}${info.reason ? ` ${info.reason}` : ""})`));
    if (!this.connection.isStopped && this.currentState !== "closing") this.currentState = "reconnecting";
    this.events.emit("disconnected", info);
  }

  private onAuthFailed(error: AuthError): void {
    this.finalError = error;
    this.accepting = false;
    this.currentState = "closed";
    this.events.emit("error", error, { phase: "connection" });
    this.tracker.failAll(error);
    this.acks.stop();
    void this.dispatcher.stop();
    this.settleReady(error);
    this.events.emit("closed", { reason: "auth", error });
  }

  private settleReady(error?: Error): void {
    for (const w of this.readyWaiters.splice(0)) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  /**
   * Sends any action and resolves with the server's reply frame (correlated by id). Rejects with
   * the typed error from an error reply, TimeoutError, ClosedError if the socket drops after the
   * request was written (or before connect()), or the signal's reason. Between connect() and the
   * socket opening (or while reconnecting) it waits for the socket, within its timeout.
   */
  request(action: string, params?: unknown, options: RequestOptions = {}): Promise<BlazeMessage> {
    // Not connecting on our own: a socket subscribes (LIST_PENDING_MESSAGES), and a client without
    // a handler would then ack, i.e. consume, messages nobody looked at.
    if (!this.started) return Promise.reject(new ClosedError("not connected: call connect() first"));
    if (this.closing && !this.connection.isOpen) return Promise.reject(this.finalError ?? new ClosedError("client closed"));
    const frame: BlazeMessage = { id: newUuid(), action };
    if (params !== undefined) frame.params = params;
    return this.tracker.request(frame, options.timeoutMs ?? this.requestTimeoutMs, options.signal);
  }

  // -------------------------------------------------------------------------------------------
  // Receive
  // -------------------------------------------------------------------------------------------

  private onFrame(frame: BlazeMessage): void {
    this.events.emit("frame", frame);
    if (this.tracker.settle(frame)) return;
    if (frame.error) {
      // An error nobody waits for (a request that already timed out, or a bad-frame report).
      this.events.emit("error", BlazeError.fromBody(frame.error), { phase: "frame" });
      return;
    }
    const receipt = asReceipt(frame.action, frame.data);
    if (receipt) return this.onReceipt(receipt);
    if (frame.action === Actions.CREATE_MESSAGE && isMessageView(frame.data)) {
      if (!this.accepting) return; // closing: leave it unacked, the server keeps it
      const message = decodeMessage(frame.data);
      this.resume?.received(message.messageId, message.createdAt);
      if (this.ackPolicy === "on-receipt") this.acks.add(message.messageId, this.ackStatus);
      this.dispatcher.push(message.conversationId, message);
    }
    // Anything else (a late send reply, calls, unknown actions) is only visible as a "frame" event.
  }

  private onReceipt(receipt: MessageReceipt): void {
    this.events.emit("receipt", receipt);
    const handler = this.handlers.receipt;
    if (!handler) return;
    try {
      const r = handler(receipt);
      if (isPromiseLike(r)) r.then(undefined, (e: unknown) => this.events.emit("error", toError(e), { phase: "handler" }));
    } catch (e) {
      this.events.emit("error", toError(e), { phase: "handler" });
    }
  }

  /** Runs in the dispatcher: serially per conversation. Never rejects. */
  private async handle(message: ReceivedMessage): Promise<void> {
    const id = message.messageId;
    let seen = false;
    try {
      seen = await this.dedup.has(id);
    } catch (e) {
      // A broken dedup store must not stop delivery: at-least-once beats at-most-never.
      this.events.emit("error", toError(e), { phase: "dedup", message });
    }
    if (seen) {
      // Handled before, so its ack was lost (or is still queued): ack again, skip the handler.
      if (this.ackPolicy === "after-handler") this.acks.add(id, this.ackStatus);
      this.resume?.handled(id, message.createdAt);
      return;
    }
    this.events.emit("message", message);
    if (message.kind === "system_conversation") this.events.emit("conversation", message);
    try {
      const context = this.contextFor(message);
      if (message.kind === "system_conversation" && this.handlers.conversation) await this.handlers.conversation(message, context);
      else await this.handlers.message?.(message, context);
    } catch (e) {
      // Not acked, so the server redelivers it after the next reconnect; never added to dedup, so
      // that redelivery runs the handler again.
      this.events.emit("error", toError(e), { phase: "handler", message });
      // on-receipt already acked it: the server will not send it again, so it must not pin the offset.
      if (this.ackPolicy === "on-receipt") this.resume?.handled(id, message.createdAt);
      return;
    }
    // Remembered before the ack goes out: once the server forgets it, a copy must be recognised.
    await this.dedupCall(() => this.dedup.add(id), message);
    if (this.ackPolicy === "after-handler") this.acks.add(id, this.ackStatus);
    this.resume?.handled(id, message.createdAt);
  }

  private async dedupCall(fn: () => void | Promise<void>, message: ReceivedMessage): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.events.emit("error", toError(e), { phase: "dedup", message });
    }
  }

  private contextFor(message: ReceivedMessage): HandlerContext {
    return {
      client: this,
      reply: (out, options) => {
        // A 1:1 conversation has the derived id: address the sender. Otherwise it is a group.
        const direct = message.userId !== "" && uniqueConversationId(this.userId, message.userId) === message.conversationId;
        const target: Target = direct ? { conversationId: message.conversationId, recipientId: message.userId } : { conversationId: message.conversationId };
        return this.send(target, out, options);
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Acks
  // -------------------------------------------------------------------------------------------

  /** Queues an ack (batched, retried until confirmed). For ackPolicy "manual", or to mark READ later. */
  ack(messageId: string, status: AckStatus = this.ackStatus): void {
    if (status !== "READ" && status !== "DELIVERED") throw invalidField("status", "status must be DELIVERED or READ");
    this.acks.add(messageId, status);
  }

  /** Sends queued acks now; resolves once the server confirmed all of them. */
  flushAcks(): Promise<void> {
    return this.acks.flush();
  }

  private async sendAcksOverWs(batch: BlazeAck[]): Promise<void> {
    if (!this.singleAcks) {
      try {
        await this.request(Actions.ACKNOWLEDGE_MESSAGE_RECEIPTS, { messages: batch });
        return;
      } catch (e) {
        // The batch action is an openblaze/app extension (protocol.md §3.7, open question 12): a
        // server that does not know it may refuse it (400, 404) or never answer. Try the documented
        // one-by-one action; if that works, stay with it.
        const refused = e instanceof BlazeError && (e.code === ErrorCodes.BAD_REQUEST || e.code === ErrorCodes.NOT_FOUND);
        if (!refused && !(e instanceof TimeoutError)) throw e;
        await Promise.all(batch.map((a) => this.request(Actions.ACKNOWLEDGE_MESSAGE_RECEIPT, a)));
        this.singleAcks = true;
        return;
      }
    }
    await Promise.all(batch.map((a) => this.request(Actions.ACKNOWLEDGE_MESSAGE_RECEIPT, a)));
  }

  // -------------------------------------------------------------------------------------------
  // Send
  // -------------------------------------------------------------------------------------------

  /**
   * CREATE_MESSAGE with a message_id that stays the same across retries (timeouts, drops, 429,
   * 5xx), so a retry never duplicates. 403 and 10002 are final and reject at once.
   */
  async send(target: Target, message: Outgoing, options: BlazeSendOptions = {}): Promise<BlazeSendResult> {
    const params: MessageParams = toMessageParams(this.userId, target, message, options);
    const reply = await this.withRetries(() => this.request(Actions.CREATE_MESSAGE, params, options), options);
    return { messageId: params.message_id, conversationId: params.conversation_id, view: reply.data as MessageView | undefined };
  }

  sendText(target: Target, text: string, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.text(text), options);
  }

  sendPost(target: Target, markdown: string, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.post(markdown), options);
  }

  sendImage(target: Target, image: ImagePayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.image(image), options);
  }

  sendVideo(target: Target, video: VideoPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.video(video), options);
  }

  sendAudio(target: Target, audio: AudioPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.audio(audio), options);
  }

  sendData(target: Target, data: DataPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.data(data), options);
  }

  sendSticker(target: Target, sticker: StickerPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.sticker(sticker), options);
  }

  sendContact(target: Target, userId: string, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.contact(userId), options);
  }

  sendButtons(target: Target, buttons: ButtonGroupPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.buttons(buttons, this.payloadRules), options);
  }

  sendCard(target: Target, card: AppCardPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.card(card, this.payloadRules), options);
  }

  sendLive(target: Target, live: LivePayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.live(live), options);
  }

  sendLocation(target: Target, location: LocationPayload, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.location(location), options);
  }

  sendRecall(target: Target, messageId: string, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.recall(messageId), options);
  }

  sendPin(target: Target, action: PinAction, messageIds: string[], options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.composeAndSend(target, () => compose.pin(action, messageIds), options);
  }

  /** Validation errors become rejections, like every other failure of a send. */
  private async composeAndSend(target: Target, build: () => Outgoing, options?: BlazeSendOptions): Promise<BlazeSendResult> {
    return this.send(target, build(), options);
  }

  /**
   * CREATE_PLAIN_MESSAGES in chunks of 100, in order, each retried like send(). PLAIN_* only: any
   * other category is refused (10002 naming its index) before anything is sent. Resolves with the
   * message ids in input order.
   */
  async sendBatch(items: readonly BlazeBatchItem[], options: RequestOptions & { retries?: number } = {}): Promise<string[]> {
    items.forEach((item, index) => {
      if (!isPlainCategory(item.message.category)) {
        throw new BlazeError(ErrorCodes.INVALID_FIELD, {
          field: "category",
          reason: `CREATE_PLAIN_MESSAGES accepts PLAIN_* only, item ${index} is ${item.message.category}`,
          index,
        });
      }
    });
    const all = items.map((item) => toMessageParams(this.userId, item.target, item.message, item.options));
    for (let at = 0; at < all.length; at += Limits.MAX_BATCH) {
      const chunk = all.slice(at, at + Limits.MAX_BATCH);
      await this.withRetries(() => this.request(Actions.CREATE_PLAIN_MESSAGES, { messages: chunk }, options), options);
    }
    return all.map((p) => p.message_id);
  }

  private async withRetries<T>(attempt: () => Promise<T>, options: { retries?: number; signal?: AbortSignal }): Promise<T> {
    const retries = Math.max(0, Math.trunc(options.retries ?? this.sendRetries));
    const backoff = new Backoff({ ...this.backoffOptions, resetAfterMs: 0 });
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        const error = toError(e);
        // After close() or a 401 nothing will ever succeed: fail now rather than after the backoff.
        if (n >= retries || !this.started || this.finalError !== undefined || options.signal?.aborted || !isRetryable(error)) throw error;
        await sleep(backoff.next()[1], options.signal);
      }
    }
  }
}

function isRetryable(error: Error): boolean {
  if (error instanceof TimeoutError || error instanceof ClosedError) return true;
  if (error instanceof BlazeError) return isTransient(error);
  return false;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number`);
  return value;
}

/** The URL for the next attempt: a list advances after every attempt that never opened. */
function urlPicker(url: string | readonly string[] | (() => string)): (failures: number) => string {
  if (typeof url === "function") return () => url();
  if (typeof url === "string") return () => url;
  if (url.length === 0) throw new TypeError("url list is empty");
  return (failures) => url[failures % url.length]!;
}

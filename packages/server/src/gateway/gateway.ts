import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { Actions, BlazeError, ErrorCodes, KNOWN_SUBPROTOCOLS, encodeFrame, newUuid } from "@openblaze/protocol";
import { LocalBus, type Bus, type BusEvent } from "../bus/bus.js";
import type { Authenticator } from "../core/auth.js";
import type { Identity } from "../core/identity.js";
import type { Revocation } from "../store/store.js";
import { Connection, type ConnectionDeps } from "./connection.js";
import { SessionSocketCounter } from "./limits.js";
import { upgradeAuthorization } from "./upgrade-auth.js";

/** The keep-alive round is spread over this many ticks per ping interval. */
const HEARTBEAT_SLICES = 20;

/**
 * The Blaze WebSocket endpoint at `/`, sharing the HTTP port (ws in noServer mode). Auth failures
 * are told in-band, as official apps expect: one ERROR frame with 401, then close 1008.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly perSession: SessionSocketCounter;
  private readonly timer: NodeJS.Timeout;
  /** The keep-alive round in progress: the sockets open when it began, and the next to visit. */
  private round: { sockets: Connection[]; next: number } = { sockets: [], next: 0 };
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly unwatchHealth: () => void;
  /** Set while the bus is unhealthy: mailboxes are polled instead of waiting for wake-ups. */
  private polling: NodeJS.Timeout | undefined;
  /** Identifies the current polling loop, so a round finishing after a stop/start does not fork a second one. */
  private pollLoop: object | undefined;
  private closed = false;
  /** Whether committed rows may be pushed without a read (see inSequence). */
  private offering: boolean;
  /** The mailbox seq the next commit must start at for its rows to be offered. */
  private nextSeq: number | undefined;

  constructor(
    private readonly auth: Authenticator,
    bus: Bus,
    private readonly deps: ConnectionDeps,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // ws enforces this before buffering a frame; decodeFrame reports smaller overruns in-band.
      maxPayload: Math.max(deps.config.frameLimits.maxFrameBytes * 32, 4 * 1024 * 1024),
      handleProtocols: (offered) => KNOWN_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
    this.perSession = new SessionSocketCounter(deps.config.maxSocketsPerSession);
    this.offering = bus instanceof LocalBus;
    this.wss.on("headers", (headers) => headers.push(`X-Server-Time: ${BigInt(Date.now()) * 1_000_000n}`));
    this.timer = setInterval(() => this.heartbeat(), Math.max(1, Math.floor(deps.config.pingIntervalMs / HEARTBEAT_SLICES)));
    this.timer.unref();
    this.unsubscribe = bus.subscribe((e) => this.onBus(e));
    this.unwatchHealth = bus.onHealthChange((healthy) => this.onBusHealth(healthy));
    if (!bus.healthy) this.startPolling();
    // Safety net for wake-ups lost without the bus noticing, or pumps that failed on a store error.
    if (deps.config.mailboxSweepMs > 0) {
      this.sweeper = setInterval(() => void this.pumpAll(), deps.config.mailboxSweepMs);
      this.sweeper.unref();
    }
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/" && path !== "") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    // A shared listener: a closure made here would hold this call's scope, the upgrade request and
    // its headers included, for as long as the socket lives (about 3 KiB per idle socket).
    socket.on("error", this.onUpgradeSocketError);
    this.auth
      .authenticate({ authorization: upgradeAuthorization(req), method: "GET", uri: "/", body: "" })
      .then(
        (who) => this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, who)),
        (e: unknown) => this.wss.handleUpgrade(req, socket, head, (ws) => this.refuse(ws, e)),
      );
  }

  private readonly onUpgradeSocketError = (err: Error) => this.deps.log.debug({ err }, "upgrade socket error");

  private refuse(ws: WebSocket, e: unknown): void {
    const error = e instanceof BlazeError ? e : new BlazeError(ErrorCodes.UNAUTHORIZED);
    if (!(e instanceof BlazeError)) this.deps.log.error({ err: e }, "auth failed unexpectedly");
    // debug, not info: a reconnect storm with a bad token (client-anchors.md §2.3) would flood the log.
    this.deps.log.debug({ reason: error.extra?.reason, code: error.code }, "websocket refused");
    this.deps.metrics?.authFailed(error.extra?.reason, "ws", error.code);
    this.deps.metrics?.frameOut(Actions.ERROR, error.code);
    ws.send(encodeFrame({ id: newUuid(), action: Actions.ERROR, error: error.toJSON() }, this.deps.config.compression), { binary: true });
    ws.close(1008, error.code === ErrorCodes.UNAUTHORIZED ? "unauthorized" : "refused");
  }

  private accept(ws: WebSocket, socket: Duplex, who: Identity): void {
    // An upgrade whose auth finished after close() began: nothing would ever close it.
    if (this.closed) return void ws.close(1001, "server shutting down");
    // Revoked between its authentication and now (the revocation's sockets were closed already).
    if (this.auth.isRevoked(who)) return this.refuse(ws, new BlazeError(ErrorCodes.UNAUTHORIZED, { reason: "session revoked" }));
    if (!this.perSession.tryAdd(who.sessionId)) {
      const max = this.deps.config.maxSocketsPerSession;
      return this.refuse(ws, new BlazeError(ErrorCodes.TOO_MANY_REQUESTS, { reason: `more than ${max} open sockets for this session` }));
    }
    const conn = new Connection(ws, socket, who, this.deps);
    let set = this.byUser.get(who.userId);
    if (!set) this.byUser.set(who.userId, (set = new Set()));
    set.add(conn);
    ws.on("error", (err) => this.deps.log.debug({ err, userId: who.userId }, "websocket error"));
    this.deps.metrics?.connected();
    ws.on("close", (code) => {
      this.deps.metrics?.disconnected(code);
      this.perSession.remove(who.sessionId);
      set.delete(conn);
      if (set.size === 0 && this.byUser.get(who.userId) === set) this.byUser.delete(who.userId);
    });
  }

  private onBus(e: BusEvent): void {
    if (e.type === "mail") {
      if (e.rows && e.seqs && this.inSequence(e.seqs)) {
        for (const row of e.rows) for (const c of this.byUser.get(row.userId) ?? []) if (c.who.sessionId === row.sessionId) c.offer(row);
      } else {
        for (const userId of e.userIds) for (const c of this.byUser.get(userId) ?? []) void c.pump();
      }
    } else if (e.type === "receipt") {
      for (const c of this.byUser.get(e.userId) ?? []) c.pushReceipt(e.view);
    } else {
      void this.pumpAll();
    }
  }

  /**
   * Offering just-committed rows to caught-up sockets is only safe if every earlier row reached
   * this gateway first: a socket's cursor must never jump past a row it was not given. That holds
   * when this process is the only writer (LocalBus) and its commits arrive gap-free in seq order
   * (each stored message takes the next seq, so a gap is a message this gateway never heard of);
   * the first gap (another process writing the same database, say) switches offering off for good.
   */
  private inSequence(seqs: { first: number; last: number }): boolean {
    if (!this.offering) return false;
    const expected = this.nextSeq;
    this.nextSeq = seqs.last + 1;
    // The first commit seen: whatever came before it is in the store, where reads find it.
    if (expected === undefined) return false;
    if (seqs.first === expected) return true;
    this.offering = false;
    this.deps.log.warn({ expected, first: seqs.first, last: seqs.last }, "mailbox seqs from another writer: sockets read every wake-up from the store from now on");
    return false;
  }

  /**
   * Bus down: wake-ups may be lost, so poll every subscribed session's mailbox until it is back.
   * Bus back: one catch-up read of every mailbox covers what was accepted while it was down.
   */
  private onBusHealth(healthy: boolean): void {
    if (this.closed) return;
    if (healthy) {
      this.stopPolling();
      this.deps.log.info({ connections: this.connectionCount }, "bus healthy: catching up every mailbox");
      void this.pumpAll();
    } else {
      this.deps.log.warn({ connections: this.connectionCount, intervalMs: this.deps.config.busPollIntervalMs }, "bus unhealthy: polling mailboxes");
      this.startPolling();
    }
  }

  private startPolling(): void {
    if (this.polling || this.closed) return;
    const loop = {};
    this.pollLoop = loop;
    // A round starts only after the previous one finished, so a slow store is not piled onto.
    const round = () => {
      this.polling = setTimeout(() => {
        void this.pumpAll().finally(() => {
          if (this.pollLoop === loop) round();
        });
      }, this.deps.config.busPollIntervalMs);
      this.polling.unref();
    };
    round();
  }

  private stopPolling(): void {
    clearTimeout(this.polling);
    this.polling = undefined;
    this.pollLoop = undefined;
  }

  /** Reads every subscribed session's mailbox past its cursor (pushes nothing twice). */
  async pumpAll(): Promise<void> {
    const pumps: Promise<void>[] = [];
    for (const set of this.byUser.values()) {
      for (const c of set) {
        const p = c.pump();
        if (p) pumps.push(p);
      }
    }
    await Promise.all(pumps);
  }

  /**
   * One slice of the keep-alive round: every socket is pinged (or, silent too long, terminated)
   * once per interval, a twentieth of them at a time. All at once held the event loop for a ping
   * per socket: at 1,000 sockets a 60 ms stall every 10 s in the latency workload's tail.
   */
  private heartbeat(): void {
    if (this.round.next >= this.round.sockets.length) this.round = { sockets: [...this.byUser.values()].flatMap((set) => [...set]), next: 0 };
    const { sockets } = this.round;
    const end = Math.min(sockets.length, this.round.next + Math.ceil(sockets.length / HEARTBEAT_SLICES));
    const deadline = Date.now() - this.deps.config.idleTimeoutMs;
    for (; this.round.next < end; this.round.next++) {
      const c = sockets[this.round.next]!;
      if (c.lastSeen < deadline) c.ws.terminate();
      else if (c.ws.readyState === c.ws.OPEN) c.ws.ping();
    }
  }

  /**
   * A session was revoked, or (sessionId "") its user disabled: each of its open sockets gets one
   * ERROR 401 frame and close 1008, like a refused token (protocol.md decision 1).
   */
  closeRevoked(r: Pick<Revocation, "userId" | "sessionId">): number {
    const reason = r.sessionId === "" ? "account disabled" : "session revoked";
    let n = 0;
    for (const c of this.byUser.get(r.userId) ?? []) {
      if (r.sessionId !== "" && c.who.sessionId !== r.sessionId) continue;
      if (c.ws.readyState !== c.ws.OPEN) continue;
      const error = new BlazeError(ErrorCodes.UNAUTHORIZED, { reason });
      c.ws.send(encodeFrame({ id: newUuid(), action: Actions.ERROR, error: error.toJSON() }, this.deps.config.compression), { binary: true });
      this.deps.metrics?.frameOut(Actions.ERROR, error.code);
      c.ws.close(1008, "unauthorized");
      n++;
    }
    if (n > 0) this.deps.log.info({ userId: r.userId, sessionId: r.sessionId || undefined, sockets: n }, "closed sockets of a revoked session");
    return n;
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /** Going-away close for every socket; clients reconnect elsewhere or later. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.sweeper);
    this.stopPolling();
    this.unsubscribe();
    this.unwatchHealth();
    // Requests already read get their replies before the going-away close (at most 2 s).
    const all = [...this.byUser.values()].flatMap((set) => [...set]);
    await Promise.race([Promise.all(all.map((c) => c.quiesce())), new Promise((r) => setTimeout(r, 2000).unref())]);
    const closing: Promise<void>[] = [];
    for (const set of this.byUser.values()) {
      for (const c of set) {
        closing.push(new Promise((r) => c.ws.once("close", () => r())));
        c.ws.close(1001, "server shutting down");
        setTimeout(() => c.ws.terminate(), 2000).unref();
      }
    }
    await Promise.all(closing);
    this.wss.close();
  }
}

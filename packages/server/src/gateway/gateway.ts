import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { Actions, BlazeError, ErrorCodes, KNOWN_SUBPROTOCOLS, encodeFrame, newUuid } from "@openblaze/protocol";
import type { Bus, BusEvent } from "../bus/bus.js";
import type { Authenticator } from "../core/auth.js";
import type { Identity } from "../core/identity.js";
import { Connection, type ConnectionDeps } from "./connection.js";

/**
 * The Blaze WebSocket endpoint at `/`, sharing the HTTP port (ws in noServer mode). Auth failures
 * are told in-band, as official apps expect: one ERROR frame with 401, then close 1008.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

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
    this.wss.on("headers", (headers) => headers.push(`X-Server-Time: ${BigInt(Date.now()) * 1_000_000n}`));
    this.timer = setInterval(() => this.heartbeat(), deps.config.pingIntervalMs);
    this.timer.unref();
    this.unsubscribe = bus.subscribe((e) => this.onBus(e));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/" && path !== "") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    socket.on("error", (err) => this.deps.log.debug({ err }, "upgrade socket error"));
    this.auth
      .authenticate({ authorization: req.headers.authorization, method: "GET", uri: "/", body: "" })
      .then(
        (who) => this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, who)),
        (e: unknown) => this.wss.handleUpgrade(req, socket, head, (ws) => this.refuse(ws, e)),
      );
  }

  private refuse(ws: WebSocket, e: unknown): void {
    const error = e instanceof BlazeError ? e : new BlazeError(ErrorCodes.UNAUTHORIZED);
    if (!(e instanceof BlazeError)) this.deps.log.error({ err: e }, "auth failed unexpectedly");
    this.deps.log.info({ reason: error.extra?.reason }, "websocket auth refused");
    ws.send(encodeFrame({ id: newUuid(), action: Actions.ERROR, error: error.toJSON() }, this.deps.config.compression), { binary: true });
    ws.close(1008, "unauthorized");
  }

  private accept(ws: WebSocket, who: Identity): void {
    const conn = new Connection(ws, who, this.deps);
    let set = this.byUser.get(who.userId);
    if (!set) this.byUser.set(who.userId, (set = new Set()));
    set.add(conn);
    ws.on("error", (err) => this.deps.log.debug({ err, userId: who.userId }, "websocket error"));
    ws.on("close", () => {
      set.delete(conn);
      if (set.size === 0 && this.byUser.get(who.userId) === set) this.byUser.delete(who.userId);
    });
  }

  private onBus(e: BusEvent): void {
    if (e.type === "mail") {
      for (const userId of e.userIds) for (const c of this.byUser.get(userId) ?? []) void c.pump();
    } else {
      for (const c of this.byUser.get(e.userId) ?? []) c.pushReceipt(e.view);
    }
  }

  private heartbeat(): void {
    const deadline = Date.now() - this.deps.config.idleTimeoutMs;
    for (const set of this.byUser.values()) {
      for (const c of set) {
        if (c.lastSeen < deadline) c.ws.terminate();
        else if (c.ws.readyState === c.ws.OPEN) c.ws.ping();
      }
    }
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /** Going-away close for every socket; clients reconnect elsewhere or later. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
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

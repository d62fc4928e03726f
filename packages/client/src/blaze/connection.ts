import { WebSocket } from "ws";
import {
  ErrorCodes,
  decodeFrame,
  encodeFrame,
  signToken,
  type BlazeMessage,
  type FrameLimits,
  type SessionCredentials,
} from "@openblaze/protocol";
import { AuthError } from "../errors.js";
import { Backoff } from "./backoff.js";

export interface ConnectionOptions {
  /** Picks the URL for the next attempt; `failures` counts attempts in a row that never opened. */
  url: (failures: number) => string;
  creds: SessionCredentials;
  protocols: string[];
  connectTimeoutMs: number;
  pingIntervalMs: number;
  readTimeoutMs: number;
  tokenTtlSeconds: number;
  backoff: Backoff;
  frameLimits: FrameLimits;
}

export interface OpenInfo {
  url: string;
  /** The subprotocol the server selected ("" when none). */
  protocol: string;
  /** Server clock minus ours, from X-Server-Time, when sent: large values explain 401s. */
  clockSkewMs: number | undefined;
}

export interface DisconnectInfo {
  code: number;
  reason: string;
  /** Why, when it was a failure (handshake error, read timeout...). */
  error?: Error;
  /** Whether the socket had opened (false: the connection attempt itself failed). */
  wasOpen: boolean;
}

/** What the connection tells its owner. Plain callbacks: this is internal wiring, not public API. */
export interface ConnectionHooks {
  connecting(info: { attempt: number; url: string }): void;
  open(info: OpenInfo): void;
  frame(frame: BlazeMessage): void;
  disconnected(info: DisconnectInfo): void;
  reconnecting(attempt: number, delayMs: number): void;
  /** The server refused our credentials: the connection has stopped for good. */
  authFailed(error: AuthError): void;
  /** A frame we could not decode, or a socket error: reported, never fatal. */
  error(error: Error): void;
}

/** A read deadline passed with nothing from the server, not even a pong. */
export class LivenessError extends Error {
  constructor(ms: number) {
    super(`no data or pong from the server for ${ms} ms`);
    this.name = "LivenessError";
  }
}

/**
 * Owns the socket: dials with a freshly signed token, keeps it alive, and redials with backoff.
 * Knows nothing about messages or requests. Stops for good on 401 or stop().
 */
export class Connection {
  private ws: WebSocket | undefined;
  private stopped = false;
  private paused = false;
  private openedAt = 0;
  private failuresInRow = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  start(): void {
    if (this.stopped || this.ws || this.reconnectTimer) return;
    this.dial();
  }

  /** Writes one frame; false when there is no open socket. */
  send(frame: BlazeMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encodeFrame(frame), { binary: true });
    return true;
  }

  /**
   * Backpressure: stop reading while handlers are saturated, so the server's flow control (not our
   * memory) absorbs the backlog. The read deadline is suspended meanwhile: silence is our doing.
   */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (paused) {
      ws.pause();
      clearTimeout(this.readTimer);
    } else {
      ws.resume();
      this.touch();
    }
  }

  /** Drops the current socket (it will be redialled): for a socket in a state we cannot trust. */
  drop(reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.hooks.error(new Error(`dropping connection: ${reason}`));
    ws.terminate();
  }

  /** Stops redialling; the current socket, if any, stays until stop(). */
  stopReconnecting(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /** Closes for good; resolves once the socket is gone. */
  async stop(graceMs = 1000): Promise<void> {
    this.stopReconnecting();
    const ws = this.ws;
    if (!ws) return;
    const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    if (ws.readyState === WebSocket.OPEN) {
      // A clean close tells the server (and a proxy) we are leaving, not crashing.
      ws.resume();
      ws.close(1000, "client closed");
      const t = setTimeout(() => ws.terminate(), graceMs);
      await closed;
      clearTimeout(t);
    } else if (ws.readyState !== WebSocket.CLOSED) {
      ws.terminate();
      await closed;
    }
  }

  private dial(): void {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    const url = this.opts.url(this.failuresInRow);
    this.hooks.connecting({ attempt: this.opts.backoff.attempt - 1, url });
    // A fresh token per connection: a token cached across reconnects (Flutter, PY) turns a long
    // outage into a guaranteed 401 once it expires.
    const token = signToken(this.opts.creds, { method: "GET", uri: "/", ttlSeconds: this.opts.tokenTtlSeconds });
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, this.opts.protocols, {
        headers: { Authorization: `Bearer ${token}` },
        perMessageDeflate: false,
        handshakeTimeout: this.opts.connectTimeoutMs,
        maxPayload: this.opts.frameLimits.maxFrameBytes,
      });
    } catch (e) {
      // A malformed URL: no socket, but the same retry path (the URL function may pick another).
      this.hooks.error(e as Error);
      this.failuresInRow++;
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let lastError: Error | undefined;
    let wasOpen = false;
    let clockSkewMs: number | undefined;

    ws.on("upgrade", (res) => {
      const ns = res.headers["x-server-time"];
      if (typeof ns === "string" && /^\d+$/.test(ns)) clockSkewMs = Number(BigInt(ns) / 1_000_000n) - Date.now();
    });
    ws.on("open", () => {
      wasOpen = true;
      this.failuresInRow = 0;
      this.openedAt = Date.now();
      if (this.paused) ws.pause();
      else this.touch();
      this.pingTimer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.ping();
      }, this.opts.pingIntervalMs);
      this.hooks.open({ url, protocol: ws.protocol, clockSkewMs });
    });
    ws.on("ping", () => this.touch());
    ws.on("pong", () => this.touch());
    ws.on("message", (data, isBinary) => {
      this.touch();
      this.onData(ws, data as Buffer, isBinary, clockSkewMs);
    });
    ws.on("error", (err) => {
      lastError = err;
      // ws reports a refused upgrade as "Unexpected server response: <status>".
      if (/Unexpected server response: 401\b/.test(err.message)) this.authFail(ws, new AuthError());
    });
    ws.on("close", (code, reason) => {
      clearInterval(this.pingTimer);
      clearTimeout(this.readTimer);
      if (this.ws === ws) this.ws = undefined;
      if (!wasOpen) this.failuresInRow++;
      const info: DisconnectInfo = { code, reason: reason.toString(), wasOpen };
      if (lastError) info.error = lastError;
      this.hooks.disconnected(info);
      this.scheduleReconnect();
    });
  }

  private onData(ws: WebSocket, data: Buffer, isBinary: boolean, clockSkewMs: number | undefined): void {
    let frame: BlazeMessage;
    try {
      if (!isBinary) throw new Error("server sent a text frame; Blaze frames are binary gzip");
      const value = decodeFrame(data, this.opts.frameLimits);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("frame is not a JSON object");
      frame = value as BlazeMessage;
      if (typeof frame.action !== "string") throw new Error("frame has no action");
    } catch (e) {
      // One bad frame is not a reason to drop the stream (NODE crashes the process on it).
      this.hooks.error(e as Error);
      return;
    }
    if (frame.error?.code === ErrorCodes.UNAUTHORIZED) {
      // Official apps stop on an in-band 401 (an ERROR frame, or any reply carrying it): retrying a
      // refused key only builds a reconnect storm.
      // Tokens more than 5 minutes off the server's clock are refused: say so when we can tell.
      const body = clockSkewMs === undefined ? frame.error : { ...frame.error, extra: { ...frame.error.extra, clock_skew_ms: clockSkewMs } };
      this.authFail(ws, new AuthError(body));
      return;
    }
    this.hooks.frame(frame);
  }

  private authFail(ws: WebSocket, error: AuthError): void {
    if (this.stopped && !this.ws) return;
    this.stopReconnecting();
    this.hooks.authFailed(error);
    ws.terminate();
  }

  /** Any sign of life from the server pushes the read deadline out. */
  private touch(): void {
    clearTimeout(this.readTimer);
    if (this.paused) return;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    this.readTimer = setTimeout(() => {
      this.hooks.error(new LivenessError(this.opts.readTimeoutMs));
      ws.terminate();
    }, this.opts.readTimeoutMs);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const { backoff } = this.opts;
    // A connection that stayed up counts as stable: start over at the short delays.
    if (this.openedAt > 0 && Date.now() - this.openedAt >= backoff.options.resetAfterMs) backoff.reset();
    this.openedAt = 0;
    const [attempt, delayMs] = backoff.next();
    this.hooks.reconnecting(attempt, delayMs);
    if (this.stopped) return; // a reconnecting listener may have closed the client
    this.reconnectTimer = setTimeout(() => this.dial(), delayMs);
  }
}

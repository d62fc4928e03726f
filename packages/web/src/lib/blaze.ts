import { Actions, BROWSER_TOKEN_SUBPROTOCOL_PREFIX, ErrorCodes, type BlazeMessage, type MessageView } from "@openblaze/protocol/browser";
import { newUuid } from "./crypto.js";
import { decodeFrame, encodeFrame } from "./frame.js";
import type { Credentials } from "./keystore.js";
import { ApiError } from "./http.js";
import { signToken } from "./token.js";

export type ConnectionState = "connecting" | "online" | "offline" | "unauthorized";

/** The request never reached a live socket, or its socket closed before the reply: safe to resend. */
export class NotConnectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotConnectedError";
  }
}

export interface BlazeHandlers {
  onMessage(view: MessageView): void;
  onReceipt(view: MessageView): void;
  onState(state: ConnectionState): void;
}

interface Pending {
  resolve(data: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const REQUEST_TIMEOUT_MS = 15_000;
const ACK_FLUSH_MS = 250;
const MAX_ACKS = 100;

/**
 * The Blaze WebSocket from a browser. Browsers cannot set `Authorization` on a WebSocket, so the
 * token rides as a second subprotocol (openblaze's extension; the server echoes Mixin-Blaze-1).
 * Frames are decoded in arrival order; acks are batched; the socket reconnects with backoff.
 */
export class BlazeSocket {
  private ws: WebSocket | undefined;
  private readonly pending = new Map<string, Pending>();
  private acks = new Map<string, "DELIVERED" | "READ">();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  state: ConnectionState = "offline";

  constructor(
    private readonly wsUrl: string,
    private readonly creds: Credentials,
    private readonly handlers: BlazeHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.ws?.close(1000);
    this.ws = undefined;
    this.setState("offline");
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.handlers.onState(s);
  }

  private connect(): void {
    this.setState("connecting");
    const token = signToken(this.creds, "GET", "/", "", 300);
    const ws = new WebSocket(this.wsUrl, ["Mixin-Blaze-1", BROWSER_TOKEN_SUBPROTOCOL_PREFIX + token]);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    let authFailed = false;
    ws.onopen = () => {
      // Subscribing: the backlog first, then live pushes.
      this.request(Actions.LIST_PENDING_MESSAGES).then(
        () => {
          if (this.ws !== ws) return;
          this.retryMs = 500;
          this.setState("online");
          this.flushAcks();
        },
        () => ws.close(),
      );
    };
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return;
      const data = ev.data;
      this.inbound = this.inbound.then(async () => {
        let frame: BlazeMessage;
        try {
          frame = (await decodeFrame(data)) as BlazeMessage;
        } catch {
          return;
        }
        if (frame.action === Actions.ERROR && frame.error?.code === ErrorCodes.UNAUTHORIZED) authFailed = true;
        this.onFrame(frame);
      });
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new NotConnectedError("connection closed"));
        this.pending.delete(id);
      }
      // The ERROR frame precedes the close; wait for it to be decoded before deciding.
      void this.inbound.then(() => {
        if (authFailed) return this.setState("unauthorized");
        if (this.stopped) return;
        this.setState("offline");
        this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 15_000);
      });
    };
  }

  private onFrame(frame: BlazeMessage): void {
    const p = this.pending.get(frame.id);
    if (p) {
      this.pending.delete(frame.id);
      clearTimeout(p.timer);
      if (frame.error) p.reject(new ApiError(frame.error.code, frame.error.description, frame.error.extra));
      else p.resolve(frame.data);
      return;
    }
    const view = frame.data as MessageView | undefined;
    if (!view) return;
    if (frame.action === Actions.ACKNOWLEDGE_MESSAGE_RECEIPT || view.source === "ACKNOWLEDGE_MESSAGE_RECEIPT") {
      this.handlers.onReceipt(view);
    } else if (frame.action === Actions.CREATE_MESSAGE && view.category) {
      this.handlers.onMessage(view);
    }
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  request<T = unknown>(action: string, params?: unknown): Promise<T> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new NotConnectedError("not connected"));
    const id = newUuid();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${action} timed out`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
      const message = params === undefined ? { id, action } : { id, action, params };
      // Gzip is async: chain sends so frames leave in call order.
      this.outbound = this.outbound.then(async () => {
        const bytes = await encodeFrame(message);
        if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
      });
    });
  }

  sendMessage(params: Record<string, unknown>): Promise<MessageView> {
    return this.request<MessageView>(Actions.CREATE_MESSAGE, params);
  }

  /** Queues an ack; READ supersedes DELIVERED. Acks survive reconnects (they are idempotent). */
  ack(messageId: string, status: "DELIVERED" | "READ"): void {
    if (this.acks.get(messageId) !== "READ") this.acks.set(messageId, status);
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), ACK_FLUSH_MS);
  }

  private flushAcks(): void {
    this.ackTimer = undefined;
    if (this.acks.size === 0 || !this.connected) return;
    const batch = [...this.acks].slice(0, MAX_ACKS);
    for (const [id] of batch) this.acks.delete(id);
    const messages = batch.map(([message_id, status]) => ({ message_id, status }));
    this.request(Actions.ACKNOWLEDGE_MESSAGE_RECEIPTS, { messages }).catch((e: unknown) => {
      // A refused batch (403: not ours to ack) would be refused forever; anything else is retried.
      if (e instanceof ApiError && e.code !== ErrorCodes.TOO_MANY_REQUESTS && e.code < 500) return;
      for (const m of messages) if (!this.acks.has(m.message_id)) this.acks.set(m.message_id, m.status);
      if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), ACK_FLUSH_MS * 8);
    });
    if (this.acks.size > 0) this.ackTimer = setTimeout(() => this.flushAcks(), ACK_FLUSH_MS);
  }
}

import type { WebSocket } from "ws";
import { Actions, BlazeError, ErrorCodes, newUuid, salvageId, type BlazeMessage, type RequestEnvelope } from "@openblaze/protocol";

/**
 * Per-socket request admission (config `maxRequestsPerSecond`): a token bucket holding one
 * second's worth of requests. A refused request is answered 429 and the socket stays open; a
 * socket refused more than five seconds' worth of requests within ten seconds is abusive and is
 * closed (a hot resend loop, client-anchors.md §5).
 */
export class RequestRateGate {
  private tokens: number;
  private last: number;
  private windowStart: number;
  private refusedInWindow = 0;
  /** Deliveries not yet matched by acknowledged items (see earnAck). */
  private ackCredit = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = monotonicNow,
  ) {
    this.tokens = perSecond;
    this.last = this.windowStart = now();
  }

  /**
   * One push or receipt was delivered on this socket. Acknowledging what was delivered is free:
   * a client acking each message on its own (as the official SDKs do) is never throttled for
   * draining its mailbox fast, and free acks can never outnumber deliveries.
   */
  earnAck(): void {
    this.ackCredit++;
  }

  /**
   * "ok" admits the request; "refuse" answers it 429; "close" ends the socket. `ackedItems`: how
   * many deliveries the request acknowledges (ackItems); within the earned credit it costs no token.
   */
  check(ackedItems = 0): "ok" | "refuse" | "close" {
    if (ackedItems > 0 && this.ackCredit >= ackedItems) {
      this.ackCredit -= ackedItems;
      return "ok";
    }
    if (this.perSecond <= 0) return "ok";
    const t = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return "ok";
    }
    if (t - this.windowStart > ABUSE_WINDOW_MS) {
      this.windowStart = t;
      this.refusedInWindow = 0;
    }
    return ++this.refusedInWindow > this.perSecond * ABUSE_SECONDS ? "close" : "refuse";
  }
}

/** Acknowledged items in an ACKNOWLEDGE_MESSAGE_RECEIPT(S) request; 0 for any other action. */
export function ackItems(req: RequestEnvelope): number {
  if (req.action === Actions.ACKNOWLEDGE_MESSAGE_RECEIPT) return 1;
  if (req.action !== Actions.ACKNOWLEDGE_MESSAGE_RECEIPTS) return 0;
  const messages = req.params?.messages;
  return Array.isArray(messages) ? Math.max(1, messages.length) : 1;
}

/** Shared, so a gate per socket does not carry a closure of its own. */
const monotonicNow = () => performance.now();
const ABUSE_WINDOW_MS = 10_000;
const ABUSE_SECONDS = 5;

/**
 * Open sockets per session (config `maxSocketsPerSession`). The newest socket is refused: the
 * ones already open keep working (they may be mid-delivery) and the extra one is told why.
 */
export class SessionSocketCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts one more socket for the session, or returns false when it is at the limit. */
  tryAdd(sessionId: string): boolean {
    const n = this.counts.get(sessionId) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(sessionId, n + 1);
    return true;
  }

  remove(sessionId: string): void {
    const n = (this.counts.get(sessionId) ?? 0) - 1;
    if (n > 0) this.counts.set(sessionId, n);
    else this.counts.delete(sessionId);
  }

  get size(): number {
    return this.counts.size;
  }
}

/**
 * Read backpressure. Replies are not flow-controlled like pushes, so a client that keeps sending
 * but never reads would pile its replies up in server memory. Above `limit` buffered bytes the
 * socket is not read any more (its own sends back up in TCP) until the buffer drains to half.
 */
export class ReadBackpressure {
  constructor(
    private readonly ws: WebSocket,
    private readonly limit: number,
  ) {}

  /** Call after queueing a frame. */
  afterSend(): void {
    if (!this.ws.isPaused && this.ws.bufferedAmount > this.limit && this.ws.readyState === this.ws.OPEN) this.ws.pause();
  }

  /** Call when a frame was flushed to the kernel. */
  afterFlush(): void {
    if (this.ws.isPaused && this.ws.bufferedAmount <= this.limit / 2) this.ws.resume();
  }
}

/**
 * The reply to a request refused without being processed (rate limit, shutdown): under the
 * request's own id and action when the frame could be read (clients like Go wait for the reply to
 * every request), else a plain ERROR. `raw` is the decoded frame, undefined when it did not decode.
 */
export function refusalReply(raw: unknown, error: BlazeError): BlazeMessage {
  const id = salvageId(raw);
  const a = (raw as { action?: unknown } | undefined)?.action;
  const action = id !== undefined && typeof a === "string" && a !== "" ? a : Actions.ERROR;
  return { id: id ?? newUuid(), action, error: error.toJSON() };
}

export function tooManyRequests(perSecond: number): BlazeError {
  return new BlazeError(ErrorCodes.TOO_MANY_REQUESTS, { reason: `more than ${perSecond} requests per second on this socket` });
}

export function shuttingDown(): BlazeError {
  return new BlazeError(ErrorCodes.BLAZE_SERVER, { reason: "server shutting down: not processed, retry after reconnecting" });
}

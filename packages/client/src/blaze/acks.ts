import { BlazeError, ErrorCodes, Limits, STATUS_RANK, type MessageStatus } from "@openblaze/protocol";
import { AuthError } from "../errors.js";
import { toError } from "./events.js";

export type AckStatus = "DELIVERED" | "READ";

/** One acknowledgement, in the wire shape of both ACKNOWLEDGE_MESSAGE_RECEIPTS and POST /acknowledgements. */
export interface BlazeAck {
  message_id: string;
  status: AckStatus;
}

/** Delivers one batch (at most 100). Resolve only when the server confirmed it. */
export type AckSender = (acks: BlazeAck[]) => Promise<void>;

export interface AckManagerOptions {
  send: AckSender;
  /** At most 100 (the protocol's batch cap). */
  batchSize: number;
  /** How long an ack may wait for companions before its batch goes out. */
  flushMs: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Failures are reported here; transient ones are retried, permanent ones dropped. */
  onError(error: Error, acks: BlazeAck[]): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Batches acks (100 per request instead of one round trip per message), retries transient
 * failures until the server confirms, and drains on close. A message whose ack is lost is
 * redelivered after the next reconnect; dedup then re-acks it without running the handler.
 */
export class AckManager {
  /** Queued, not yet sent; insertion order is send order. */
  private readonly queue = new Map<string, AckStatus>();
  /** Acks in flight, and the batches carrying them. */
  private inFlight = 0;
  private batches = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryDelay = 0;
  private stopped = false;
  private draining = false;
  private waiters: (() => void)[] = [];
  /** Batches sent, for stats and tests. */
  requests = 0;

  constructor(private readonly opts: AckManagerOptions) {
    if (!(opts.batchSize >= 1 && opts.batchSize <= Limits.MAX_BATCH)) throw new RangeError(`ack batch size must be 1..${Limits.MAX_BATCH}`);
  }

  get pending(): number {
    return this.queue.size + this.inFlight;
  }

  add(messageId: string, status: AckStatus): void {
    if (this.stopped) return;
    const had = this.queue.get(messageId);
    // Statuses only move forward: a queued READ is not lowered by a later DELIVERED.
    if (had === undefined || STATUS_RANK[status as MessageStatus] > STATUS_RANK[had as MessageStatus]) this.queue.set(messageId, status);
    if (this.queue.size >= this.opts.batchSize) this.pump();
    else this.arm(this.opts.flushMs);
  }

  /** Send everything now (e.g. after a reconnect) instead of waiting for the timer. */
  kick(): void {
    this.retryDelay = 0;
    this.pump();
  }

  /** Sends everything queued now; resolves once nothing is queued or in flight. */
  flush(): Promise<void> {
    this.pump();
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** One best-effort pass over everything queued, for close(): failures are not retried. */
  drain(): Promise<void> {
    this.draining = true;
    return this.flush();
  }

  /** Forgets everything; pending flush() calls resolve. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.queue.clear();
    for (const w of this.waiters.splice(0)) w();
  }

  private arm(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
  }

  /** Sends queued acks in batches, up to `concurrency` batches in flight. */
  private pump(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.size > 0 && this.batches < this.opts.concurrency) {
      const batch: BlazeAck[] = [];
      for (const [message_id, status] of this.queue) {
        batch.push({ message_id, status });
        this.queue.delete(message_id);
        if (batch.length === this.opts.batchSize) break;
      }
      void this.sendBatch(batch);
    }
  }

  private async sendBatch(batch: BlazeAck[]): Promise<void> {
    this.inFlight += batch.length;
    this.batches++;
    this.requests++;
    let retry = false;
    try {
      await this.opts.send(batch);
      this.retryDelay = 0;
    } catch (e) {
      const error = toError(e);
      // 403 means "not yours" for some id; the server applied the rest (iOS treats it as done).
      const forbidden = error instanceof BlazeError && error.code === ErrorCodes.FORBIDDEN;
      retry = !forbidden && !this.draining && !this.stopped && isTransient(error);
      if (!forbidden) this.opts.onError(error, batch);
      if (retry) for (const a of batch) if (!this.queue.has(a.message_id)) this.queue.set(a.message_id, a.status);
    }
    this.inFlight -= batch.length;
    this.batches--;
    if (this.stopped) return;
    if (retry) {
      this.retryDelay = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.retryDelay * 2));
      this.arm(this.retryDelay);
    } else if (this.queue.size >= this.opts.batchSize || (this.queue.size > 0 && (this.draining || this.waiters.length > 0))) {
      this.pump();
    } else if (this.queue.size > 0) {
      this.arm(this.opts.flushMs);
    }
    if (this.pending === 0) for (const w of this.waiters.splice(0)) w();
  }
}

/** Worth retrying: timeouts, drops, server faults and rate limits. Not: bad input, auth. */
export function isTransient(error: Error): boolean {
  if (error instanceof AuthError) return false;
  if (error instanceof BlazeError) {
    return error.code === ErrorCodes.TOO_MANY_REQUESTS || error.status >= 500 || error.code === ErrorCodes.INTERNAL || error.code === ErrorCodes.BLAZE_SERVER || error.code === ErrorCodes.BLAZE_TIMEOUT;
  }
  return true;
}

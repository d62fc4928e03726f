import type { BlazeMessage } from "@openblaze/protocol";
import { ClosedError, TimeoutError, errorFromBody } from "../errors.js";

export interface RequestOptions {
  /** Overrides the client's requestTimeoutMs; covers waiting for a connection and for the reply. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Entry {
  frame: BlazeMessage;
  sent: boolean;
  resolve: (reply: BlazeMessage) => void;
  reject: (error: Error) => void;
}

/**
 * Every request is a promise correlated by envelope id (only the Go SDK correlates at all, and
 * only with fixed 3 s timeouts). Requests made while disconnected wait in order until the next
 * socket opens, bounded by their own timeout; requests already written when a socket drops fail
 * with ClosedError: the caller decides whether to retry (sends are idempotent by message_id).
 */
export class RequestTracker {
  private readonly entries = new Map<string, Entry>();
  private final: Error | undefined;

  /** `write` returns false when no socket is open; the request then waits for flushQueued(). */
  constructor(private readonly write: (frame: BlazeMessage) => boolean) {}

  request(frame: BlazeMessage, timeoutMs: number, signal?: AbortSignal): Promise<BlazeMessage> {
    if (this.final) return Promise.reject(this.final);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<BlazeMessage>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.entries.delete(frame.id);
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        done();
        reject(new TimeoutError(frame.action, timeoutMs));
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      const entry: Entry = {
        frame,
        sent: false,
        resolve: (reply) => {
          done();
          resolve(reply);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      this.entries.set(frame.id, entry);
      entry.sent = this.write(frame);
    });
  }

  /** A socket opened: send what waited, oldest first. */
  flushQueued(): void {
    for (const entry of this.entries.values()) {
      if (!entry.sent) entry.sent = this.write(entry.frame);
    }
  }

  /** Settles the request this frame answers. False when it answers nothing we wait for. */
  settle(frame: BlazeMessage): boolean {
    const entry = this.entries.get(frame.id);
    if (!entry || !entry.sent) return false;
    if (frame.error) entry.reject(errorFromBody(frame.error));
    else entry.resolve(frame);
    return true;
  }

  /** The socket dropped: written requests can no longer be answered. */
  failSent(error: Error): void {
    for (const entry of [...this.entries.values()]) if (entry.sent) entry.reject(error);
  }

  /** The client stopped for good: fail everything now and every later request. */
  failAll(error: Error = new ClosedError("client closed")): void {
    this.final = error;
    for (const entry of [...this.entries.values()]) entry.reject(error);
  }

  /** Fail requests still waiting for a socket (used while closing, when no socket will come). */
  failQueued(error: Error): void {
    for (const entry of [...this.entries.values()]) if (!entry.sent) entry.reject(error);
  }

  get size(): number {
    return this.entries.size;
  }
}

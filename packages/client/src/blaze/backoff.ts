/**
 * Reconnect delays: exponential with a cap and jitter, reset once a connection has stayed up for
 * a while. Jitter spreads a fleet of bots that lost the server at the same moment, so they do
 * not all come back in the same millisecond (client-anchors.md §2.3: NODE reconnects ~500 times/s).
 */
export interface ReconnectBackoff {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Cap. Default 30 s. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of each delay that is randomised away (0 = none, 1 = full jitter). Default 0.5. */
  jitter?: number;
  /** A connection that was ready this long counts as stable: the next drop starts again at attempt 1. Default 30 s. */
  resetAfterMs?: number;
}

export const DEFAULT_BACKOFF: Required<ReconnectBackoff> = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5,
  resetAfterMs: 30_000,
};

export class Backoff {
  readonly options: Required<ReconnectBackoff>;
  private attempts = 0;

  constructor(options: ReconnectBackoff = {}, private readonly random: () => number = Math.random) {
    const o = { ...DEFAULT_BACKOFF, ...stripUndefined(options) };
    if (!(o.initialMs >= 0) || !(o.maxMs >= o.initialMs) || !(o.factor >= 1) || !(o.jitter >= 0 && o.jitter <= 1)) {
      throw new RangeError("backoff needs 0 <= initialMs <= maxMs, factor >= 1 and 0 <= jitter <= 1");
    }
    this.options = o;
  }

  /** The attempt number the next call to next() will return. */
  get attempt(): number {
    return this.attempts + 1;
  }

  /** Delay for delay-number `attempt` (1-based), without advancing. */
  delayFor(attempt: number): number {
    const { initialMs, maxMs, factor, jitter } = this.options;
    const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
    return Math.round(base * (1 - jitter * this.random()));
  }

  /** Advances and returns [attempt, delayMs]. */
  next(): [attempt: number, delayMs: number] {
    this.attempts++;
    return [this.attempts, this.delayFor(this.attempts)];
  }

  reset(): void {
    this.attempts = 0;
  }
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A delay that an AbortSignal can cut short (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

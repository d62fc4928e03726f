/**
 * When and how long the HTTP client waits before trying a request again. Pure functions, so the
 * policy can be read (and tested) apart from the transport.
 */

export interface RetryPolicy {
  /** Extra attempts after the first; 0 disables retrying. */
  retries: number;
  /** Delay before the first retry; doubles on each later one. */
  baseDelayMs: number;
  /** Ceiling for the exponential delay. */
  maxDelayMs: number;
  /**
   * The longest `Retry-After` we are willing to sleep. A server asking for more is answered by
   * giving up at once: sleeping less than asked would only earn another 429.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  retries: 3,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
});

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random. The fixed half
 * keeps a floor under every wait; the random half spreads out clients that failed together.
 * `attempt` counts retries from 0.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

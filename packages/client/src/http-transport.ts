import type { KeyObject } from "node:crypto";
import {
  BlazeError,
  ErrorCodes,
  newUuid,
  privateKeyFromSeed,
  signToken,
  type BlazeErrorBody,
  type SessionCredentials,
} from "@openblaze/protocol";
import { HttpError, TimeoutError, errorFromBody } from "./errors.js";
import { backoffDelay, parseRetryAfter, sleep, type RetryPolicy } from "./http-retry.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** One call to the signed REST API. */
export interface ApiRequest {
  method: HttpMethod;
  /** Path below the API base, with any `?query`; it is what the token's `sig` covers. */
  path: string;
  /** Serialised once to JSON; those exact bytes are signed and sent (and re-sent on retry). */
  body?: unknown;
  /**
   * True when sending the same bytes twice has the effect of sending them once (GETs, message
   * sends keyed by message_id, acks...). Only such requests are ever retried.
   */
  idempotent: boolean;
  signal?: AbortSignal;
}

export interface RetryEvent {
  method: string;
  /** API path, or the URL for attachment transfers. */
  target: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** What made the previous attempt fail. */
  error: unknown;
}

export interface TransportOptions {
  credentials: SessionCredentials;
  apiUrl: string;
  /** Per attempt, covering the response body too. */
  timeoutMs: number;
  retry: RetryPolicy;
  fetch: typeof globalThis.fetch;
  onRetry: ((event: RetryEvent) => void) | undefined;
}

/** What a retry loop needs to know about the operation it repeats. */
export interface RetryScope {
  method: string;
  target: string;
  retryable: boolean;
  signal?: AbortSignal | undefined;
}

// Errors from the network layer itself (reset, refused, DNS...). fetch() throws plain TypeErrors
// whose shape varies by runtime, so we remember which ones came out of fetch instead of sniffing.
const networkFailures = new WeakSet<object>();
// Retry-After, when the response that produced the error carried one.
const retryAfterOf = new WeakMap<object, number>();

const EMPTY = Buffer.alloc(0);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Worth another attempt, provided the request is safe to repeat. */
export function isTransient(e: unknown): boolean {
  if (e instanceof TimeoutError) return true;
  if (typeof e === "object" && e !== null && networkFailures.has(e)) return true;
  if (e instanceof HttpError) return e.status >= 500 || e.status === 429;
  if (e instanceof BlazeError) return e.code === ErrorCodes.TOO_MANY_REQUESTS || e.status >= 500;
  return false;
}

/**
 * The signed HTTP layer: one fresh EdDSA token per attempt whose `sig` covers the exact bytes
 * sent, an `X-Request-Id` per attempt that the response must echo, the `{data}` / `{error}`
 * envelope, and retries with backoff for requests that are safe to repeat.
 */
export class ApiTransport {
  private readonly key: KeyObject;
  private readonly base: string;
  /** Path prefix of apiUrl (e.g. "/mixin" behind a reverse proxy); not part of the signed URI. */
  private readonly prefix: string;

  constructor(readonly options: TransportOptions) {
    this.key = privateKeyFromSeed(options.credentials.seed);
    this.base = options.apiUrl.replace(/\/+$/, "");
    this.prefix = new URL(this.base).pathname.replace(/\/+$/, "");
  }

  async call<T>(req: ApiRequest): Promise<T> {
    if (!req.path.startsWith("/")) throw new TypeError(`API path must start with "/": ${req.path}`);
    const bytes = req.body === undefined ? EMPTY : Buffer.from(JSON.stringify(req.body));
    return this.retrying({ method: req.method, target: req.path, retryable: req.idempotent, signal: req.signal }, () =>
      this.once<T>(req.method, req.path, bytes, req.signal),
    );
  }

  /** Runs `attempt` until it succeeds, fails for good, or the retry budget is spent. */
  async retrying<T>(scope: RetryScope, attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        const delayMs = this.retryDelay(e, n, scope.retryable);
        if (delayMs === undefined) throw e;
        this.options.onRetry?.({ method: scope.method, target: scope.target, attempt: n + 1, delayMs, error: e });
        await sleep(delayMs, scope.signal);
      }
    }
  }

  private retryDelay(e: unknown, attemptsSoFar: number, retryable: boolean): number | undefined {
    const policy = this.options.retry;
    if (!retryable || attemptsSoFar >= policy.retries || !isTransient(e)) return undefined;
    const asked = typeof e === "object" && e !== null ? retryAfterOf.get(e) : undefined;
    if (asked !== undefined) return asked > policy.maxRetryAfterMs ? undefined : asked;
    return backoffDelay(policy, attemptsSoFar);
  }

  /**
   * fetch() with a per-attempt timeout that also covers reading the body. Network failures are
   * marked transient; our timeout becomes a TimeoutError; the caller's abort passes through.
   */
  async fetchWithTimeout<T>(
    what: string,
    url: string,
    init: RequestInit,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await this.options.fetch(url, { ...init, signal: combined });
      return await read(res);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new TimeoutError(what, timeoutMs);
      // Errors we raised ourselves while reading (typed Blaze/HTTP errors) are not network failures.
      if (e instanceof BlazeError || e instanceof HttpError) throw e;
      if (typeof e === "object" && e !== null) networkFailures.add(e);
      throw e;
    }
  }

  private once<T>(method: HttpMethod, path: string, bytes: Buffer, signal: AbortSignal | undefined): Promise<T> {
    const requestId = newUuid();
    // Sign the URI as it will go out: URL parsing may re-encode characters in `path`. The base's
    // own prefix is left out, as the official SDKs do: a proxy serving the API under a prefix
    // strips it, and the server verifies the path it receives.
    const url = new URL(this.base + path);
    const uri = url.pathname.slice(this.prefix.length) + url.search;
    // Fresh per attempt: servers may treat jti as single-use, and the request id is new anyway.
    const token = signToken(this.options.credentials, { method, uri, body: bytes, jti: requestId }, this.key);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      "X-Request-Id": requestId,
      Accept: "application/json",
    };
    if (bytes.length > 0) headers["Content-Type"] = "application/json";
    const init: RequestInit = { method, headers, ...(bytes.length > 0 && { body: bytes }) };
    return this.fetchWithTimeout(`${method} ${path}`, url.href, init, this.options.timeoutMs, signal, (res) =>
      this.unwrap<T>(res, requestId),
    );
  }

  /** `{data}` → data; `{error}` → typed error; anything else → HttpError. */
  private async unwrap<T>(res: Response, requestId: string): Promise<T> {
    const text = await res.text();
    // A response for some other request (a confused proxy or cache) must never be taken for ours.
    const echoed = res.headers.get("x-request-id");
    if (echoed !== null && echoed !== requestId) {
      throw new HttpError(res.status, `X-Request-Id mismatch: sent ${requestId}, response has ${echoed}`, requestId);
    }
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
    if (isObject(parsed) && isObject(parsed.error) && typeof parsed.error.code === "number") {
      throw this.remember(errorFromBody(parsed.error as unknown as BlazeErrorBody), retryAfter);
    }
    if (res.ok && isObject(parsed) && "data" in parsed) return parsed.data as T;
    throw this.remember(new HttpError(res.status, text, requestId), retryAfter);
  }

  private remember<E extends Error>(e: E, retryAfter: number | undefined): E {
    if (retryAfter !== undefined) retryAfterOf.set(e, retryAfter);
    return e;
  }
}

import { BlazeError, ErrorCodes, type BlazeErrorBody } from "@openblaze/protocol";

export { BlazeError };

/** The server refused our credentials (code 401). Reconnecting with the same keystore is pointless. */
export class AuthError extends BlazeError {
  constructor(body?: BlazeErrorBody) {
    super(ErrorCodes.UNAUTHORIZED, body?.extra, body?.description ?? "Unauthorized, maybe invalid token.", body?.status ?? 202);
    this.name = "AuthError";
  }
}

/** A request got no reply in time. Safe to retry for idempotent requests and keyed message sends. */
export class TimeoutError extends Error {
  readonly code = "TIMEOUT";
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/** The client was closed (or the socket dropped) before the request completed. */
export class ClosedError extends Error {
  readonly code = "CLOSED";
  constructor(reason = "connection closed") {
    super(reason);
    this.name = "ClosedError";
  }
}

/** A non-Blaze HTTP failure: unexpected status or a body that is not the `{data}`/`{error}` envelope. */
export class HttpError extends Error {
  readonly code = "HTTP";
  constructor(
    readonly status: number,
    readonly body: string,
    readonly requestId: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = "HttpError";
  }
}

/** Turns a wire error into the most specific typed error. */
export function errorFromBody(body: BlazeErrorBody): BlazeError {
  return body.code === ErrorCodes.UNAUTHORIZED ? new AuthError(body) : BlazeError.fromBody(body);
}

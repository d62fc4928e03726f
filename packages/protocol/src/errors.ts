/**
 * The Blaze error table (protocol.md §2.1). `status` mirrors the HTTP status the REST API would
 * use for the same failure: 202 for business errors, 500 for server faults.
 */
export const ErrorCodes = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  BLAZE_SERVER: 7000,
  BLAZE_TIMEOUT: 7001,
  TRANSACTION: 10001,
  INVALID_FIELD: 10002,
  USER_NOT_FOUND: 10404,
  GROUP_FULL: 20116,
  RECEIVERS_INVALID: 20150,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

interface ErrorSpec {
  readonly status: number;
  readonly description: string;
}

export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorSpec>> = {
  400: { status: 202, description: "The request body can't be parsed as valid data." },
  401: { status: 202, description: "Unauthorized, maybe invalid token." },
  403: { status: 202, description: "Access forbidden." },
  404: { status: 202, description: "The endpoint is not found." },
  429: { status: 202, description: "Too Many Requests." },
  500: { status: 500, description: "Internal Server Error." },
  7000: { status: 500, description: "Blaze server error." },
  7001: { status: 500, description: "The blaze operation timeout." },
  10001: { status: 202, description: "Transaction error." },
  10002: { status: 202, description: "The request data has invalid field." },
  10404: { status: 202, description: "The user not found." },
  20116: { status: 202, description: "The group chat is full." },
  20150: { status: 202, description: "The receivers contain duplicate or invalid data." },
};

export interface ErrorExtra {
  field?: string;
  reason?: string;
  [key: string]: unknown;
}

/** The wire shape of an error, in WS `error` and HTTP `{"error": ...}`. */
export interface BlazeErrorBody {
  status: number;
  code: number;
  description: string;
  extra?: ErrorExtra;
}

export class BlazeError extends Error {
  readonly status: number;
  readonly code: number;
  readonly description: string;
  readonly extra: ErrorExtra | undefined;

  constructor(code: ErrorCode, extra?: ErrorExtra, description?: string);
  /** Codes outside our table (wallet, OAuth...) arrive from the real service; keep them as sent. */
  constructor(code: number, extra: ErrorExtra | undefined, description: string, status: number);
  constructor(code: number, extra?: ErrorExtra, description?: string, status?: number) {
    const spec: ErrorSpec | undefined = ERROR_TABLE[code as ErrorCode];
    const text = description ?? spec?.description ?? "Unknown error.";
    super(extra?.reason ? `${text} (${extra.field ?? ""}: ${extra.reason})` : text);
    this.name = "BlazeError";
    this.status = status ?? spec?.status ?? 202;
    this.code = code;
    this.description = text;
    this.extra = extra;
  }

  /** Rebuilds an error from its wire shape (WS `error`, HTTP `{"error": ...}`). */
  static fromBody(body: BlazeErrorBody): BlazeError {
    return new BlazeError(body.code, body.extra, body.description ?? "", body.status ?? 202);
  }

  toJSON(): BlazeErrorBody {
    const body: BlazeErrorBody = { status: this.status, code: this.code, description: this.description };
    if (this.extra) body.extra = this.extra;
    return body;
  }
}

export function isBlazeError(e: unknown): e is BlazeError {
  return e instanceof BlazeError;
}

/** 10002 with the offending field named, the form every validator in this package throws. */
export function invalidField(field: string, reason: string): BlazeError {
  return new BlazeError(ErrorCodes.INVALID_FIELD, { field, reason });
}

export function badRequest(reason: string): BlazeError {
  return new BlazeError(ErrorCodes.BAD_REQUEST, { reason });
}

import { createHash, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import { decodeBase64Lenient } from "./base64.js";
import { BlazeError, ErrorCodes } from "./errors.js";
import { privateKeyFromSeed } from "./keys.js";
import type { SessionCredentials } from "./keystore.js";
import { isUuid } from "./uuid.js";

export interface TokenClaims {
  uid: string;
  sid: string;
  iat: number;
  exp: number;
  jti: string;
  sig: string;
  scp: string;
}

/** `hex(sha256(METHOD + URI + BODY))`, the request binding every token carries (protocol.md §1.3). */
export function requestSignature(method: string, uri: string, body: Uint8Array | string = ""): string {
  return createHash("sha256").update(method.toUpperCase()).update(uri).update(body).digest("hex");
}

export interface SignOptions {
  method: string;
  uri: string;
  body?: Uint8Array | string;
  /** Seconds the token stays valid. */
  ttlSeconds?: number;
  nowSeconds?: number;
  jti?: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: "EdDSA", typ: "JWT" })).toString("base64url");

export function signToken(creds: SessionCredentials, opts: SignOptions, key: KeyObject = privateKeyFromSeed(creds.seed)): string {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claims: TokenClaims = {
    uid: creds.userId,
    sid: creds.sessionId,
    iat: now,
    exp: now + (opts.ttlSeconds ?? 3600),
    jti: opts.jti ?? randomUUID(),
    sig: requestSignature(opts.method, opts.uri, opts.body ?? ""),
    scp: "FULL",
  };
  const input = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString("base64url")}`;
}

/** A token split and parsed but not yet verified: the verifier needs the session's key first. */
export interface DecodedToken {
  claims: TokenClaims;
  signingInput: Buffer;
  signature: Buffer;
}

function unauthorized(reason: string): BlazeError {
  return new BlazeError(ErrorCodes.UNAUTHORIZED, { reason });
}

/** Reads `Authorization: Bearer <jwt>`; cheap checks only, so bad tokens cost no key lookup. */
export function decodeToken(authorization: string | undefined): DecodedToken {
  if (!authorization) throw unauthorized("missing Authorization header");
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!m) throw unauthorized("Authorization is not a Bearer token");
  const parts = m[1]!.split(".");
  if (parts.length !== 3) throw unauthorized("malformed token");
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(decodeBase64Lenient(parts[0]!).toString("utf8"));
    claims = JSON.parse(decodeBase64Lenient(parts[1]!).toString("utf8"));
  } catch {
    throw unauthorized("malformed token");
  }
  if (header.alg !== "EdDSA") throw unauthorized(`unsupported alg ${String(header.alg)}`);
  if (!isUuid(claims.uid) || !isUuid(claims.sid)) throw unauthorized("token has no valid uid/sid");
  if (typeof claims.exp !== "number" || typeof claims.iat !== "number") throw unauthorized("token has no iat/exp");
  if (typeof claims.sig !== "string") throw unauthorized("token has no sig");
  return {
    claims: {
      uid: claims.uid,
      sid: claims.sid,
      iat: claims.iat,
      exp: claims.exp,
      jti: typeof claims.jti === "string" ? claims.jti : "",
      sig: claims.sig,
      scp: typeof claims.scp === "string" ? claims.scp : "",
    },
    signingInput: Buffer.from(`${parts[0]}.${parts[1]}`),
    signature: Buffer.from(parts[2]!, "base64url"),
  };
}

export interface VerifyRequest {
  method: string;
  uri: string;
  body: Uint8Array | string;
  nowSeconds?: number;
  /** How far in the future `iat` may be (clock skew); 300 s per the docs. */
  maxSkewSeconds?: number;
}

/** Checks signature, expiry, issue time and the request binding. Throws 401 with the reason. */
export function verifyToken(token: DecodedToken, publicKey: KeyObject, req: VerifyRequest): TokenClaims {
  const now = req.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (token.claims.exp <= now) throw unauthorized("token expired");
  if (token.claims.iat > now + (req.maxSkewSeconds ?? 300)) throw unauthorized("token issued in the future");
  if (!verify(null, token.signingInput, publicKey, token.signature)) throw unauthorized("bad token signature");
  if (token.claims.sig !== requestSignature(req.method, req.uri, req.body)) {
    throw unauthorized("token sig does not match the request");
  }
  return token.claims;
}

import type { TokenClaims } from "@openblaze/protocol/browser";
import { toBase64Url, utf8 } from "./bytes.js";
import { newUuid, sha256Hex, signEd25519 } from "./crypto.js";
import type { Credentials } from "./keystore.js";

const HEADER = toBase64Url(utf8(JSON.stringify({ alg: "EdDSA", typ: "JWT" })));

/** Server clock minus ours, in seconds, learnt from X-Server-Time (unix ns) on API replies. */
let skewSeconds = 0;

export function noteServerTime(header: string | null): void {
  if (!header || !/^\d{10,}$/.test(header)) return;
  const server = Number(BigInt(header) / 1_000_000_000n);
  // Only a large difference matters (the server allows 5 min of iat skew, tokens live minutes).
  const skew = server - Math.floor(Date.now() / 1000);
  skewSeconds = Math.abs(skew) > 30 ? skew : 0;
}

/**
 * An EdDSA JWT bound to one request: `sig = hex(sha256(METHOD + URI + BODY))` (protocol.md §1.3).
 * For the WebSocket that is GET, "/" and no body.
 */
export function signToken(creds: Credentials, method: string, uri: string, body: string | Uint8Array = "", ttlSeconds = 600): string {
  const now = Math.floor(Date.now() / 1000) + skewSeconds;
  const claims: TokenClaims = {
    uid: creds.userId,
    sid: creds.sessionId,
    iat: now,
    exp: now + ttlSeconds,
    jti: newUuid(),
    sig: sha256Hex(method.toUpperCase(), uri, body),
    scp: "FULL",
  };
  const input = `${HEADER}.${toBase64Url(utf8(JSON.stringify(claims)))}`;
  return `${input}.${toBase64Url(signEd25519(utf8(input), creds.seed))}`;
}

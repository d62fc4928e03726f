import type { KeyObject } from "node:crypto";
import { BlazeError, ErrorCodes, decodeToken, publicKeyFromRaw, requestSignature, verifyToken, type DecodedToken } from "@openblaze/protocol";
import type { Store } from "../store/store.js";
import type { Identity } from "./identity.js";
import { RevocationLog } from "./revocations.js";

export interface AuthRequest {
  authorization: string | undefined;
  method: string;
  /** Path plus query, as signed by the client. */
  uri: string;
  body: Uint8Array | string;
}

const KEY_CACHE_LIMIT = 10_000;
/** Unknown (uid, sid) pairs are remembered this long, so a storm for one costs one lookup. */
const UNKNOWN_TTL_MS = 10_000;
const MAX_SKEW_SECONDS = 300;

/**
 * Verifies Bearer tokens against session keys. Everything checkable without the key (shape,
 * expiry, issue time, the request binding `sig`) is checked first, so a reconnect storm of bad
 * tokens costs no store work (client-anchors.md §2.3, §5); known keys and unknown sessions are
 * cached, so even well-formed tokens for a real or unknown session cost at most one lookup.
 */
export class Authenticator {
  /** Keys with the revocation-log position they were read at (see RevocationLog). */
  private readonly keys = new Map<string, { key: KeyObject; since: number }>();
  private readonly unknown = new Map<string, number>();
  /** Revoked sessions and disabled users, followed on every node (admin CLI: session revoke, user disable). */
  readonly revocations: RevocationLog;
  private readonly validatedAt = new WeakMap<Identity, number>();

  constructor(private readonly store: Store) {
    this.revocations = new RevocationLog(store);
  }

  async authenticate(req: AuthRequest): Promise<Identity> {
    const token = decodeToken(req.authorization);
    precheck(token, req);
    const verifiedWith = this.refuseFromCache(token, req);
    await this.revocations.sync();
    const since = this.revocations.position;
    const key = await this.sessionKey(token.claims.uid, token.claims.sid, since);
    const claims = key === verifiedWith ? token.claims : verifyToken(token, key, { method: req.method, uri: req.uri, body: req.body, maxSkewSeconds: MAX_SKEW_SECONDS });
    // Revoked while we looked (the key read may predate the revocation's commit).
    if (this.revocations.revokedSince(since, claims.uid, claims.sid)) throw new BlazeError(ErrorCodes.UNAUTHORIZED, { reason: "session revoked" });
    const who = { userId: claims.uid, sessionId: claims.sid };
    this.validatedAt.set(who, since);
    return who;
  }

  /**
   * Refusals that need no store work, so a reconnect storm of them costs only CPU: a pair known not
   * to exist, or a signature that fails against the cached key (a refusal whatever the revocation
   * log says). Returns the cached key the token verified against, if any.
   */
  private refuseFromCache(token: DecodedToken, req: AuthRequest): KeyObject | undefined {
    const cacheKey = `${token.claims.uid}:${token.claims.sid}`;
    const missSince = this.unknown.get(cacheKey);
    if (missSince !== undefined && Date.now() - missSince < UNKNOWN_TTL_MS) throw unknownSession();
    const cached = this.keys.get(cacheKey);
    if (!cached) return undefined;
    verifyToken(token, cached.key, { method: req.method, uri: req.uri, body: req.body, maxSkewSeconds: MAX_SKEW_SECONDS });
    return cached.key;
  }

  /** True when the session behind `who` was revoked (or its user disabled) after it was authenticated. */
  isRevoked(who: Identity): boolean {
    const since = this.validatedAt.get(who);
    return since !== undefined && this.revocations.revokedSince(since, who.userId, who.sessionId);
  }

  private async sessionKey(userId: string, sessionId: string, since: number): Promise<KeyObject> {
    const cacheKey = `${userId}:${sessionId}`;
    const cached = this.keys.get(cacheKey);
    if (cached && !this.revocations.revokedSince(cached.since, userId, sessionId)) return cached.key;
    if (cached) this.keys.delete(cacheKey);
    const missSince = this.unknown.get(cacheKey);
    if (missSince !== undefined && Date.now() - missSince < UNKNOWN_TTL_MS) throw unknownSession();
    const session = await this.store.getSession(userId, sessionId);
    if (!session) {
      if (this.unknown.size >= KEY_CACHE_LIMIT) this.unknown.delete(this.unknown.keys().next().value!);
      this.unknown.set(cacheKey, Date.now());
      throw unknownSession();
    }
    this.unknown.delete(cacheKey);
    // Not cached as unknown: an operator may enable the user again.
    if ((await this.store.getUser(userId))?.disabled !== false) throw new BlazeError(ErrorCodes.UNAUTHORIZED, { reason: "account disabled" });
    const key = publicKeyFromRaw(session.publicKey);
    if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(cacheKey, { key, since });
    return key;
  }
}

function unknownSession(): BlazeError {
  return new BlazeError(ErrorCodes.UNAUTHORIZED, { reason: "unknown session" });
}

/** The checks verifyToken repeats after the signature, done first because they need no key. */
function precheck(token: DecodedToken, req: AuthRequest): void {
  const now = Math.floor(Date.now() / 1000);
  const fail = (reason: string) => new BlazeError(ErrorCodes.UNAUTHORIZED, { reason });
  if (token.claims.exp <= now) throw fail("token expired");
  if (token.claims.iat > now + MAX_SKEW_SECONDS) throw fail("token issued in the future");
  if (token.claims.sig !== requestSignature(req.method, req.uri, req.body)) throw fail("token sig does not match the request");
}

import type { KeyObject } from "node:crypto";
import { BlazeError, ErrorCodes, decodeToken, publicKeyFromRaw, verifyToken } from "@openblaze/protocol";
import type { Store } from "../store/store.js";
import type { Identity } from "./identity.js";

export interface AuthRequest {
  authorization: string | undefined;
  method: string;
  /** Path plus query, as signed by the client. */
  uri: string;
  body: Uint8Array | string;
}

const KEY_CACHE_LIMIT = 10_000;

/** Verifies Bearer tokens against session keys; malformed tokens are refused before any lookup. */
export class Authenticator {
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly store: Store) {}

  async authenticate(req: AuthRequest): Promise<Identity> {
    const token = decodeToken(req.authorization);
    const key = await this.sessionKey(token.claims.uid, token.claims.sid);
    const claims = verifyToken(token, key, { method: req.method, uri: req.uri, body: req.body });
    return { userId: claims.uid, sessionId: claims.sid };
  }

  private async sessionKey(userId: string, sessionId: string): Promise<KeyObject> {
    const cacheKey = `${userId}:${sessionId}`;
    const cached = this.keys.get(cacheKey);
    if (cached) return cached;
    const session = await this.store.getSession(userId, sessionId);
    if (!session) throw new BlazeError(ErrorCodes.UNAUTHORIZED, { reason: "unknown session" });
    const key = publicKeyFromRaw(session.publicKey);
    if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(cacheKey, key);
    return key;
  }
}

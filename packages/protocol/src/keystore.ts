import { decodeBase64Lenient } from "./base64.js";
import { isUuid } from "./uuid.js";

/** The keystore JSON the official SDKs read (`app_id`, `session_id`, hex seed, hex server key). */
export interface Keystore {
  app_id: string;
  session_id: string;
  server_public_key: string;
  session_private_key: string;
  spend_private_key?: string;
}

/** What signing needs, whichever keystore form it came from. */
export interface SessionCredentials {
  userId: string;
  sessionId: string;
  seed: Buffer;
}

/**
 * Accepts the current keystore and the older `client_id` / `private_key` form (base64url of the
 * 64-byte Ed25519 key: seed then public key). RSA keystores are not supported.
 */
export function parseKeystore(value: unknown): SessionCredentials {
  if (typeof value !== "object" || value === null) throw new TypeError("keystore is not an object");
  const k = value as Record<string, unknown>;
  const userId = k.app_id ?? k.client_id ?? k.user_id;
  if (!isUuid(userId)) throw new TypeError("keystore has no valid app_id/client_id");
  if (!isUuid(k.session_id)) throw new TypeError("keystore has no valid session_id");
  if (typeof k.session_private_key === "string") {
    if (!/^[0-9a-f]{64}$/i.test(k.session_private_key)) {
      throw new TypeError("session_private_key must be a 32-byte hex Ed25519 seed");
    }
    return { userId, sessionId: k.session_id, seed: Buffer.from(k.session_private_key, "hex") };
  }
  if (typeof k.private_key === "string") {
    const raw = decodeBase64Lenient(k.private_key, "private_key");
    if (raw.length !== 64 && raw.length !== 32) throw new TypeError("private_key is not an Ed25519 key (RSA is not supported)");
    return { userId, sessionId: k.session_id, seed: raw.subarray(0, 32) };
  }
  throw new TypeError("keystore has no session_private_key or private_key");
}

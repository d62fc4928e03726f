import type { Keystore } from "@openblaze/protocol/browser";
import { fromBase64, fromHex, toHex } from "./bytes.js";
import { isUuid, publicKeyOf } from "./crypto.js";

export interface Credentials {
  userId: string;
  sessionId: string;
  seed: Uint8Array;
  /** The keystore as pasted, in the official SDKs' format, for downloading it again. */
  keystore: Keystore;
}

/**
 * Reads the keystore JSON the official SDKs use (`app_id`, `session_id`, hex `session_private_key`)
 * or the older `client_id` / base64url `private_key` form, like the protocol package's parser.
 */
export function parseKeystore(text: string): Credentials {
  let k: Record<string, unknown>;
  try {
    k = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error("The keystore is not valid JSON.");
  }
  if (typeof k !== "object" || k === null) throw new Error("The keystore is not a JSON object.");
  const userId = String(k.app_id ?? k.client_id ?? k.user_id ?? "").toLowerCase();
  const sessionId = String(k.session_id ?? "").toLowerCase();
  if (!isUuid(userId)) throw new Error("The keystore has no valid app_id.");
  if (!isUuid(sessionId)) throw new Error("The keystore has no valid session_id.");
  let seed: Uint8Array;
  if (typeof k.session_private_key === "string") {
    if (!/^[0-9a-fA-F]{64}$/.test(k.session_private_key)) throw new Error("session_private_key must be a 32-byte hex Ed25519 seed.");
    seed = fromHex(k.session_private_key);
  } else if (typeof k.private_key === "string") {
    let raw: Uint8Array;
    try {
      raw = fromBase64(k.private_key);
    } catch {
      throw new Error("private_key is not base64.");
    }
    if (raw.length !== 64 && raw.length !== 32) throw new Error("private_key is not an Ed25519 key (RSA keystores are not supported).");
    seed = raw.slice(0, 32);
  } else {
    throw new Error("The keystore has no session_private_key.");
  }
  publicKeyOf(seed); // fails early on a key noble cannot use
  const keystore: Keystore = {
    app_id: userId,
    session_id: sessionId,
    server_public_key: typeof k.server_public_key === "string" ? k.server_public_key : "",
    session_private_key: toHex(seed),
  };
  return { userId, sessionId, seed, keystore };
}

const KEY = "openblaze.keystore";

/** The keystore lives only in this browser's localStorage; nothing sends it anywhere. */
export function loadSavedCredentials(): Credentials | undefined {
  const text = localStorage.getItem(KEY);
  if (!text) return undefined;
  try {
    return parseKeystore(text);
  } catch {
    localStorage.removeItem(KEY);
    return undefined;
  }
}

export function saveCredentials(c: Credentials): void {
  localStorage.setItem(KEY, JSON.stringify(c.keystore));
}

export function forgetCredentials(): void {
  localStorage.removeItem(KEY);
}

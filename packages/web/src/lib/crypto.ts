import * as ed from "@noble/ed25519";
import { md5 } from "@noble/hashes/legacy.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { conversationIdFromDigest, conversationIdInput } from "@openblaze/protocol/browser";
import { toHex, utf8 } from "./bytes.js";

// Pure-JS hashing: crypto.subtle exists only in secure contexts, and a self-hosted server is often
// reached over plain http on a LAN address.
ed.hashes.sha512 = sha512;

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function newSeed(): Uint8Array {
  return randomBytes(32);
}

export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed);
}

export function signEd25519(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(message, seed);
}

export function sha256Hex(...parts: (string | Uint8Array)[]): string {
  const h = sha256.create();
  for (const p of parts) h.update(typeof p === "string" ? utf8(p) : p);
  return toHex(h.digest());
}

/** A random (v4) lower-case UUID; crypto.randomUUID needs a secure context. */
export function newUuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const s = toHex(b);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** The 1:1 conversation id (protocol.md §5.4), with the protocol package's pure half. */
export function uniqueConversationId(a: string, b: string): string {
  return conversationIdFromDigest(md5(utf8(conversationIdInput(a, b))));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(v: unknown): v is string {
  return typeof v === "string" && UUID.test(v);
}

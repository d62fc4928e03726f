import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function privateKeyFromSeed(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new TypeError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new TypeError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

export function rawPublicKey(key: KeyObject): Buffer {
  const der = (key.type === "public" ? key : createPublicKey(key)).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32));
}

export interface Ed25519KeyPair {
  seed: Buffer;
  publicKey: Buffer;
}

export function generateEd25519(): Ed25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  return { seed: Buffer.from(der.subarray(der.length - 32)), publicKey: rawPublicKey(publicKey) };
}

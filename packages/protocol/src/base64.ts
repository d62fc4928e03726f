import { invalidField } from "./errors.js";

const LENIENT = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/**
 * Decodes base64 in any of the four forms clients send (std or url alphabet, padded or not) and
 * tolerates embedded whitespace (Ruby's encode64 inserts newlines). Throws 10002 naming `field`.
 */
export function decodeBase64Lenient(input: string, field = "data"): Buffer {
  const compact = input.replace(/[\r\n\t ]/g, "");
  if (!LENIENT.test(compact)) throw invalidField(field, "not valid base64");
  const body = compact.replace(/=+$/, "");
  if (body.length % 4 === 1) throw invalidField(field, "not valid base64");
  return Buffer.from(body.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** Standard alphabet with padding: the MessageView `data` field. */
export function toBase64Std(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** URL alphabet without padding: the MessageView `data_base64` field and session public keys. */
export function toBase64UrlRaw(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

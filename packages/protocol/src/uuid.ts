import { createHash, randomUUID } from "node:crypto";

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Lower-case hyphenated UUID: the only form the real service accepts for ids clients choose. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && CANONICAL.test(value);
}

export function newUuid(): string {
  return randomUUID();
}

/**
 * The 1:1 conversation id both parties derive (protocol.md §5.4): MD5 over the two canonical ids,
 * ordered byte-wise, then version 3 and RFC 4122 variant bits. No namespace, unlike uuid3.
 */
export function uniqueConversationId(a: string, b: string): string {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const [lo, hi] = x < y ? [x, y] : [y, x];
  const h = createHash("md5").update(lo + hi).digest();
  h[6] = (h[6]! & 0x0f) | 0x30;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const s = h.toString("hex");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

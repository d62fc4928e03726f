/**
 * The pure half of `uniqueConversationId` (protocol.md §5.4), free of Node built-ins so that the
 * browser can share it: the caller supplies MD5 (node:crypto on Node, a JS MD5 in the browser).
 */

/** The two canonical (lower-case) ids in byte-wise order; MD5 runs over `lo + hi`. */
export function conversationIdInput(a: string, b: string): string {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? x + y : y + x;
}

/** Sets version 3 and the RFC 4122 variant on the 16-byte MD5 and formats it as a UUID. */
export function conversationIdFromDigest(digest: Uint8Array): string {
  if (digest.length !== 16) throw new TypeError(`MD5 digest must be 16 bytes, got ${digest.length}`);
  const h = Uint8Array.from(digest);
  h[6] = (h[6]! & 0x0f) | 0x30;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const s = Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

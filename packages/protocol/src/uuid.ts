import { createHash, randomUUID } from "node:crypto";
import { conversationIdFromDigest, conversationIdInput } from "./conversation-id.js";

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
  return conversationIdFromDigest(createHash("md5").update(conversationIdInput(a, b)).digest());
}

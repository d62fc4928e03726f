import { randomUUID } from "node:crypto";
import type { NewMessage } from "@openblaze/server";

/** ~60 bytes, like the socket workloads' payloads. */
const PAYLOAD = Buffer.from("openblaze bench message, a quick brown fox t=000001234567890");

/** What the store-only benches (store-probe, store-ab) store: a short PLAIN_TEXT message with a fresh id. */
export function plainMessage(from: { userId: string; sessionId: string }, conversationId: string, recipientIds: readonly string[]): NewMessage {
  return {
    messageId: randomUUID(),
    conversationId,
    userId: from.userId,
    sessionId: from.sessionId,
    category: "PLAIN_TEXT",
    payload: PAYLOAD,
    representativeId: "",
    quoteMessageId: "",
    silent: false,
    expireIn: 0,
    recipientIds: [...recipientIds],
  };
}

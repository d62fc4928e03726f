import { randomBytes, randomUUID } from "node:crypto";
import type { NewMessage, SqliteStore } from "@openblaze/server";

/** A user with one session, as the store-only benches make them. */
export interface Person {
  userId: string;
  sessionId: string;
}

/** Two people and their CONTACT conversation. */
export interface ContactPair {
  from: Person;
  to: Person;
  conversationId: string;
}

type AccountStore = Pick<SqliteStore, "createUser" | "createConversation">;

/** ~60 bytes, like the socket workloads' payloads. */
const PAYLOAD = Buffer.from("openblaze bench message, a quick brown fox t=000001234567890");

/** What the store-only benches (store-probe, store-ab, store-commit-size) store: a short PLAIN_TEXT message with a fresh id. */
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

export async function people(store: AccountStore, n: number): Promise<Person[]> {
  const out: Person[] = [];
  for (let i = 0; i < n; i++) {
    const p = { userId: randomUUID(), sessionId: randomUUID() };
    await store.createUser({ userId: p.userId, fullName: `u${i}`, isBot: false, ownerId: "" }, { sessionId: p.sessionId, publicKey: randomBytes(32) });
    out.push(p);
  }
  return out;
}

/** `n` pairs of new people, each with its CONTACT conversation. */
export async function contactPairs(store: AccountStore, n: number): Promise<ContactPair[]> {
  const users = await people(store, 2 * n);
  const pairs: ContactPair[] = [];
  for (let i = 0; i < n; i++) {
    const from = users[i]!;
    const to = users[n + i]!;
    const conversationId = randomUUID();
    await store.createConversation({ conversationId, category: "CONTACT", creatorId: from.userId, name: "", announcement: "", codeId: "" }, [
      { userId: from.userId, role: "" },
      { userId: to.userId, role: "" },
    ]);
    pairs.push({ from, to, conversationId });
  }
  return pairs;
}

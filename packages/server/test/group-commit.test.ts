import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { commitBatchFor, commitLanesFor, resolveConfig } from "../src/config.js";
import { GroupCommitter } from "../src/core/group-commit.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import type { NewMessage, Store } from "../src/store/store.js";
import { TEST_POSTGRES_URL, dropSchema, testSchemaName } from "./services.js";

/** The real store, watched: how many accepts overlap, and whether one sender ever had two at once. */
function watched(store: PostgresStore) {
  const stats = { inFlight: 0, maxInFlight: 0, senderOverlap: 0, calls: 0 };
  const busy = new Set<string>();
  const accept = store.acceptMessages.bind(store);
  store.acceptMessages = async (batch: readonly NewMessage[]) => {
    const senders = new Set(batch.map((m) => m.sessionId));
    for (const s of senders) if (busy.has(s)) stats.senderOverlap++;
    for (const s of senders) busy.add(s);
    stats.calls++;
    stats.maxInFlight = Math.max(stats.maxInFlight, ++stats.inFlight);
    try {
      return await accept(batch);
    } finally {
      stats.inFlight--;
      for (const s of senders) busy.delete(s);
    }
  };
  return stats;
}

async function user(store: Store) {
  const u = { userId: randomUUID(), sessionId: randomUUID() };
  await store.createUser({ userId: u.userId, fullName: "u", isBot: false, ownerId: "" }, { sessionId: u.sessionId, publicKey: randomBytes(32) });
  return u;
}

/**
 * 12 senders each queue 15 requests of 5 messages at once (no waiting in between) to one recipient;
 * returns the recipient's mailbox in seq order and the watch stats.
 */
async function run(lanes: number, maxBatch = 10) {
  const schema = testSchemaName();
  const store = new PostgresStore({ connectionString: TEST_POSTGRES_URL, schema });
  try {
    await store.migrate();
    const recipient = await user(store);
    const senders = await Promise.all(Array.from({ length: 12 }, () => user(store)));
    const conv = randomUUID();
    const stats = watched(store);
    // maxBatch 10: two requests per transaction at most, so the backlog spills into every lane.
    const committer = new GroupCommitter(store, maxBatch, undefined, 0, lanes);
    const sent = new Map<string, string[]>(senders.map((s) => [s.sessionId, []]));
    const submits: Promise<unknown>[] = [];
    for (let r = 0; r < 15; r++) {
      for (const s of senders) {
        const items: NewMessage[] = Array.from({ length: 5 }, () => ({
          messageId: randomUUID(),
          conversationId: conv,
          userId: s.userId,
          sessionId: s.sessionId,
          category: "PLAIN_TEXT",
          payload: randomBytes(16),
          representativeId: "",
          quoteMessageId: "",
          silent: false,
          expireIn: 0,
          recipientIds: [recipient.userId],
        }));
        sent.get(s.sessionId)!.push(...items.map((m) => m.messageId));
        submits.push(committer.submit(items));
      }
    }
    const outcomes = (await Promise.all(submits)).flat() as { kind: string }[];
    assert.equal(outcomes.filter((o) => o.kind === "created").length, 12 * 15 * 5);
    await committer.drain();
    const mailbox = await store.pendingMessages(recipient.userId, recipient.sessionId, 0, 10_000);
    return { stats, sent, mailbox };
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

describe("GroupCommitter lanes (real PostgreSQL)", () => {
  it("with 4 lanes a backlog spreads over them, yet each sender's messages get seqs in the order sent and never two commits at once", async () => {
    const { stats, sent, mailbox } = await run(4);
    assert.ok(stats.maxInFlight > 1 && stats.maxInFlight <= 4, `accepts in flight at once: ${stats.maxInFlight}`);
    assert.equal(stats.senderOverlap, 0, "a sender was in two transactions at once");
    assert.equal(mailbox.length, 12 * 15 * 5);
    for (const [session, ids] of sent) {
      const order = mailbox.filter((p) => p.message.sessionId === session).map((p) => p.message.messageId);
      assert.deepEqual(order, ids, `sender ${session}: mailbox order differs from send order`);
    }
  });

  it("a backlog that fits one commit stays in the first lane (no small transactions side by side)", async () => {
    const { stats, mailbox } = await run(4, 1000);
    assert.equal(stats.maxInFlight, 1);
    assert.equal(mailbox.length, 12 * 15 * 5);
  });

  it("with 1 lane there is one transaction at a time", async () => {
    const { stats, mailbox } = await run(1);
    assert.equal(stats.maxInFlight, 1);
    assert.equal(mailbox.length, 12 * 15 * 5);
  });

  it("lanes and batch size by database (1 and 256 on SQLite, 4 and 1,024 on PostgreSQL) unless set; out-of-range values are refused", () => {
    assert.equal(commitLanesFor(resolveConfig({})), 1);
    assert.equal(commitLanesFor(resolveConfig({ database: TEST_POSTGRES_URL })), 4);
    assert.equal(commitLanesFor(resolveConfig({ database: TEST_POSTGRES_URL, commitLanes: 2 })), 2);
    assert.equal(commitLanesFor(resolveConfig({ commitLanes: 3 })), 3);
    for (const bad of [-1, 1.5, 65]) assert.throws(() => resolveConfig({ commitLanes: bad }), RangeError);
    assert.equal(commitBatchFor(resolveConfig({})), 256);
    assert.equal(commitBatchFor(resolveConfig({ database: TEST_POSTGRES_URL })), 1024);
    assert.equal(commitBatchFor(resolveConfig({ database: TEST_POSTGRES_URL, maxCommitBatch: 64 })), 64);
    for (const bad of [-1, 2.5]) assert.throws(() => resolveConfig({ maxCommitBatch: bad }), RangeError);
    assert.throws(() => new GroupCommitter({} as Store, 10, undefined, 0, 0), RangeError);
  });
});

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FsBlobStore } from "../src/blobs/blob-store.js";
import { LocalBus } from "../src/bus/bus.js";
import { resolveConfig } from "../src/config.js";
import { AckCommitter } from "../src/core/ack-committer.js";
import { createServices } from "../src/services.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { AckInput, AckOutcome, AckRequest, Store } from "../src/store/store.js";
import { TEST_POSTGRES_URL, dropSchema, testSchemaName } from "./services.js";

interface World {
  users: { userId: string; sessionId: string }[];
  messageIds: string[];
}

/** The same users, sessions, conversation and messages (same ids) in any store. */
async function build(store: Store, w: World): Promise<void> {
  for (const u of w.users) {
    await store.createUser({ userId: u.userId, fullName: "u", isBot: false, ownerId: "" }, { sessionId: u.sessionId, publicKey: randomBytes(32) });
  }
  const conv = "6f1c0c8e-5b0e-4a59-9f7e-6b2f2a3e0c11";
  await store.createConversation(
    { conversationId: conv, category: "GROUP", creatorId: w.users[0]!.userId, name: "", announcement: "", codeId: conv },
    w.users.map((u) => ({ userId: u.userId, role: "" as const })),
  );
  const sender = w.users[0]!;
  await store.acceptMessages(
    w.messageIds.map((messageId, i) => ({
      messageId,
      conversationId: conv,
      userId: sender.userId,
      sessionId: sender.sessionId,
      category: "PLAIN_TEXT",
      payload: Buffer.from([i]),
      representativeId: "",
      quoteMessageId: "",
      silent: false,
      expireIn: 0,
      // Not every user receives every message: some acks are forbidden.
      recipientIds: w.users.slice(1).filter((_, j) => (i + j) % 3 !== 0).map((u) => u.userId),
    })),
  );
}

function randomRequests(w: World, n: number, seed: number): AckRequest[] {
  let x = seed;
  const rnd = (k: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % k);
  const requests: AckRequest[] = [];
  for (let i = 0; i < n; i++) {
    const u = w.users[rnd(w.users.length)]!;
    const acks: AckInput[] = [];
    for (let j = 1 + rnd(4); j > 0; j--) {
      const r = rnd(10);
      const messageId = r === 0 ? randomUUID() : r === 1 ? "not-a-uuid" : w.messageIds[rnd(w.messageIds.length)]!;
      acks.push({ messageId, status: rnd(2) === 0 ? "DELIVERED" : "READ" });
    }
    requests.push({ userId: u.userId, sessionId: u.sessionId, acks });
  }
  return requests;
}

const strip = (outcomes: AckOutcome[][]) => outcomes.map((os) => os.map((o) => (o.kind === "advanced" ? { ...o, updatedAt: 0 } : o)));

async function pendingOf(store: Store, w: World): Promise<string[][]> {
  return Promise.all(w.users.map(async (u) => (await store.pendingMessages(u.userId, u.sessionId, 0, 1000)).map((p) => p.message.messageId)));
}

/** acknowledgeMany must equal the same requests run one by one through acknowledge. */
function equivalence(name: string, open: () => Promise<{ store: Store; close: () => Promise<void> }>): void {
  describe(`${name} acknowledgeMany`, () => {
    for (const seed of [1, 2, 3]) {
      it(`equals sequential acknowledge calls (seed ${seed})`, async () => {
        const w: World = {
          users: Array.from({ length: 5 }, () => ({ userId: randomUUID(), sessionId: randomUUID() })),
          messageIds: Array.from({ length: 12 }, () => randomUUID()),
        };
        const a = await open();
        const b = await open();
        try {
          await build(a.store, w);
          await build(b.store, w);
          const requests = randomRequests(w, 40, seed);
          const batched = await a.store.acknowledgeMany(requests);
          const sequential: AckOutcome[][] = [];
          for (const r of requests) sequential.push(await b.store.acknowledge(r.userId, r.sessionId, r.acks));
          assert.deepEqual(strip(batched), strip(sequential));
          assert.ok(batched.flat().some((o) => o.kind === "advanced") && batched.flat().some((o) => o.kind === "unchanged"));
          assert.ok(batched.flat().some((o) => o.kind === "forbidden") && batched.flat().some((o) => o.kind === "unknown"));
          assert.deepEqual(await pendingOf(a.store, w), await pendingOf(b.store, w));
          // Statuses too: acking everything READ again is unchanged/advanced the same way.
          const again = w.users.map((u) => ({ userId: u.userId, sessionId: u.sessionId, acks: w.messageIds.map((messageId) => ({ messageId, status: "READ" as const })) }));
          assert.deepEqual(strip(await a.store.acknowledgeMany(again)), strip(await b.store.acknowledgeMany(again)));
          assert.deepEqual(await a.store.acknowledgeMany([]), []);
        } finally {
          await a.close();
          await b.close();
        }
      });
    }
  });
}

equivalence("SqliteStore", async () => {
  const store = new SqliteStore({ path: ":memory:" });
  return { store, close: () => store.close() };
});

const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await dropSchema(s);
});
equivalence("PostgresStore", async () => {
  const schema = testSchemaName();
  schemas.push(schema);
  const store = new PostgresStore({ connectionString: TEST_POSTGRES_URL, schema });
  await store.migrate();
  return { store, close: () => store.close() };
});

describe("AckCommitter", () => {
  it("commits concurrent callers in one store call, each with its own outcomes in order", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    try {
      const w: World = {
        users: Array.from({ length: 4 }, () => ({ userId: randomUUID(), sessionId: randomUUID() })),
        messageIds: Array.from({ length: 6 }, () => randomUUID()),
      };
      await build(store, w);
      let calls = 0;
      const many = store.acknowledgeMany.bind(store);
      store.acknowledgeMany = (r) => (calls++, many(r));
      const committer = new AckCommitter(store);
      const requests = randomRequests(w, 30, 7);
      const results = await Promise.all(requests.map((r) => committer.submit(r.userId, r.sessionId, r.acks)));
      assert.equal(calls, 1, "one transaction for the whole tick");
      const reference = new SqliteStore({ path: ":memory:" });
      await build(reference, w);
      const sequential: AckOutcome[][] = [];
      for (const r of requests) sequential.push(await reference.acknowledge(r.userId, r.sessionId, r.acks));
      await reference.close();
      assert.deepEqual(strip(results), strip(sequential));
      assert.deepEqual(await committer.submit(w.users[1]!.userId, w.users[1]!.sessionId, []), []);
      await committer.drain();
    } finally {
      await store.close();
    }
  });

  it("a failing batch falls back to one call per caller: only the failing caller sees the error", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    try {
      const w: World = { users: Array.from({ length: 3 }, () => ({ userId: randomUUID(), sessionId: randomUUID() })), messageIds: [randomUUID()] };
      await build(store, w);
      const bad = "bad-user";
      store.acknowledgeMany = async () => {
        throw new Error("batch failed");
      };
      // acknowledge() delegates to acknowledgeMany: give the single-call path the real one.
      const committer = new AckCommitter(store);
      const restore = SqliteStore.prototype.acknowledgeMany.bind(store);
      store.acknowledge = async (userId, sessionId, acks) => {
        if (userId === bad) throw new Error("bad request");
        return (await restore([{ userId, sessionId, acks }]))[0]!;
      };
      const u = w.users[2]!; // a recipient of the message (see build)
      const [good, failed] = await Promise.allSettled([
        committer.submit(u.userId, u.sessionId, [{ messageId: w.messageIds[0]!, status: "READ" }]),
        committer.submit(bad, randomUUID(), [{ messageId: w.messageIds[0]!, status: "READ" }]),
      ]);
      assert.equal(good.status, "fulfilled");
      assert.equal((good as PromiseFulfilledResult<AckOutcome[]>).value[0]?.kind, "advanced");
      assert.equal(failed.status, "rejected");
      assert.equal(((failed as PromiseRejectedResult).reason as Error).message, "bad request");
    } finally {
      await store.close();
    }
  });
});

describe("ack commit pacing (ackCommitIntervalMs)", () => {
  it("the server's ack committer is paced by ackCommitIntervalMs, not by the message commits' interval", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    const blobs = mkdtempSync(join(tmpdir(), "openblaze-ack-pacing-"));
    try {
      const w: World = { users: Array.from({ length: 3 }, () => ({ userId: randomUUID(), sessionId: randomUUID() })), messageIds: Array.from({ length: 3 }, () => randomUUID()) };
      await build(store, w);
      let calls = 0;
      const many = store.acknowledgeMany.bind(store);
      store.acknowledgeMany = (r) => (calls++, many(r));
      const services = createServices(resolveConfig({ commitIntervalMs: 0, ackCommitIntervalMs: 100 }), store, new LocalBus(), new FsBlobStore(blobs));
      const u = w.users[2]!; // receives message 0 (see build)
      const ack = (i: number) => services.ackCommitter.submit(u.userId, u.sessionId, [{ messageId: w.messageIds[i]!, status: "READ" }]);
      await ack(0);
      const firstEnd = performance.now();
      await Promise.all([ack(1), new Promise((r) => setTimeout(r, 30)).then(() => ack(2))]);
      assert.equal(calls, 2, "the two acks after the first share one paced transaction");
      assert.ok(performance.now() - firstEnd >= 90, "the second transaction waited for the ack interval");
    } finally {
      await store.close();
      rmSync(blobs, { recursive: true, force: true });
    }
  });

  it("defaults to 5 ms; out-of-range values are refused", () => {
    assert.equal(resolveConfig({}).ackCommitIntervalMs, 5);
    assert.equal(resolveConfig({}).commitIntervalMs, 1);
    for (const bad of [-1, 101, Number.NaN]) assert.throws(() => resolveConfig({ ackCommitIntervalMs: bad }), /ackCommitIntervalMs must be 0..100/);
  });
});

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { SQLITE_MIGRATIONS } from "../src/store/sqlite/migrations.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { makeConversation, makeUser, newMessage, storeContract } from "./store-contract.js";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "openblaze-store-"));
}

/** A SqliteStore on a fresh file, reopened on the same file with the same options. */
function fileStore(options: { backgroundCheckpoints?: boolean } = {}) {
  return async () => {
    const dir = await tempDir();
    const path = join(dir, "openblaze.sqlite");
    let current: SqliteStore;
    try {
      current = new SqliteStore({ path, ...options });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      store: current,
      reopen: async () => {
        await current.close();
        current = new SqliteStore({ path, ...options });
        return current;
      },
      cleanup: async () => {
        await current.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

storeContract("SqliteStore (file)", fileStore());
storeContract("SqliteStore (file, background checkpoints)", fileStore({ backgroundCheckpoints: true }));

describe("SqliteStore background checkpoints", () => {
  it("copy the WAL into the database file off the main connection, which never checkpoints itself", async () => {
    const dir = await tempDir();
    const path = join(dir, "openblaze.sqlite");
    const failures: Error[] = [];
    const store = new SqliteStore({ path, backgroundCheckpoints: true, onCheckpointFailure: (e) => failures.push(e) });
    try {
      assert.equal(store.db.pragma("wal_autocheckpoint", { simple: true }), 0);
      const before = statSync(path).size;
      const u = await makeUser(store);
      const payload = randomBytes(2000);
      for (let i = 0; i < 20; i++) await store.acceptMessages(Array.from({ length: 100 }, () => newMessage(u, randomUUID(), [u], { payload })));
      // Only a checkpoint writes pages into the main file; the worker runs one every 100 ms.
      const deadline = Date.now() + 5000;
      while (statSync(path).size < before + 4_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(statSync(path).size >= before + 4_000_000, `database file grew from ${before} to ${statSync(path).size} bytes`);
      assert.deepEqual(failures, []);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keep the WAL bounded under writes that never stop, holding writes briefly and losing none", async () => {
    const dir = await tempDir();
    const path = join(dir, "openblaze.sqlite");
    const failures: Error[] = [];
    const limit = 1024 * 1024;
    const store = new SqliteStore({ path, backgroundCheckpoints: true, walSizeLimit: limit, onCheckpointFailure: (e) => failures.push(e) });
    try {
      const u = await makeUser(store);
      const payload = randomBytes(1000);
      // A PASSIVE checkpoint never finishes while commits keep coming, and SQLite only starts the WAL
      // over once everything in it is copied: without the holds the file only ever grows here. Each
      // start-over trims it back to the limit, so count the shrinks (a few per second here).
      let written = 0;
      let largest = 0;
      let shrinks = 0;
      let last = 0;
      const started = Date.now();
      while (shrinks < 3 && Date.now() - started < 10_000) {
        const outcomes = await store.acceptMessages(Array.from({ length: 100 }, () => newMessage(u, randomUUID(), [u], { payload })));
        assert.ok(outcomes.every((o) => o.kind === "created"));
        written += outcomes.length;
        const size = statSync(`${path}-wal`).size;
        if (size < last) shrinks++;
        last = size;
        largest = Math.max(largest, size);
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(shrinks >= 3, `the WAL started over ${shrinks} times in 10 s of writes (largest ${largest} bytes, ${written} messages)`);
      assert.equal(await store.pendingCount(u.userId), written);
      assert.deepEqual(failures, []);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function newUser(store: SqliteStore, fullName: string) {
  const userId = randomUUID();
  const sessionId = randomUUID();
  const user = await store.createUser({ userId, fullName, isBot: false, ownerId: "" }, { sessionId, publicKey: randomBytes(32) });
  return { ...user, sessionId };
}

const LATEST_VERSION = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));

describe("SqliteStore specifics", () => {
  let dir = "";
  let n = 0;
  const freshPath = async () => {
    const sub = join(dir, `db-${++n}`);
    await mkdir(sub);
    return join(sub, "openblaze.sqlite");
  };
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a membership changed by another connection is seen from the next event-loop turn on", async () => {
    const path = await freshPath();
    const server = new SqliteStore({ path, backgroundCheckpoints: true });
    const other = new SqliteStore({ path });
    try {
      const [a, b, c] = [await makeUser(server), await makeUser(server), await makeUser(server)];
      const conv = await makeConversation(server, a, [b]);
      const members = async () => (await server.getMembership(conv))!.participants.map((p) => p.userId).sort();
      assert.deepEqual(await members(), [a.userId, b.userId].sort());
      await other.addParticipants(conv, [{ userId: c.userId, role: "" }]);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(await members(), [a.userId, b.userId, c.userId].sort());
      // Its own background checkpoints are another connection too, but commit nothing: the cached
      // membership survives them (the cache is worth keeping only if it lasts).
      const cached = await server.getMembership(conv);
      await server.acceptMessages([newMessage(a, conv, [b])]);
      await new Promise((r) => setTimeout(r, 350));
      assert.equal(await server.getMembership(conv), cached);
      await other.removeParticipants(conv, [b.userId]);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(await members(), [a.userId, c.userId].sort());
    } finally {
      await other.close();
      await server.close();
    }
  });

  it("data survives close and reopen of the same file", async () => {
    const path = await freshPath();
    const s1 = new SqliteStore({ path });
    const alice = await newUser(s1, "alice");
    const bob = await newUser(s1, "bob");
    const conv = randomUUID();
    await s1.createConversation({ conversationId: conv, category: "CONTACT", creatorId: alice.userId, name: "", announcement: "", codeId: "" }, [
      { userId: alice.userId, role: "" },
      { userId: bob.userId, role: "" },
    ]);
    await s1.setMetaIfAbsent("node_id", "node-1");
    const payload = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0xc3, 0x28]);
    const [o] = await s1.acceptMessages([
      {
        messageId: randomUUID(),
        conversationId: conv,
        userId: alice.userId,
        sessionId: alice.sessionId,
        category: "PLAIN_TEXT",
        payload,
        representativeId: "",
        quoteMessageId: "",
        silent: false,
        expireIn: 0,
        recipientIds: [bob.userId],
      },
    ]);
    assert.equal(o?.kind, "created");
    const seq = await s1.lastSeq();
    await s1.close();

    const s2 = new SqliteStore({ path });
    try {
      const { sessionId: _a, ...aliceUser } = alice;
      assert.deepEqual(await s2.getUser(alice.userId), aliceUser);
      assert.ok(await s2.getSession(bob.userId, bob.sessionId));
      assert.equal(await s2.getMeta("node_id"), "node-1");
      assert.equal((await s2.listParticipants(conv)).length, 2);
      const rows = await s2.pendingMessages(bob.userId, bob.sessionId, 0, 10);
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]!.message.payload, payload);
      assert.equal(await s2.lastSeq(), seq);
    } finally {
      await s2.close();
    }
  });

  it("migrations are idempotent: opening a file twice and migrating again keeps schema and data", async () => {
    const path = await freshPath();
    const s1 = new SqliteStore({ path });
    assert.equal(s1.db.pragma("user_version", { simple: true }), LATEST_VERSION);
    const schema = s1.db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
    const u = await newUser(s1, "kept");
    await s1.migrate();
    await s1.close();

    const s2 = new SqliteStore({ path });
    try {
      await s2.migrate();
      await s2.migrate();
      assert.equal(s2.db.pragma("user_version", { simple: true }), LATEST_VERSION);
      assert.deepEqual(s2.db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all(), schema);
      assert.equal((await s2.getUser(u.userId))?.identityNumber, u.identityNumber);
    } finally {
      await s2.close();
    }
  });

  it("migrations 3 to 5 (mailbox and status keyed by message rowid, one-B-tree mailbox, ids in their own table) keep pending mail, statuses, ids and the seq high-water mark", async () => {
    // A file as a version-2 server left it: three messages to bob, the newest already acked (so
    // the mailbox's highest seq is gone from the table but not from its AUTOINCREMENT counter).
    const path = await freshPath();
    const old = new Database(path);
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) old.exec(m.sql);
    old.pragma("user_version = 2");
    const [alice, bob] = [randomUUID(), randomUUID()].map((userId, i) => ({ userId, sessionId: randomUUID(), n: 7000100001 + i }));
    for (const u of [alice!, bob!]) {
      old.prepare("INSERT INTO users (user_id, identity_number, full_name, is_bot, created_at) VALUES (?, ?, 'u', 0, 1)").run(u.userId, u.n);
      old.prepare("INSERT INTO sessions (session_id, user_id, public_key, created_at) VALUES (?, ?, ?, 1)").run(u.sessionId, u.userId, randomBytes(32));
    }
    const conv = randomUUID();
    old.prepare("INSERT INTO conversations VALUES (?, 'CONTACT', ?, '', '', '', 1)").run(conv, alice!.userId);
    for (const u of [alice!, bob!]) old.prepare("INSERT INTO participants VALUES (?, ?, '', 1)").run(conv, u.userId);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    ids.forEach((id, i) => {
      old
        .prepare("INSERT INTO messages (message_id, conversation_id, user_id, session_id, category, payload, representative_id, quote_message_id, silent, expire_in, created_at) VALUES (?, ?, ?, ?, 'PLAIN_TEXT', ?, '', '', 0, 0, ?)")
        .run(id, conv, alice!.userId, alice!.sessionId, Buffer.from(`m${i}`), 10 + i);
      old.prepare("INSERT INTO mailbox (seq, user_id, session_id, message_id, created_at) VALUES (?, ?, ?, ?, ?)").run(5 + i * 2, bob!.userId, bob!.sessionId, id, 10 + i);
      old.prepare("INSERT INTO message_status VALUES (?, ?, ?, ?)").run(id, bob!.userId, i === 1 ? 1 : 0, 10 + i);
    });
    old.prepare("DELETE FROM mailbox WHERE seq = 9").run();
    old.prepare("UPDATE message_status SET status = 2 WHERE message_id = ?").run(ids[2]);
    old.close();

    const store = new SqliteStore({ path });
    try {
      assert.equal(store.db.pragma("user_version", { simple: true }), LATEST_VERSION);
      assert.equal(store.db.pragma("integrity_check", { simple: true }), "ok");
      // Since migration 4 a row's seq is its message's rowid (cursors live only as long as a socket).
      const pending = await store.pendingMessages(bob!.userId, bob!.sessionId, 0, 10);
      assert.deepEqual(
        pending.map((p) => [p.seq, p.message.messageId, p.message.payload.toString()]),
        [
          [1, ids[0], "m0"],
          [2, ids[1], "m1"],
        ],
      );
      assert.equal(await store.lastSeq(), 9, "the AUTOINCREMENT high-water mark carried over");
      const mailboxIndexes = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mailbox' AND sql IS NOT NULL").all();
      assert.deepEqual(mailboxIndexes, [], "the mailbox is its primary key alone");
      // Migration 5: ids moved to message_ids, and the messages table lost its UNIQUE index.
      assert.deepEqual(store.db.prepare("SELECT message_id FROM message_ids ORDER BY row").pluck().all(), ids);
      assert.deepEqual(store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'").pluck().all(), ["messages_by_created"]);
      const [again] = await store.acceptMessages([{ ...newMessage(alice!, conv, [bob!]), messageId: ids[1]! }]);
      assert.equal(again!.kind, "duplicate");
      assert.equal((await store.getMessage(ids[2]!))?.payload.toString(), "m2");
      // Statuses carried over: ids[1] was DELIVERED, ids[2] READ, ids[0] SENT.
      const acks = await store.acknowledge(bob!.userId, bob!.sessionId, [
        { messageId: ids[0]!, status: "DELIVERED" },
        { messageId: ids[1]!, status: "DELIVERED" },
        { messageId: ids[2]!, status: "READ" },
      ]);
      assert.deepEqual(
        acks.map((a) => a.kind),
        ["advanced", "unchanged", "unchanged"],
      );
      assert.equal((await store.acknowledge(alice!.userId, alice!.sessionId, [{ messageId: ids[0]!, status: "READ" }]))[0]!.kind, "forbidden");
      assert.deepEqual(await store.pendingMessages(bob!.userId, bob!.sessionId, 0, 10), []);
      const [next] = await store.acceptMessages([newMessage(alice!, conv, [bob!])]);
      assert.equal(next!.kind, "created");
      assert.ok(next!.kind === "created" && next!.mailbox![0]!.seq === 10 && next!.seq === 10, "new mail continues after the old high-water mark");
    } finally {
      await store.close();
    }
  });

  it("each stored message takes the next seq; duplicates and conflicts take none, a message without recipients takes one", async () => {
    // The gateway counts on this to tell it saw every commit (Gateway.inSequence).
    const store = new SqliteStore({ path: await freshPath() });
    try {
      const alice = await makeUser(store, "alice");
      const bob = await makeUser(store, "bob");
      const carol = await makeUser(store, "carol");
      const conv = await makeConversation(store, alice, [bob, carol]);
      const start = await store.lastSeq();
      const first = newMessage(alice, conv, [bob, carol]);
      const outcomes = await store.acceptMessages([
        first,
        { ...first },
        { ...newMessage(bob, randomUUID(), [alice]), messageId: first.messageId },
        newMessage(alice, conv, []),
        newMessage(alice, conv, [bob]),
      ]);
      assert.deepEqual(
        outcomes.map((o) => [o.kind, o.kind === "created" ? o.seq : undefined]),
        [
          ["created", start + 1],
          ["duplicate", undefined],
          ["conflict", undefined],
          ["created", start + 2],
          ["created", start + 3],
        ],
      );
      const group = outcomes[0]!.kind === "created" ? outcomes[0]!.mailbox! : [];
      assert.deepEqual(group.map((r) => r.seq), [start + 1, start + 1], "both recipients' rows carry the message's seq");
      assert.equal(await store.lastSeq(), start + 3);
      const [again] = await store.acceptMessages([{ ...first }]);
      assert.equal(again!.kind, "duplicate");
      assert.equal(await store.lastSeq(), start + 3, "a lone duplicate takes no seq either");
    } finally {
      await store.close();
    }
  });

  it("message ids moved from memory to their table still find their messages and stop duplicates, after a reopen too", async () => {
    const path = await freshPath();
    const limit = 50;
    let store = new SqliteStore({ path, recentIdsLimit: limit });
    try {
      const [a, b, c] = [await makeUser(store), await makeUser(store), await makeUser(store)];
      const conv = await makeConversation(store, a, [b]);
      const other = await makeConversation(store, c, [b]);
      const sent = Array.from({ length: 300 }, () => newMessage(a, conv, [b]));
      for (let i = 0; i < sent.length; i += 100) await store.acceptMessages(sent.slice(i, i + 100));
      const indexed = () => store.db.prepare("SELECT count(*) FROM message_ids").pluck().get() as number;
      const deadline = Date.now() + 5000;
      while (indexed() < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(indexed(), sent.length, "every id reached message_ids");
      assert.equal(store.db.prepare("SELECT value FROM counters WHERE name = 'ids_indexed'").pluck().get(), 300);

      const check = async (s: SqliteStore) => {
        const again = await s.acceptMessages(sent.map((m) => ({ ...m, payload: Buffer.from("resent") })));
        assert.deepEqual(new Set(again.map((o) => o.kind)), new Set(["duplicate"]));
        const stolen = await s.acceptMessages([{ ...newMessage(c, other, [b]), messageId: sent[7]!.messageId }]);
        assert.equal(stolen[0]!.kind, "conflict");
        for (const m of [sent[0]!, sent[149]!, sent[299]!]) assert.deepEqual((await s.getMessage(m.messageId))?.payload, m.payload);
        const owners = await s.messageOwners(sent.map((m) => m.messageId));
        assert.equal(owners.size, sent.length);
      };
      await check(store);
      const acked = await store.acknowledge(b.userId, b.sessionId, [{ messageId: sent[42]!.messageId, status: "READ" }]);
      assert.equal(acked[0]!.kind, "advanced");
      await store.close();
      store = new SqliteStore({ path, recentIdsLimit: limit });
      await check(store);
      assert.equal(await store.pendingCount(b.userId), sent.length - 1);
    } finally {
      await store.close();
    }
  });

  it("an id can be used again once its message expired, whether its id was still in memory or already in its table", async () => {
    for (const limit of [1, 1_000_000]) {
      const path = await freshPath();
      const store = new SqliteStore({ path, recentIdsLimit: limit });
      try {
        const [a, b] = [await makeUser(store), await makeUser(store)];
        const conv = await makeConversation(store, a, [b]);
        const first = newMessage(a, conv, [b], { payload: Buffer.from("first") });
        await store.acceptMessages([first]);
        const inTable = () => store.db.prepare("SELECT count(*) FROM message_ids WHERE message_id = ?").pluck().get(first.messageId) as number;
        const deadline = Date.now() + 5000;
        while (limit === 1 && inTable() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.equal(inTable(), limit === 1 ? 1 : 0, `limit ${limit}: the id is ${limit === 1 ? "in the table" : "only in memory"}`);
        assert.equal(await store.expire(Number.MAX_SAFE_INTEGER), 1);
        assert.equal(inTable(), 0, "expiry removes the id from the table");
        assert.equal(await store.getMessage(first.messageId), undefined);
        const [back] = await store.acceptMessages([{ ...first, payload: Buffer.from("second") }]);
        assert.equal(back!.kind, "created", `limit ${limit}`);
        assert.equal((await store.getMessage(first.messageId))?.payload.toString(), "second");
        const [dup] = await store.acceptMessages([first]);
        assert.equal(dup!.kind, "duplicate");
      } finally {
        await store.close();
      }
    }
  });

  it("two stores storing messages in one file stop each other's duplicates", async () => {
    const path = await freshPath();
    const one = new SqliteStore({ path });
    const two = new SqliteStore({ path });
    try {
      const [a, b] = [await makeUser(one), await makeUser(one)];
      const conv = await makeConversation(one, a, [b]);
      const m = newMessage(a, conv, [b]);
      assert.equal((await one.acceptMessages([m]))[0]!.kind, "created");
      assert.equal((await two.acceptMessages([m]))[0]!.kind, "duplicate");
      const n = newMessage(a, conv, [b]);
      assert.equal((await two.acceptMessages([n]))[0]!.kind, "created");
      assert.equal((await one.acceptMessages([n]))[0]!.kind, "duplicate");
      assert.ok(await one.getMessage(n.messageId));
    } finally {
      await two.close();
      await one.close();
    }
  });

  it("two instances on one file (the CLI beside a running server) see each other's writes", async () => {
    const path = await freshPath();
    const server = new SqliteStore({ path });
    const cli = new SqliteStore({ path });
    try {
      const bot = await newUser(server, "bot");
      const viaCli = await newUser(cli, "made by the CLI");
      assert.deepEqual(await server.getUser(viaCli.userId), await cli.getUser(viaCli.userId));
      assert.ok(await server.getSession(viaCli.userId, viaCli.sessionId), "the server can authenticate the CLI's user");
      assert.ok(await cli.getUser(bot.userId));
      const more = await newUser(server, "after");
      const numbers = [bot, viaCli, more].map((u) => BigInt(u.identityNumber));
      assert.ok(numbers[0]! < numbers[1]! && numbers[1]! < numbers[2]!, `identity numbers interleave correctly: ${numbers.join(", ")}`);
      assert.equal((await cli.getUsers([bot.userId, viaCli.userId, more.userId])).length, 3);

      // Mail written by one connection is visible, and acknowledgeable, through the other.
      const conv = randomUUID();
      await server.createConversation({ conversationId: conv, category: "CONTACT", creatorId: bot.userId, name: "", announcement: "", codeId: "" }, [
        { userId: bot.userId, role: "" },
        { userId: viaCli.userId, role: "" },
      ]);
      const messageId = randomUUID();
      await server.acceptMessages([
        {
          messageId,
          conversationId: conv,
          userId: bot.userId,
          sessionId: bot.sessionId,
          category: "PLAIN_TEXT",
          payload: Buffer.from("hi"),
          representativeId: "",
          quoteMessageId: "",
          silent: false,
          expireIn: 0,
          recipientIds: [viaCli.userId],
        },
      ]);
      const rows = await cli.pendingMessages(viaCli.userId, viaCli.sessionId, 0, 10);
      assert.deepEqual(rows.map((r) => r.message.messageId), [messageId]);
      assert.equal(await cli.lastSeq(), await server.lastSeq());
      const [ack] = await cli.acknowledge(viaCli.userId, viaCli.sessionId, [{ messageId, status: "READ" }]);
      assert.equal(ack?.kind, "advanced");
      assert.deepEqual(await server.pendingMessages(viaCli.userId, viaCli.sessionId, 0, 10), []);
    } finally {
      await cli.close();
      await server.close();
    }
  });

  it("a store opening a fresh file while another process is migrating it waits and does not migrate twice", async () => {
    // The other process: holds the write lock with the whole schema applied but not yet committed,
    // after our store has read user_version 0. Without a re-check under the lock, our store would
    // then run migration 1 again and fail with "table meta already exists".
    const path = await freshPath();
    const require = createRequire(import.meta.url);
    const worker = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const Database = require(workerData.sqlite);
      (async () => {
        const { SQLITE_MIGRATIONS } = await import(workerData.migrations);
        const db = new Database(workerData.path);
        db.pragma("journal_mode = WAL");
        db.exec("BEGIN IMMEDIATE");
        for (const m of SQLITE_MIGRATIONS) {
          db.exec(m.sql);
          db.pragma("user_version = " + m.version);
        }
        parentPort.postMessage("locked");
        setTimeout(() => {
          db.exec("COMMIT");
          db.close();
          parentPort.postMessage("committed");
        }, 300);
      })().catch((e) => parentPort.postMessage("error: " + e.message));
      `,
      {
        eval: true,
        workerData: {
          path,
          sqlite: require.resolve("better-sqlite3"),
          migrations: new URL("../src/store/sqlite/migrations.js", import.meta.url).href,
        },
      },
    );
    const messages: string[] = [];
    const next = () => new Promise<string>((resolve) => worker.once("message", (m: string) => (messages.push(m), resolve(m))));
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    try {
      assert.equal(await next(), "locked");
      const committed = next();
      // Blocks (busy_timeout) until the worker commits.
      const store = new SqliteStore({ path });
      try {
        assert.equal(await committed, "committed");
        assert.equal(store.db.pragma("user_version", { simple: true }), LATEST_VERSION);
        const u = await newUser(store, "works");
        assert.ok(await store.getUser(u.userId));
      } finally {
        await store.close();
      }
    } finally {
      await worker.terminate();
      await exited;
    }
    assert.deepEqual(messages, ["locked", "committed"]);
  });
});

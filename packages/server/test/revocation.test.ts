/**
 * Revoked sessions and disabled users, end to end: the revocation is written by another process's
 * store handle (as the admin CLI does), and the running server(s) must refuse the tokens at once
 * and close the open sockets, on every node.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { uniqueConversationId } from "@openblaze/protocol";
import { RevocationLog } from "../src/core/revocations.js";
import { PostgresStore, SqliteStore, createServer, sqlitePath, type BlazeServer, type Revocation, type Store } from "../src/index.js";
import { parsePrometheusText, sumOf } from "../src/metrics-text.js";
import { Harness, textParams, type TestUser } from "./harness.js";
import { TEST_POSTGRES_URL, dropSchema, postgresUrlWithSchema, testSchemaName } from "./services.js";
import { openSocket, signedHttp } from "./support/child-server.js";

async function secondSession(h: Harness, u: TestUser): Promise<TestUser> {
  const acc = await h.server.services.users.addSession(u.userId);
  const creds = { userId: u.userId, sessionId: acc.sessionId, seed: acc.seed! };
  return { userId: u.userId, sessionId: acc.sessionId, creds, keystore: { ...u.keystore, session_id: acc.sessionId, session_private_key: acc.seed!.toString("hex") } };
}

describe("revocation on one node (SQLite, revoked from another process's handle)", () => {
  let h: Harness;
  /** What the CLI holds: its own connection to the same database file. */
  let admin: SqliteStore;

  before(async () => {
    h = await Harness.start({ revocationPollMs: 100 });
    admin = new SqliteStore({ path: sqlitePath({ dataDir: h.dataDir }) });
  });
  after(async () => {
    await admin.close();
    await h.close();
  });

  it("a revoked session's socket gets ERROR 401 and close 1008; its tokens get 401 at once; the user's other session works", async () => {
    const bot = await h.user("bot", true);
    const rotated = await secondSession(h, bot);
    const alice = await h.user("alice");
    const oldWs = await h.socket(bot);
    await oldWs.request("LIST_PENDING_MESSAGES");
    const newWs = await h.socket(rotated);
    await newWs.request("LIST_PENDING_MESSAGES");
    assert.equal((await h.http(bot, "GET", "/me")).status, 200, "the key is cached now");

    assert.ok(await admin.revokeSession(bot.sessionId));
    // Nothing authenticates meanwhile: the background poll finds the revocation and closes the socket.
    const error = await oldWs.next((f) => f.action === "ERROR", 3000);
    assert.equal(error.error.code, 401);
    assert.equal(error.error.extra.reason, "session revoked");
    assert.equal((await oldWs.closed).code, 1008);

    const me = await h.http(bot, "GET", "/me");
    assert.equal(me.body.error?.code, 401, "the cached key is not used any more");
    const again = await h.socket(bot);
    const refused = await again.next((f) => f.action === "ERROR");
    assert.equal(refused.error.code, 401);
    assert.equal((await again.closed).code, 1008);

    // The rotated session is untouched and still receives mail.
    assert.equal((await h.http(rotated, "GET", "/me")).status, 200);
    const conv = uniqueConversationId(alice.userId, bot.userId);
    const aliceWs = await h.socket(alice);
    const sent = await aliceWs.request("CREATE_MESSAGE", textParams(conv, bot.userId, "to the new key"));
    assert.equal(sent.error, undefined);
    const push = await newWs.push();
    assert.equal(push.data.message_id, sent.data.message_id);
    newWs.close();
    aliceWs.close();
  });

  it("HTTP is refused from the moment the revocation commits, even with the key cached and no poll yet", async () => {
    const h2 = await Harness.start({ revocationPollMs: 0 });
    const other = new SqliteStore({ path: sqlitePath({ dataDir: h2.dataDir }) });
    try {
      const u = await h2.user("u");
      assert.equal((await h2.http(u, "GET", "/me")).status, 200);
      const ws = await h2.socket(u);
      await other.revokeSession(u.sessionId);
      const me = await h2.http(u, "GET", "/me");
      assert.equal(me.body.error?.code, 401);
      // That authentication read the log, which closes the socket too.
      assert.equal((await ws.next((f) => f.action === "ERROR")).error.code, 401);
      assert.equal((await ws.closed).code, 1008);
    } finally {
      await other.close();
      await h2.close();
    }
  });

  it("disabling a user closes all its sockets and refuses its tokens; enabling lets it back in", async () => {
    const carol = await h.user("carol");
    const carol2 = await secondSession(h, carol);
    const sockets = [await h.socket(carol), await h.socket(carol2)];
    const bystander = await h.user("dave");
    const daveWs = await h.socket(bystander);

    assert.equal(await admin.setUserDisabled(carol.userId, true), true);
    for (const ws of sockets) {
      const e = await ws.next((f) => f.action === "ERROR", 3000);
      assert.equal(e.error.code, 401);
      assert.equal(e.error.extra.reason, "account disabled");
      assert.equal((await ws.closed).code, 1008);
    }
    for (const u of [carol, carol2]) {
      const r = await h.http(u, "GET", "/me");
      assert.equal(r.body.error?.code, 401);
      assert.equal(r.body.error?.extra?.reason, "account disabled");
    }
    const refused = await h.socket(carol);
    assert.equal((await refused.next((f) => f.action === "ERROR")).error.code, 401);
    assert.equal(daveWs.ws.readyState, daveWs.ws.OPEN, "other users' sockets stay open");

    assert.equal(await admin.setUserDisabled(carol.userId, false), true);
    assert.equal((await h.http(carol, "GET", "/me")).status, 200);
    const back = await h.socket(carol);
    assert.equal((await back.request("LIST_PENDING_MESSAGES")).error, undefined);
    back.close();
    daveWs.close();

    const s = parsePrometheusText(await (await fetch(`${h.httpUrl}/metrics`)).text());
    assert.ok(sumOf(s, "openblaze_auth_failures_total", { reason: "disabled" }) >= 3);
  });
});

describe("revocation across nodes (PostgreSQL)", () => {
  const schema = testSchemaName();
  const dirs: string[] = [];
  const servers: BlazeServer[] = [];
  const urls: { httpUrl: string; wsUrl: string }[] = [];
  let admin: PostgresStore;

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const dataDir = await mkdtemp(join(tmpdir(), "openblaze-revoke-"));
      dirs.push(dataDir);
      // Separate local buses: the revocation must travel through the database alone.
      const s = createServer({ port: 0, dataDir, database: postgresUrlWithSchema(schema), logLevel: "silent", revocationPollMs: 100 });
      servers.push(s);
    }
    for (const s of servers) urls.push(await s.start());
    admin = new PostgresStore({ connectionString: TEST_POSTGRES_URL, schema });
  });
  after(async () => {
    await admin?.close();
    for (const s of servers) await s.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await dropSchema(schema);
  });

  it("a session revoked in the database is refused and disconnected on every node", async () => {
    const acc = await servers[0]!.services.users.createAccount("bot", true);
    const u: TestUser = {
      userId: acc.user.userId,
      sessionId: acc.sessionId,
      creds: { userId: acc.user.userId, sessionId: acc.sessionId, seed: acc.seed! },
      keystore: { app_id: acc.user.userId, session_id: acc.sessionId, session_private_key: acc.seed!.toString("hex"), server_public_key: "" },
    };
    const sockets = [];
    for (const { httpUrl, wsUrl } of urls) {
      assert.equal((await signedHttp(httpUrl, u, "GET", "/me")).status, 200);
      const ws = await openSocket(wsUrl, u);
      await ws.request("LIST_PENDING_MESSAGES");
      sockets.push(ws);
    }
    await admin.revokeSession(u.sessionId);
    for (const ws of sockets) {
      assert.equal((await ws.next((f) => f.action === "ERROR", 3000)).error.code, 401);
      assert.equal((await ws.closed).code, 1008);
    }
    for (const { httpUrl } of urls) assert.equal((await signedHttp(httpUrl, u, "GET", "/me")).body.error?.code, 401);
  });
});

describe("RevocationLog", () => {
  /** A store with only the log, counting reads. */
  function logStore(): { store: Store; entries: Revocation[]; reads: { n: number } } {
    const entries: Revocation[] = [];
    const reads = { n: 0 };
    const store = {
      async lastRevocationSeq() {
        reads.n++;
        return entries.at(-1)?.seq ?? 0;
      },
      async revocationsAfter(after: number, limit: number) {
        reads.n++;
        await new Promise((r) => setTimeout(r, 5));
        return entries.filter((e) => e.seq > after).slice(0, limit);
      },
    } as unknown as Store;
    return { store, entries, reads };
  }
  const entry = (seq: number, userId: string, sessionId = ""): Revocation => ({ seq, userId, sessionId, createdAt: Date.now() * 1000 });

  it("starts at the end of the log, then reports each later entry once, in order", async () => {
    const { store, entries } = logStore();
    entries.push(entry(1, "old"));
    const log = new RevocationLog(store);
    const seen: number[] = [];
    log.onRevoked((r) => seen.push(r.seq));
    await log.sync();
    assert.equal(log.position, 1);
    entries.push(entry(2, "u1", "s1"), entry(3, "u2"));
    await log.sync();
    await log.sync();
    assert.deepEqual(seen, [2, 3]);
    assert.equal(log.revokedSince(1, "u1", "s1"), true);
    assert.equal(log.revokedSince(1, "u1", "s2"), false, "another session of u1");
    assert.equal(log.revokedSince(1, "u2", "any"), true, "u2 disabled: every session");
    assert.equal(log.revokedSince(2, "u1", "s1"), false, "validated after the revocation");
    assert.equal(log.revokedSince(3, "u2", "any"), false);
  });

  it("concurrent syncs share reads, and a sync started during a read waits for a fresh one", async () => {
    const { store, entries, reads } = logStore();
    const log = new RevocationLog(store);
    await log.sync();
    reads.n = 0;
    const first = log.sync();
    entries.push(entry(1, "u", "s"));
    const waiting = Array.from({ length: 50 }, () => log.sync());
    await Promise.all([first, ...waiting]);
    assert.ok(reads.n <= 2, `${reads.n} reads for 51 syncs`);
    assert.equal(log.position, 1, "the later callers saw the entry committed during the first read");
  });

  it("identities older than the entries kept in memory count as revoked (the caller re-reads the store)", async () => {
    const { store, entries } = logStore();
    const log = new RevocationLog(store);
    await log.sync();
    for (let i = 1; i <= 5000; i++) entries.push(entry(i, `u${i}`, "s"));
    await log.sync();
    assert.equal(log.revokedSince(4999, "u1", "s"), false);
    assert.equal(log.revokedSince(10, "nobody", "s"), true, "too old to tell");
  });
});

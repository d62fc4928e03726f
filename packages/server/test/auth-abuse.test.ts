import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { newUuid, signToken, uniqueConversationId } from "@openblaze/protocol";
import { createServer, sqlitePath, SqliteStore, type BlazeServer, type Store } from "../src/index.js";
import { b64, textParams, type TestSocket, type TestUser } from "./harness.js";
import { openSocket, signedHttp, sleep } from "./support/child-server.js";
import type { StormOptions, StormResult } from "./support/storm-worker.js";

/**
 * Authentication and authorisation under abuse (RELIABILITY.md §4). The store is wrapped so every
 * call is counted: bad tokens must be refused before any store work, a storm of them must not slow
 * legitimate traffic, and a valid token only ever reaches its own user's messages.
 */

function counting(store: Store): { store: Store; calls: Map<string, number>; total(): number } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}

const now = () => Math.floor(Date.now() / 1000);
const bearer = (t: string) => `Bearer ${t}`;

/** A token with any header and claims, signed by `seed`'s key or garbage. */
function rawToken(header: object, claims: object, signature = "AAAA"): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part(header)}.${part(claims)}.${signature}`;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}

describe("auth abuse", () => {
  let dataDir: string;
  let server: BlazeServer;
  let wsUrl: string;
  let httpUrl: string;
  let counted: ReturnType<typeof counting>;
  let bot: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let outsider: TestUser;

  const user = async (name: string, isBot = false): Promise<TestUser> => {
    const acc = await server.services.users.createAccount(name, isBot);
    const creds = { userId: acc.user.userId, sessionId: acc.sessionId, seed: acc.seed! };
    return { userId: creds.userId, sessionId: creds.sessionId, creds, keystore: { app_id: creds.userId, session_id: creds.sessionId, session_private_key: creds.seed.toString("hex"), server_public_key: "" } };
  };

  /** Opens a socket with this Authorization header and expects one ERROR 401 and close 1008. */
  async function refusedSocket(authorization: string | undefined): Promise<void> {
    const s = await openSocket(wsUrl, undefined, authorization ?? "");
    const closed = await s.closed;
    assert.equal(closed.code, 1008);
    assert.equal(s.frames.length, 1);
    assert.equal(s.frames[0]!.error.code, 401);
  }

  async function refusedHttp(authorization: string, method = "GET", path = "/me", body?: unknown): Promise<void> {
    const raw = body === undefined ? undefined : JSON.stringify(body);
    const res = await fetch(httpUrl + path, { method, headers: { authorization, "content-type": "application/json" }, ...(raw && { body: raw }) });
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, 401);
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "openblaze-auth-"));
    counted = counting(new SqliteStore({ path: sqlitePath({ dataDir }) }));
    server = createServer({ port: 0, dataDir, logLevel: "silent" }, { store: counted.store });
    ({ wsUrl, httpUrl } = await server.start());
    bot = await user("bot", true);
    alice = await user("alice");
    bob = await user("bob");
    outsider = await user("outsider");
  });
  after(async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("malformed, expired, future, wrong-sig and alg-none tokens are refused before any store call", async () => {
    const creds = alice.creds;
    const badHeaders: [string, string | undefined][] = [
      ["missing", undefined],
      ["not bearer", "Basic YTpi"],
      ["garbage", "Bearer x"],
      ["three dots of garbage", "Bearer a.b.c"],
      ["alg none", bearer(rawToken({ alg: "none" }, { uid: alice.userId, sid: alice.sessionId, iat: now(), exp: now() + 60, sig: "" }, ""))],
      ["uid not a uuid", bearer(rawToken({ alg: "EdDSA" }, { uid: "1", sid: alice.sessionId, iat: now(), exp: now() + 60, sig: "x" }))],
      ["exp a string", bearer(rawToken({ alg: "EdDSA" }, { uid: alice.userId, sid: alice.sessionId, iat: now(), exp: "never", sig: "x" }))],
      ["expired", bearer(signToken(creds, { method: "GET", uri: "/", nowSeconds: now() - 7200, ttlSeconds: 60 }))],
      ["iat 10 minutes ahead", bearer(signToken(creds, { method: "GET", uri: "/", nowSeconds: now() + 600 }))],
      ["sig for another request", bearer(signToken(creds, { method: "POST", uri: "/messages", body: "[]" }))],
    ];
    counted.calls.clear();
    for (const [, header] of badHeaders) await refusedSocket(header);
    for (const [name, header] of badHeaders) if (header && name !== "sig for another request") await refusedHttp(header);
    assert.deepEqual(Object.fromEntries(counted.calls), {}, "no store call for any of them");
  });

  it("a token for an unknown session costs one lookup, then is refused from cache", async () => {
    const stranger = { ...alice.creds, sessionId: newUuid() };
    counted.calls.clear();
    for (let i = 0; i < 20; i++) await refusedSocket(bearer(signToken(stranger, { method: "GET", uri: "/" })));
    assert.equal(counted.calls.get("getSession"), 1);
    // The first one also read the revocation log (core/revocations.ts); the cached refusals did not.
    assert.ok(counted.total() <= 3, JSON.stringify(Object.fromEntries(counted.calls)));
  });

  it("forged signatures for a real session cost at most one key lookup (cached), then the real token still works", async () => {
    const dave = await user("dave");
    const forger = { ...dave.creds, seed: Buffer.alloc(32, 7) };
    counted.calls.clear();
    for (let i = 0; i < 20; i++) await refusedSocket(bearer(signToken(forger, { method: "GET", uri: "/" })));
    assert.equal(counted.calls.get("getSession"), 1);
    assert.ok(counted.total() <= 4, `once the key is cached, forgeries cost no store call: ${JSON.stringify(Object.fromEntries(counted.calls))}`);
    const s = await openSocket(wsUrl, dave);
    assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined);
    assert.equal(counted.calls.get("getSession"), 1, "the real token used the cached key");
    s.close();
  });

  it("a token for A cannot read, ack or impersonate B", async () => {
    const conv = uniqueConversationId(bot.userId, bob.userId);
    const bs = await openSocket(wsUrl, bot);
    await bs.request("LIST_PENDING_MESSAGES");
    const p = textParams(conv, bob.userId, "for bob only");
    assert.equal((await bs.request("CREATE_MESSAGE", p)).error, undefined);

    // Alice's own mailbox never shows Bob's mail.
    const as = await openSocket(wsUrl, alice);
    await as.request("LIST_PENDING_MESSAGES");
    assert.ok(await as.noPush(300));
    // Acking it (WS single, WS batch, HTTP) is refused and changes nothing.
    assert.equal((await as.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: p.message_id, status: "READ" })).error.code, 403);
    assert.equal((await as.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", { messages: [{ message_id: p.message_id, status: "DELIVERED" }] })).error.code, 403);
    const http = await signedHttp(httpUrl, alice, "POST", "/acknowledgements", [{ message_id: p.message_id, status: "READ" }]);
    assert.equal(http.body.error.code, 403);
    assert.ok(await bs.noPush(200), "the sender got no receipt");
    assert.equal(bs.frames.filter((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT").length, 0);
    // Reading Bob's conversation.
    assert.equal((await signedHttp(httpUrl, alice, "GET", `/conversations/${conv}`)).body.error.code, 403);

    // Alice's key with Bob's ids, or mixed ids: unknown session.
    await refusedSocket(bearer(signToken({ ...alice.creds, userId: bob.userId }, { method: "GET", uri: "/" })));
    await refusedSocket(bearer(signToken({ ...alice.creds, sessionId: bob.sessionId }, { method: "GET", uri: "/" })));
    await refusedSocket(bearer(signToken({ ...bob.creds, seed: alice.creds.seed }, { method: "GET", uri: "/" })));
    // Tokens are bound to their request: a socket token or a GET /me token does not post acks.
    await refusedHttp(bearer(signToken(alice.creds, { method: "GET", uri: "/" })), "POST", "/acknowledgements", [{ message_id: p.message_id, status: "READ" }]);
    await refusedHttp(bearer(signToken(bob.creds, { method: "GET", uri: "/me" })), "POST", "/acknowledgements", [{ message_id: p.message_id, status: "READ" }]);

    // Bob still gets it, once.
    const bobs = await openSocket(wsUrl, bob);
    await bobs.request("LIST_PENDING_MESSAGES");
    assert.equal((await bobs.push()).data.message_id, p.message_id);
    assert.ok(await bobs.noPush(200));
    for (const s of [bs, as, bobs]) s.close();
  });

  it("non-participants can neither send to, read, nor ack in a conversation", async () => {
    const g = await signedHttp(httpUrl, bot, "POST", "/conversations", { category: "GROUP", name: "members only", participants: [{ user_id: bob.userId }] });
    const group = g.body.data.conversation_id as string;
    const bs = await openSocket(wsUrl, bot);
    const inGroup = { conversation_id: group, message_id: newUuid(), category: "PLAIN_TEXT", data: b64("members only") };
    assert.equal((await bs.request("CREATE_MESSAGE", inGroup)).error, undefined);

    const os: TestSocket = await openSocket(wsUrl, outsider);
    const tries: Record<string, unknown>[] = [
      { conversation_id: group, message_id: newUuid(), category: "PLAIN_TEXT", data: b64("let me in") },
      { conversation_id: group, recipient_id: bob.userId, message_id: newUuid(), category: "PLAIN_TEXT", data: b64("let me in") },
      // Someone else's 1:1 conversation, named with its real id.
      { conversation_id: uniqueConversationId(bot.userId, bob.userId), recipient_id: bob.userId, message_id: newUuid(), category: "PLAIN_TEXT", data: b64("hi") },
    ];
    for (const t of tries) {
      assert.equal((await os.request("CREATE_MESSAGE", t)).error.code, 403, JSON.stringify(t));
      assert.equal((await signedHttp(httpUrl, outsider, "POST", "/messages", { ...t, message_id: newUuid() })).body.error.code, 403);
    }
    assert.equal((await os.request("CREATE_PLAIN_MESSAGES", { messages: [{ ...tries[0]!, message_id: newUuid() }] })).error.code, 403);
    assert.equal((await signedHttp(httpUrl, outsider, "POST", "/messages", [{ ...tries[0]!, message_id: newUuid() }])).body.error.code, 403);
    // Reusing a member's message_id is not a way in either.
    assert.equal((await os.request("CREATE_MESSAGE", { ...tries[0]!, message_id: inGroup.message_id })).error.code, 403);
    assert.equal((await signedHttp(httpUrl, outsider, "GET", `/conversations/${group}`)).body.error.code, 403);
    assert.equal((await os.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: inGroup.message_id, status: "READ" })).error.code, 403);
    assert.equal((await signedHttp(httpUrl, outsider, "POST", `/conversations/${group}/participants/ADD`, [{ user_id: outsider.userId, action: "ADD" }])).body.error.code, 403);

    // Bob got the members' message and nothing from the outsider.
    const bobs = await openSocket(wsUrl, bob);
    await bobs.request("LIST_PENDING_MESSAGES");
    const got: string[] = [];
    for (;;) {
      try {
        const p = await bobs.push(400);
        if (p.data.category !== "SYSTEM_CONVERSATION") got.push(p.data.user_id);
      } catch {
        break;
      }
    }
    assert.ok(got.length > 0 && got.every((u) => u === bot.userId), JSON.stringify(got));
    for (const s of [bs, os, bobs]) s.close();
  });

  it("a reconnect storm of bad tokens is refused in-band with no store work and barely slows legitimate traffic", { timeout: 60_000 }, async (t) => {
    const conv = uniqueConversationId(bot.userId, alice.userId);
    const bs = await openSocket(wsUrl, bot);
    await bs.request("LIST_PENDING_MESSAGES");
    /** Sequential CREATE_MESSAGE round trips for `ms` milliseconds. */
    const rtts = async (ms: number): Promise<number[]> => {
      const out: number[] = [];
      const end = performance.now() + ms;
      for (let i = 0; performance.now() < end; i++) {
        const t0 = performance.now();
        const r = await bs.request("CREATE_MESSAGE", textParams(conv, alice.userId, `rtt ${i}`));
        out.push(performance.now() - t0);
        assert.equal(r.error, undefined);
        bs.frames.length = 0;
      }
      return out;
    };
    await rtts(200); // warm up
    const base = await rtts(1500);

    const { privateKey } = generateKeyPairSync("ed25519");
    const forged = rawToken({ alg: "EdDSA", typ: "JWT" }, { uid: alice.userId, sid: alice.sessionId, iat: now(), exp: now() + 3600, jti: newUuid(), sig: "f837ebeb4c2981ad9c64b70d0b0d18724c76c60781b9e4bf7a582510df7ada39", scp: "FULL" });
    const [h, c] = forged.split(".");
    const forgedSigned = `${h}.${c}.${sign(null, Buffer.from(`${h}.${c}`), privateKey).toString("base64url")}`;
    const tokens = [
      "Bearer x",
      bearer(signToken(alice.creds, { method: "GET", uri: "/", nowSeconds: now() - 7200, ttlSeconds: 60 })),
      bearer(signToken(alice.creds, { method: "GET", uri: "/", nowSeconds: now() + 3600 })),
      bearer(signToken(alice.creds, { method: "POST", uri: "/messages", body: "[]" })),
      bearer(signToken({ ...alice.creds, sessionId: newUuid() }, { method: "GET", uri: "/" })),
      bearer(forgedSigned),
    ];
    const port = Number(new URL(httpUrl).port);
    const worker = new Worker(new URL("./support/storm-worker.js", import.meta.url), {
      workerData: { kind: "storm", host: "127.0.0.1", port, tokens, concurrency: 64 } satisfies StormOptions,
    });
    try {
      await sleep(300);
      counted.calls.clear();
      const during = await rtts(2000);
      const lookups = counted.calls.get("getSession") ?? 0;
      const storeCalls = Object.fromEntries(counted.calls);
      // Legit traffic makes one of each of these per message; the storm adds nothing.
      const legit = counted.calls.get("acceptMessages") ?? 0;
      const stormCalls = counted.total() - 3 * legit;
      const result = await new Promise<StormResult>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
        worker.postMessage("stop");
      });
      const rate = Math.round((result.attempts * 1000) / result.ms);
      const [b50, b99, d50, d99] = [percentile(base, 50), percentile(base, 99), percentile(during, 50), percentile(during, 99)];
      t.diagnostic(
        `storm: ${result.attempts} bad-token upgrades in ${result.ms} ms (${rate}/s, 64 loops), ${result.refused401} answered ERROR 401 + close 1008, ` +
          `${result.errors} errors; store calls caused by the storm: ${stormCalls} (all meanwhile, legit included: ${JSON.stringify(storeCalls)}); ` +
          `legit CREATE_MESSAGE round trip p50/p99: before ${b50.toFixed(2)}/${b99.toFixed(2)} ms (${base.length}), during ${d50.toFixed(2)}/${d99.toFixed(2)} ms (${during.length})`,
      );
      assert.ok(result.attempts > 500, `the storm ran (${result.attempts})`);
      assert.ok(result.refused401 >= result.attempts * 0.9, "refused in-band, as the apps expect");
      assert.equal(result.upgraded, result.refused401);
      // Only the unknown session could need a lookup, and the negative cache makes it one at most.
      assert.ok(lookups <= 1, `${lookups} session lookups`);
      assert.ok(stormCalls <= 3, `store calls caused by the storm: ${JSON.stringify(storeCalls)}`);
      assert.ok(d50 < Math.max(10 * b50, 25), `p50 ${d50.toFixed(2)} ms during vs ${b50.toFixed(2)} ms before`);
    } finally {
      await worker.terminate();
    }
    // Everything refused is gone: the legit socket is the gateway's only one, and it still works.
    await sleep(200);
    const ok = await openSocket(wsUrl, alice);
    assert.equal((await ok.request("LIST_PENDING_MESSAGES")).error, undefined);
    ok.close();
    bs.close();
  });
});

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { generateEd25519, isUuid, newUuid, privateKeyFromSeed, signToken, uniqueConversationId } from "@openblaze/protocol";
import { Harness, b64, textParams, type HttpResult, type TestSocket, type TestUser } from "./harness.js";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** 200 {"data": ...}; returns data. */
function ok(res: HttpResult): any {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.error, undefined, JSON.stringify(res.body));
  assert.ok("data" in res.body, "success envelope has data");
  return res.body.data;
}

/** Business errors travel as HTTP 202 {"error": {status: 202, code, description}}. */
function fails(res: HttpResult, code: number): any {
  assert.equal(res.status, 202, `expected HTTP 202, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.data, undefined);
  const e = res.body.error;
  assert.equal(typeof e, "object", JSON.stringify(res.body));
  assert.equal(e.code, code, JSON.stringify(e));
  assert.equal(e.status, 202);
  assert.equal(typeof e.description, "string");
  assert.notEqual(e.description, "");
  return e;
}

async function subscribed(h: Harness, u: TestUser): Promise<TestSocket> {
  const s = await h.socket(u);
  const r = await s.request("LIST_PENDING_MESSAGES");
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  return s;
}

const now = () => Math.floor(Date.now() / 1000);

describe("HTTP API", () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  before(async () => {
    h = await Harness.start();
    bot = await h.user("Echo Bot", true);
    alice = await h.user("Alice");
    bob = await h.user("Bob");
    carol = await h.user("Carol");
  });
  after(async () => h.close());

  describe("envelope and headers", () => {
    it("success is HTTP 200 {data}; X-Request-Id is echoed; X-Server-Time is unix ns", async () => {
      const rid = newUuid();
      const res = await h.http(alice, "GET", "/me", undefined, { "x-request-id": rid });
      ok(res);
      assert.deepEqual(Object.keys(res.body), ["data"]);
      assert.equal(res.headers.get("x-request-id"), rid);
      const t = res.headers.get("x-server-time");
      assert.ok(t && /^\d+$/.test(t), `X-Server-Time ${t}`);
      assert.ok(Math.abs(Number(BigInt(t) / 1_000_000n) - Date.now()) < 60_000, "X-Server-Time is now, in nanoseconds");
    });

    it("errors are HTTP 202 {error:{status,code,description}}, still with both headers", async () => {
      const rid = newUuid();
      const res = await h.http(alice, "GET", `/users/${newUuid()}`, undefined, { "x-request-id": rid });
      fails(res, 10404);
      assert.deepEqual(Object.keys(res.body), ["error"]);
      assert.equal(res.headers.get("x-request-id"), rid);
      assert.ok(res.headers.get("x-server-time"));
    });

    it("generates an X-Request-Id when the client sent none", async () => {
      const res = await fetch(`${h.httpUrl}/me`, { headers: { authorization: `Bearer ${h.token(alice, "GET", "/me")}` } });
      assert.equal(res.status, 200);
      const id = res.headers.get("x-request-id");
      assert.ok(isUuid(id), `generated X-Request-Id ${id}`);
      assert.ok(res.headers.get("x-server-time"));
    });

    it("a body that is not JSON → 400 (HTTP 202)", async () => {
      const rid = newUuid();
      const res = await h.http(bot, "POST", "/messages", "{not json", { "x-request-id": rid });
      fails(res, 400);
      assert.equal(res.headers.get("x-request-id"), rid);
      fails(await h.http(bot, "POST", "/users/fetch", "[1, 2"), 400);
    });

    it("unknown route → code 404 (HTTP 202), signed or not", async () => {
      const rid = newUuid();
      const res = await h.http(alice, "GET", "/no/such/route", undefined, { "x-request-id": rid });
      fails(res, 404);
      assert.equal(res.headers.get("x-request-id"), rid);
      assert.ok(res.headers.get("x-server-time"));
      fails(await h.http(alice, "POST", "/no/such/route", {}), 404);
      fails(await h.http(undefined, "GET", "/nothing-here"), 404);
    });
  });

  describe("users", () => {
    it("GET /me: user_id, session_id, full_name, identity_number; app_id only for bots", async () => {
      const me = ok(await h.http(alice, "GET", "/me"));
      assert.equal(me.type, "user");
      assert.equal(me.user_id, alice.userId);
      assert.equal(me.session_id, alice.sessionId);
      assert.equal(me.full_name, "Alice");
      assert.equal(typeof me.identity_number, "string");
      assert.match(me.identity_number, /^\d+$/);
      assert.equal(me.app_id, "");
      assert.equal(me.relationship, "ME");

      const b = ok(await h.http(bot, "GET", "/me"));
      assert.equal(b.user_id, bot.userId);
      assert.equal(b.session_id, bot.sessionId);
      assert.equal(b.full_name, "Echo Bot");
      assert.equal(b.app_id, bot.userId);
      assert.notEqual(b.identity_number, me.identity_number);
    });

    it("GET /users/:id: found; unknown → 10404; not a uuid → 10002", async () => {
      const u = ok(await h.http(alice, "GET", `/users/${bob.userId}`));
      assert.equal(u.user_id, bob.userId);
      assert.equal(u.full_name, "Bob");
      assert.equal(u.relationship, "STRANGER");
      assert.equal(u.app_id, "");
      const b = ok(await h.http(alice, "GET", `/users/${bot.userId}`));
      assert.equal(b.app_id, bot.userId);
      fails(await h.http(alice, "GET", `/users/${newUuid()}`), 10404);
      fails(await h.http(alice, "GET", "/users/not-a-uuid"), 10002);
    });

    it("POST /users/fetch returns the known users and skips unknown ones", async () => {
      const list = ok(await h.http(alice, "POST", "/users/fetch", [bob.userId, newUuid(), carol.userId]));
      assert.ok(Array.isArray(list));
      assert.deepEqual(list.map((u: any) => u.user_id).sort(), [bob.userId, carol.userId].sort());
      assert.deepEqual(ok(await h.http(alice, "POST", "/users/fetch", [newUuid()])), []);
    });

    it("POST /users by a bot creates a network user who signs in with its own key", async () => {
      const { publicKey, privateKey } = generateKeyPairSync("ed25519");
      const sessionSecret = publicKey.export({ format: "jwk" }).x!;
      assert.match(sessionSecret, /^[A-Za-z0-9_-]{43}$/, "base64url, no padding");
      const created = ok(await h.http(bot, "POST", "/users", { full_name: "Network User", session_secret: sessionSecret }));
      assert.ok(isUuid(created.user_id));
      assert.ok(isUuid(created.session_id));
      assert.equal(created.full_name, "Network User");
      assert.equal(created.app_id, "");

      const creds = { userId: created.user_id, sessionId: created.session_id, seed: Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url") };
      const token = signToken(creds, { method: "GET", uri: "/me" });
      const me = ok(await h.http(undefined, "GET", "/me", undefined, { authorization: `Bearer ${token}` }));
      assert.equal(me.user_id, created.user_id);
      assert.equal(me.session_id, created.session_id);
      assert.equal(me.full_name, "Network User");

      // Someone else's key does not open that account.
      const forged = signToken({ ...creds, seed: generateEd25519().seed }, { method: "GET", uri: "/me" });
      fails(await h.http(undefined, "GET", "/me", undefined, { authorization: `Bearer ${forged}` }), 401);
      // And the new user is visible to others.
      assert.equal(ok(await h.http(alice, "GET", `/users/${created.user_id}`)).full_name, "Network User");
    });

    it("POST /users by a non-bot → 403; a bad session_secret → 10002", async () => {
      const pub = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x!;
      fails(await h.http(alice, "POST", "/users", { full_name: "Sneaky", session_secret: pub }), 403);
      fails(await h.http(bot, "POST", "/users", { full_name: "Short key", session_secret: "AAAA" }), 10002);
      fails(await h.http(bot, "POST", "/users", { session_secret: pub }), 10002);
    });
  });

  describe("authentication: every failure is code 401 over HTTP 202", () => {
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const cases: [string, () => Promise<HttpResult>][] = [
      ["missing Authorization header", () => h.http(undefined, "GET", "/me")],
      ["not a Bearer token", () => h.http(undefined, "GET", "/me", undefined, { authorization: `Basic ${b64("a:b")}` })],
      ["malformed token", () => h.http(undefined, "GET", "/me", undefined, { authorization: "Bearer not.a.jwt" })],
      ["garbage token", () => h.http(undefined, "GET", "/me", undefined, { authorization: "Bearer x" })],
      ["expired token", () => h.http(undefined, "GET", "/me", undefined, bearer(signToken(alice.creds, { method: "GET", uri: "/me", nowSeconds: now() - 7200, ttlSeconds: 3600 })))],
      ["iat more than 5 min in the future", () => h.http(undefined, "GET", "/me", undefined, bearer(signToken(alice.creds, { method: "GET", uri: "/me", nowSeconds: now() + 600 })))],
      ["forged signature (another key)", () => h.http(undefined, "GET", "/me", undefined, bearer(signToken(alice.creds, { method: "GET", uri: "/me" }, privateKeyFromSeed(generateEd25519().seed))))],
      [
        "sig for a different body",
        () => h.http(undefined, "POST", "/users/fetch", [bob.userId], bearer(signToken(alice.creds, { method: "POST", uri: "/users/fetch", body: "[]" }))),
      ],
      ["sig for a different path", () => h.http(undefined, "GET", `/users/${bob.userId}`, undefined, bearer(signToken(alice.creds, { method: "GET", uri: `/users/${carol.userId}` })))],
      ["sig for a different method", () => h.http(undefined, "GET", "/me", undefined, bearer(signToken(alice.creds, { method: "POST", uri: "/me" })))],
      ["unknown session", () => h.http(undefined, "GET", "/me", undefined, bearer(signToken({ ...alice.creds, sessionId: newUuid() }, { method: "GET", uri: "/me" })))],
      ["unknown user", () => h.http(undefined, "GET", "/me", undefined, bearer(signToken({ ...alice.creds, userId: newUuid() }, { method: "GET", uri: "/me" })))],
    ];
    for (const [name, run] of cases) {
      it(name, async () => {
        fails(await run(), 401);
      });
    }

    it("a little clock skew (iat 4 min ahead) is accepted", async () => {
      ok(await h.http(undefined, "GET", "/me", undefined, bearer(signToken(alice.creds, { method: "GET", uri: "/me", nowSeconds: now() + 240 }))));
    });

    it("the query string is part of the signed URI", async () => {
      const path = `/users/${bob.userId}?lang=en&x=1`;
      assert.equal(ok(await h.http(alice, "GET", path)).user_id, bob.userId);
      fails(await h.http(undefined, "GET", path, undefined, bearer(signToken(alice.creds, { method: "GET", uri: `/users/${bob.userId}` }))), 401);
      fails(await h.http(undefined, "GET", path, undefined, bearer(signToken(alice.creds, { method: "GET", uri: `/users/${bob.userId}?lang=en&x=2` }))), 401);
    });

    it("a failed authentication has no effect: nothing is sent", async () => {
      const r = await h.user("r");
      const p = textParams(uniqueConversationId(bot.userId, r.userId), r.userId, "should never arrive");
      fails(await h.http(undefined, "POST", "/messages", p, bearer(signToken(bot.creds, { method: "POST", uri: "/messages", body: "[]" }))), 401);
      const cs = await subscribed(h, r);
      assert.ok(await cs.noPush(300));
      cs.close();
    });
  });

  describe("POST /messages", () => {
    it("one object → its MessageView (status SENT, every field present), delivered to the recipient", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const rs = await subscribed(h, r);
      const p = textParams(conv, r.userId, "héllo 👋");
      const v = ok(await h.http(bot, "POST", "/messages", p));
      const strings = ["type", "conversation_id", "user_id", "session_id", "message_id", "category", "data", "data_base64", "status", "source", "representative_id", "quote_message_id", "created_at", "updated_at"];
      for (const k of strings) assert.equal(typeof v[k], "string", `${k} is a string in ${JSON.stringify(v)}`);
      assert.equal(typeof v.silent, "boolean");
      assert.equal(typeof v.expire_in, "number");
      assert.equal(v.type, "message");
      assert.equal(v.status, "SENT");
      assert.equal(v.message_id, p.message_id);
      assert.equal(v.conversation_id, conv);
      assert.equal(v.user_id, bot.userId);
      assert.equal(v.session_id, bot.sessionId);
      assert.equal(v.category, "PLAIN_TEXT");
      assert.equal(v.data, Buffer.from("héllo 👋").toString("base64"));
      assert.equal(v.data_base64, Buffer.from("héllo 👋").toString("base64url"));
      assert.equal(v.representative_id, "");
      assert.equal(v.quote_message_id, "");
      assert.equal(v.silent, false);
      assert.equal(v.expire_in, 0);
      assert.match(v.created_at, RFC3339);
      assert.match(v.updated_at, RFC3339);

      const push = await rs.push();
      assert.equal(push.data.message_id, p.message_id);
      assert.equal(push.data.source, "CREATE_MESSAGE");
      assert.equal(Buffer.from(push.data.data, "base64").toString(), "héllo 👋");
      rs.close();
    });

    it("an array → {} and every item reaches the recipient's socket, in order", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const rs = await subscribed(h, r);
      const items = [1, 2, 3].map((i) => textParams(conv, r.userId, `batch ${i}`));
      assert.deepEqual(ok(await h.http(bot, "POST", "/messages", items)), {});
      for (const item of items) {
        const push = await rs.push();
        assert.equal(push.data.message_id, item.message_id);
        assert.equal(push.data.user_id, bot.userId);
        assert.equal(push.data.conversation_id, conv);
      }
      assert.ok(await rs.noPush(200));
      rs.close();
    });

    it("a batch of 101 → 10002, nothing delivered; exactly 100 is fine", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const rs = await subscribed(h, r);
      const items = Array.from({ length: 101 }, (_, i) => textParams(conv, r.userId, `item ${i}`));
      fails(await h.http(bot, "POST", "/messages", items), 10002);
      const sentinel = textParams(conv, r.userId, "sentinel");
      ok(await h.http(bot, "POST", "/messages", sentinel));
      assert.equal((await rs.push()).data.message_id, sentinel.message_id, "an item of a refused batch was delivered");
      assert.ok(await rs.noPush(200));
      assert.deepEqual(ok(await h.http(bot, "POST", "/messages", items.slice(0, 100))), {});
      for (const item of items.slice(0, 100)) assert.equal((await rs.push()).data.message_id, item.message_id);
      rs.close();
    });

    it("one invalid item → 10002 naming its index, and nothing from that batch is delivered", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const rs = await subscribed(h, r);
      const good = textParams(conv, r.userId, "good");
      const invalid: [string, Record<string, unknown>][] = [
        ["bad message_id", { ...textParams(conv, r.userId, "x"), message_id: "nope" }],
        ["missing data", { ...textParams(conv, r.userId, "x"), data: "" }],
        ["unknown category", { ...textParams(conv, r.userId, "x"), category: "PLAIN_NOPE" }],
        ["server-only category", { ...textParams(conv, r.userId, "x"), category: "SYSTEM_CONVERSATION" }],
        ["invalid payload", { ...textParams(conv, r.userId, "x"), category: "PLAIN_IMAGE", data: b64("{}") }],
        ["duplicate id in the batch", { ...textParams(conv, r.userId, "x"), message_id: good.message_id }],
      ];
      for (const [name, bad] of invalid) {
        const e = fails(await h.http(bot, "POST", "/messages", [good, bad]), 10002);
        assert.equal(e.extra?.index, 1, `${name}: ${JSON.stringify(e)}`);
      }
      // A later item in a conversation the sender is not in (403) refuses the earlier one too.
      const x = await h.user("x");
      const y = await h.user("y");
      const foreign = textParams(uniqueConversationId(x.userId, y.userId), y.userId, "x to y");
      ok(await h.http(x, "POST", "/messages", foreign));
      fails(await h.http(bot, "POST", "/messages", [good, { ...foreign, message_id: newUuid() }]), 403);

      const sentinel = textParams(conv, r.userId, "sentinel");
      ok(await h.http(bot, "POST", "/messages", sentinel));
      assert.equal((await rs.push()).data.message_id, sentinel.message_id, "the good item of a refused batch was delivered");
      assert.ok(await rs.noPush(200));
      rs.close();
    });

    it("an item whose message_id another sender already used → 10002, and nothing from that batch is delivered", async () => {
      const x = await h.user("x");
      const y = await h.user("y");
      const taken = textParams(uniqueConversationId(x.userId, y.userId), y.userId, "x's message");
      ok(await h.http(x, "POST", "/messages", taken));
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const rs = await subscribed(h, r);
      const good = textParams(conv, r.userId, "good");
      const clash = textParams(conv, r.userId, "clash", { message_id: taken.message_id });
      const e = fails(await h.http(bot, "POST", "/messages", [good, clash]), 10002);
      assert.equal(e.extra?.field, "message_id");
      const sentinel = textParams(conv, r.userId, "sentinel");
      ok(await h.http(bot, "POST", "/messages", sentinel));
      assert.equal((await rs.push()).data.message_id, sentinel.message_id, "the good item of a refused batch was delivered");
      assert.ok(await rs.noPush(200));
      // Fixed and retried, the good item is new (not a silent duplicate) and is delivered.
      const fixed = { ...clash, message_id: newUuid() };
      assert.deepEqual(ok(await h.http(bot, "POST", "/messages", [good, fixed])), {});
      assert.equal((await rs.push()).data.message_id, good.message_id);
      assert.equal((await rs.push()).data.message_id, fixed.message_id);
      rs.close();
    });

    it("a repeated message_id succeeds with the stored message and is delivered exactly once", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const rs = await subscribed(h, r);
      const p = textParams(conv, r.userId, "once");
      const first = ok(await h.http(bot, "POST", "/messages", p));
      const again = ok(await h.http(bot, "POST", "/messages", p));
      assert.deepEqual(again, first);
      assert.deepEqual(ok(await h.http(bot, "POST", "/messages", [p])), {});
      // A retry answers the stored message even if its body differs.
      assert.equal(ok(await h.http(bot, "POST", "/messages", { ...p, data: b64("changed") })).data, first.data);
      assert.equal((await rs.push()).data.message_id, p.message_id);
      const sentinel = textParams(conv, r.userId, "sentinel");
      ok(await h.http(bot, "POST", "/messages", sentinel));
      assert.equal((await rs.push()).data.message_id, sentinel.message_id, "a retry was delivered again");
      assert.ok(await rs.noPush(200));
      rs.close();
    });

    it("the same message_id from another user → 10002, and nothing is delivered for it", async () => {
      const r1 = await h.user("r1");
      const r2 = await h.user("r2");
      const p = textParams(uniqueConversationId(bot.userId, r1.userId), r1.userId, "mine");
      ok(await h.http(bot, "POST", "/messages", p));
      const rs = await subscribed(h, r2);
      const stolen = textParams(uniqueConversationId(alice.userId, r2.userId), r2.userId, "stolen id", { message_id: p.message_id });
      const e = fails(await h.http(alice, "POST", "/messages", stolen), 10002);
      assert.equal(e.extra?.field, "message_id");
      assert.ok(await rs.noPush(300));
      rs.close();
    });

    it("sending into a conversation you are not in → 403", async () => {
      const conv = uniqueConversationId(alice.userId, bob.userId);
      ok(await h.http(alice, "POST", "/messages", textParams(conv, bob.userId, "hi bob")));
      fails(await h.http(carol, "POST", "/messages", textParams(conv, bob.userId, "intruder")), 403);
      fails(await h.http(carol, "POST", "/messages", [textParams(conv, bob.userId, "intruder")]), 403);
    });

    it("representative_id in a GROUP → 10002; accepted in CONTACT", async () => {
      const group = ok(await h.http(bot, "POST", "/conversations", { category: "GROUP", name: "G", participants: [{ user_id: alice.userId }] }));
      const p = textParams(group.conversation_id, "", "on behalf", { representative_id: alice.userId });
      const e = fails(await h.http(bot, "POST", "/messages", p), 10002);
      assert.equal(e.extra?.field, "representative_id");
      fails(await h.http(bot, "POST", "/messages", [p]), 10002);
      const contact = textParams(uniqueConversationId(bot.userId, bob.userId), bob.userId, "on behalf", { representative_id: alice.userId });
      assert.equal(ok(await h.http(bot, "POST", "/messages", contact)).representative_id, alice.userId);
    });
  });

  describe("POST /acknowledgements", () => {
    it("removes the message from the backlog and sends the sender a receipt over WS", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const bs = await subscribed(h, bot);
      let rs = await subscribed(h, r);
      const acked = textParams(conv, r.userId, "ack me");
      const kept = textParams(conv, r.userId, "leave me");
      ok(await h.http(bot, "POST", "/messages", acked));
      ok(await h.http(bot, "POST", "/messages", kept));
      assert.equal((await rs.push()).data.message_id, acked.message_id);
      assert.equal((await rs.push()).data.message_id, kept.message_id);

      assert.deepEqual(ok(await h.http(r, "POST", "/acknowledgements", [{ message_id: acked.message_id, status: "READ" }])), {});
      const receipt = await bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data?.message_id === acked.message_id);
      assert.equal(receipt.data.status, "READ");
      assert.equal(receipt.data.source, "ACKNOWLEDGE_MESSAGE_RECEIPT");

      // Reconnect: only the unacked message comes back.
      rs.close();
      await rs.closed;
      rs = await subscribed(h, r);
      const again = await rs.push();
      assert.equal(again.data.message_id, kept.message_id);
      assert.equal(again.data.source, "LIST_PENDING_MESSAGES");
      assert.ok(await rs.noPush(300), "an acked message was delivered again");

      // Acking again, or acking an unknown id, is a silent success, and raises no second receipt.
      ok(await h.http(r, "POST", "/acknowledgements", [{ message_id: acked.message_id, status: "READ" }, { message_id: newUuid(), status: "DELIVERED" }]));
      await assert.rejects(bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data?.message_id === acked.message_id, 300));
      bs.close();
      rs.close();
    });

    it("malformed acknowledgements → 10002", async () => {
      fails(await h.http(carol, "POST", "/acknowledgements", [{ message_id: newUuid(), status: "SENT" }]), 10002);
      fails(await h.http(carol, "POST", "/acknowledgements", [{ message_id: "x", status: "READ" }]), 10002);
      fails(await h.http(carol, "POST", "/acknowledgements", { message_id: newUuid(), status: "READ" }), 10002);
    });

    it("acking another user's message → 403, and it stays pending for its real recipient", async () => {
      const r = await h.user("r");
      const conv = uniqueConversationId(bot.userId, r.userId);
      const bs = await subscribed(h, bot);
      const p = textParams(conv, r.userId, "for r only");
      ok(await h.http(bot, "POST", "/messages", p));
      fails(await h.http(carol, "POST", "/acknowledgements", [{ message_id: p.message_id, status: "READ" }]), 403);
      await assert.rejects(bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data?.message_id === p.message_id, 300), "no receipt for a refused ack");
      const rs = await subscribed(h, r);
      const push = await rs.push();
      assert.equal(push.data.message_id, p.message_id);
      assert.equal(push.data.source, "LIST_PENDING_MESSAGES");
      bs.close();
      rs.close();
    });
  });
});

describe("HTTP rate limit", () => {
  it("the 4th message in a minute with rateLimitPerMinute 3 → 429; other users are unaffected", async () => {
    const h = await Harness.start({ rateLimitPerMinute: 3 });
    try {
      const bot = await h.user("bot", true);
      const other = await h.user("other bot", true);
      const u = await h.user("u");
      const conv = uniqueConversationId(bot.userId, u.userId);
      // Fixed one-minute windows: don't straddle a boundary.
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
      const us = await subscribed(h, u);
      const sent = [1, 2, 3].map((i) => textParams(conv, u.userId, `m${i}`));
      for (const p of sent) ok(await h.http(bot, "POST", "/messages", p));
      const fourth = textParams(conv, u.userId, "m4");
      fails(await h.http(bot, "POST", "/messages", fourth), 429);
      fails(await h.http(bot, "POST", "/messages", [textParams(conv, u.userId, "m5")]), 429);
      for (const p of sent) assert.equal((await us.push()).data.message_id, p.message_id);
      assert.ok(await us.noPush(300), "a refused message was delivered");
      ok(await h.http(other, "POST", "/messages", textParams(uniqueConversationId(other.userId, u.userId), u.userId, "hi")));
      us.close();
    } finally {
      await h.close();
    }
  });
});

describe("HTTP server faults", () => {
  it("a real fault is HTTP 500 {error:{status:500}}, still echoing X-Request-Id", async () => {
    const h = await Harness.start();
    try {
      const u = await h.user("u");
      ok(await h.http(u, "GET", "/me"));
      // Pull the database out from under the running server.
      await h.server.services.store.close();
      const rid = newUuid();
      const res = await h.http(u, "GET", "/me", undefined, { "x-request-id": rid });
      assert.equal(res.status, 500);
      assert.equal(res.body.error.status, 500);
      assert.equal(res.body.error.code, 500);
      assert.equal(typeof res.body.error.description, "string");
      assert.equal(res.headers.get("x-request-id"), rid);
    } finally {
      await h.close();
    }
  });
});

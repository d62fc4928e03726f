import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { newUuid, uniqueConversationId } from "@openblaze/protocol";
import { Harness, b64, textParams, type TestSocket, type TestUser } from "./harness.js";

/**
 * Every kind of bad input gets a coded error, the socket stays usable, and nothing stored is lost
 * or duplicated: the recipient finally holds exactly the valid messages.
 */
describe("WebSocket bad input", () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  let mallory: TestUser;
  let conv: string;
  let group: string;
  let bs: TestSocket;
  const valid: string[] = [];

  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    alice = await h.user("alice");
    mallory = await h.user("mallory");
    conv = uniqueConversationId(bot.userId, alice.userId);
    const g = await h.http(bot, "POST", "/conversations", { category: "GROUP", name: "g", participants: [{ user_id: alice.userId }] });
    group = g.body.data.conversation_id;
    bs = await h.socket(bot);
    await bs.request("LIST_PENDING_MESSAGES");
    const first = textParams(conv, alice.userId, "before");
    valid.push(first.message_id);
    assert.equal((await bs.request("CREATE_MESSAGE", first)).error, undefined);
  });
  after(async () => h.close());

  async function stillAlive(s: TestSocket = bs): Promise<void> {
    const r = await s.request("LIST_PENDING_MESSAGES");
    assert.equal(r.error, undefined, "socket still answers");
    const p = textParams(conv, alice.userId, `alive ${valid.length}`);
    assert.equal((await s.request("CREATE_MESSAGE", p)).error, undefined);
    valid.push(p.message_id);
  }

  async function errorFrame(): Promise<{ id: string; action: string; error: { code: number; status: number; description: string; extra?: { reason?: string } } }> {
    return bs.next((f) => f.error !== undefined);
  }

  it("non-binary frame", async () => {
    bs.sendRaw(JSON.stringify({ id: newUuid(), action: "LIST_PENDING_MESSAGES" }), false);
    const e = await errorFrame();
    assert.equal(e.action, "ERROR");
    assert.equal(e.error.code, 400);
    assert.match(e.error.extra?.reason ?? "", /text frames/);
    await stillAlive();
  });

  it("non-gzip binary frame", async () => {
    bs.sendRaw(Buffer.from(JSON.stringify({ id: newUuid(), action: "LIST_PENDING_MESSAGES" })));
    assert.equal((await errorFrame()).error.code, 400);
    await stillAlive();
  });

  it("gzip bomb (small frame, huge inflated size)", async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 128 * 1024);
    bs.sendRaw(bomb);
    const e = await errorFrame();
    assert.equal(e.error.code, 400);
    assert.match(e.error.extra?.reason ?? "", /inflated/);
    await stillAlive();
  });

  it("compressed frame over the 128 KiB cap", async () => {
    const big = gzipSync(randomBytes(200 * 1024));
    assert.ok(big.length > 128 * 1024);
    bs.sendRaw(big);
    const e = await errorFrame();
    assert.equal(e.error.code, 400);
    assert.match(e.error.extra?.reason ?? "", /exceeds/);
    await stillAlive();
  });

  it("invalid JSON", async () => {
    bs.sendRaw(gzipSync(Buffer.from("{\"id\": \"x\", action")));
    assert.equal((await errorFrame()).error.code, 400);
    await stillAlive();
  });

  it("missing id", async () => {
    bs.sendRaw(gzipSync(Buffer.from(JSON.stringify({ action: "LIST_PENDING_MESSAGES" }))));
    const e = await errorFrame();
    assert.equal(e.action, "ERROR");
    assert.equal(e.error.code, 400);
    await stillAlive();
  });

  it("unknown action: error 400 under the same id and action", async () => {
    const r = await bs.request("SUMMON_DRAGONS", {});
    assert.equal(r.action, "SUMMON_DRAGONS");
    assert.equal(r.error.code, 400);
    await stillAlive();
  });

  const badSends: [string, () => Record<string, unknown>, number, string][] = [
    ["bad conversation_id", () => textParams("not-a-uuid", alice.userId, "x"), 10002, "conversation_id"],
    ["upper-case message_id", () => ({ ...textParams(conv, alice.userId, "x"), message_id: newUuid().toUpperCase() }), 10002, "message_id"],
    ["bad recipient_id", () => textParams(conv, "123", "x"), 10002, "recipient_id"],
    ["unknown category", () => ({ ...textParams(conv, alice.userId, "x"), category: "PLAIN_HOLOGRAM" }), 10002, "category"],
    ["system category from a client", () => ({ ...textParams(conv, alice.userId, "x"), category: "SYSTEM_CONVERSATION", data: b64(JSON.stringify({ action: "ADD", participant_id: "" })) }), 10002, "category"],
    ["missing data", () => ({ ...textParams(conv, alice.userId, "x"), data: undefined }), 10002, "data"],
    ["bad base64", () => ({ ...textParams(conv, alice.userId, "x"), data: "***" }), 10002, "data"],
    ["invalid image payload", () => ({ ...textParams(conv, alice.userId, "x"), category: "PLAIN_IMAGE", data: b64(JSON.stringify({ attachment_id: "nope" })) }), 10002, "data"],
    ["invalid contact payload", () => ({ ...textParams(conv, alice.userId, "x"), category: "PLAIN_CONTACT", data: b64("{}") }), 10002, "data"],
    ["invalid sticker payload", () => ({ ...textParams(conv, alice.userId, "x"), category: "PLAIN_STICKER", data: b64("[]") }), 10002, "data"],
    ["invalid location payload", () => ({ ...textParams(conv, alice.userId, "x"), category: "PLAIN_LOCATION", data: b64(JSON.stringify({ latitude: 200, longitude: 0 })) }), 10002, "data"],
    ["invalid card payload", () => ({ ...textParams(conv, alice.userId, "x"), category: "APP_CARD", data: b64(JSON.stringify({ title: "t" })) }), 10002, "data"],
    [
      "7 buttons",
      () => ({ ...textParams(conv, alice.userId, "x"), category: "APP_BUTTON_GROUP", data: b64(JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ label: `b${i}`, color: "#000000", action: "https://x" })))) }),
      10002,
      "data",
    ],
    ["representative_id in a group", () => ({ ...textParams(group, "", "x"), representative_id: alice.userId }), 10002, "representative_id"],
    ["conversation you are not in", () => textParams(uniqueConversationId(alice.userId, mallory.userId), mallory.userId, "x"), 403, ""],
    ["unknown conversation", () => textParams(newUuid(), alice.userId, "x"), 404, ""],
  ];
  for (const [name, params, code, field] of badSends) {
    it(`CREATE_MESSAGE with ${name} → ${code}`, async () => {
      if (name === "conversation you are not in") {
        // alice and mallory talk; the bot is not in their conversation.
        const a = await h.socket(alice);
        const p = textParams(uniqueConversationId(alice.userId, mallory.userId), mallory.userId, "private");
        assert.equal((await a.request("CREATE_MESSAGE", p)).error, undefined);
        a.close();
      }
      const r = await bs.request("CREATE_MESSAGE", params());
      assert.equal(r.action, "CREATE_MESSAGE");
      assert.equal(r.error?.code, code, JSON.stringify(r.error));
      assert.equal(r.error.status, 202);
      if (field) assert.equal(r.error.extra?.field, field);
      await stillAlive();
    });
  }

  it("CREATE_PLAIN_MESSAGES: 101 items, and one bad item, refuse the whole batch", async () => {
    const many = Array.from({ length: 101 }, (_, i) => textParams(conv, alice.userId, `x${i}`));
    assert.equal((await bs.request("CREATE_PLAIN_MESSAGES", { messages: many })).error.code, 10002);
    const mixed = [textParams(conv, alice.userId, "ok"), { ...textParams(conv, alice.userId, "bad"), conversation_id: "nope" }];
    const r = await bs.request("CREATE_PLAIN_MESSAGES", { messages: mixed });
    assert.equal(r.error.code, 10002);
    assert.equal(r.error.extra.index, 1);
    const app = [{ ...textParams(conv, alice.userId, "x"), category: "APP_CARD" }];
    assert.equal((await bs.request("CREATE_PLAIN_MESSAGES", { messages: app })).error.code, 10002, "PLAIN_* only");
    await stillAlive();
  });

  it("ack of another user's message → 403, and the message stays pending for its recipient", async () => {
    const p = textParams(conv, alice.userId, "not yours");
    await bs.request("CREATE_MESSAGE", p);
    valid.push(p.message_id);
    const m = await h.socket(mallory);
    const r = await m.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: p.message_id, status: "READ" });
    assert.equal(r.error.code, 403);
    assert.equal((await m.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: "bad", status: "READ" })).error.code, 10002);
    assert.equal((await m.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: p.message_id, status: "SEEN" })).error.code, 10002);
    assert.equal((await m.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: newUuid(), status: "READ" })).error, undefined, "unknown id is a silent success");
    m.close();
    await stillAlive();
  });

  it("in the end the recipient holds exactly the valid messages, once each, in order", async () => {
    const a = await h.socket(alice);
    await a.request("LIST_PENDING_MESSAGES");
    const got: string[] = [];
    for (;;) {
      try {
        const p = await a.push(400);
        if (p.data.category !== "SYSTEM_CONVERSATION") got.push(p.data.message_id);
      } catch {
        break;
      }
    }
    assert.deepEqual(got, valid);
    a.close();
  });

  it("a flood of bad frames closes the socket with 1008; the server keeps serving", async () => {
    const k = await Harness.start({ maxBadFrames: 5 });
    try {
      const u = await k.user("u");
      const s = await k.socket(u);
      for (let i = 0; i < 5; i++) s.sendRaw(Buffer.from("junk"));
      assert.equal((await s.closed).code, 1008);
      const again = await k.socket(u);
      assert.equal((await again.request("LIST_PENDING_MESSAGES")).error, undefined);
      again.close();
    } finally {
      await k.close();
    }
  });
});

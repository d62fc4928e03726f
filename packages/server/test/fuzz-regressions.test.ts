import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { isUuid, newUuid, uniqueConversationId } from "@openblaze/protocol";
import { Harness, b64, type TestSocket, type TestUser } from "./harness.js";

/**
 * Frames the wire fuzzer (wire-fuzz.test.ts) found or exercises, replayed exactly against an
 * in-process server so each stays fixed: every one gets one coded reply and the socket stays usable.
 */
describe("fuzzer regressions", () => {
  let h: Harness;
  let bot: TestUser;
  let u: TestUser;
  let s: TestSocket;
  let conv: string;

  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    u = await h.user("u");
    conv = uniqueConversationId(bot.userId, u.userId);
    s = await h.socket(bot);
  });
  after(async () => h.close());

  const raw = (json: string) => gzipSync(Buffer.from(json));

  async function oneReply(frame: Buffer): Promise<{ id: string; action: string; error: any; data: any }> {
    const before = s.frames.length;
    s.sendRaw(frame);
    const r = await s.next((f) => f.error !== undefined || f.action !== "CREATE_MESSAGE" || f.data?.category === "", 5000);
    assert.equal(s.frames.length, before, "exactly one reply");
    return r;
  }

  it('found: {"id":""} was answered with "id":"" (uncorrelatable); now a fresh id', async () => {
    const r = await oneReply(raw('{"id":"","action":"LIST_PENDING_MESSAGES"}'));
    assert.equal(r.action, "ERROR");
    assert.equal(r.error.code, 400);
    assert.ok(isUuid(r.id), `reply id ${JSON.stringify(r.id)}`);
    const bad = await oneReply(raw('{"id":"","action":7}'));
    assert.ok(isUuid(bad.id));
  });

  const cases: [string, () => Buffer, number][] = [
    ["id is a number", () => raw('{"id":1e999,"action":"LIST_PENDING_MESSAGES"}'), 400],
    ["params is an array", () => raw(`{"id":"${newUuid()}","action":"CREATE_MESSAGE","params":[]}`), 400],
    ["__proto__ in params", () => raw(`{"id":"${newUuid()}","action":"CREATE_MESSAGE","params":{"__proto__":{"conversation_id":"x"}}}`), 10002],
    ["expire_in 1e999", () => raw(`{"id":"${newUuid()}","action":"CREATE_MESSAGE","params":${JSON.stringify({ conversation_id: conv, recipient_id: u.userId, message_id: newUuid(), category: "PLAIN_TEXT", data: b64("x") }).replace(/}$/, ',"expire_in":1e999}')}}`), 10002],
    ["offset far past the year 9999", () => raw(`{"id":"${newUuid()}","action":"LIST_PENDING_MESSAGES","params":{"offset":"99999-01-01T00:00:00Z"}}`), 10002],
    ["messages nested 100k deep", () => raw(`{"id":"${newUuid()}","action":"ACKNOWLEDGE_MESSAGE_RECEIPTS","params":{"messages":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`), 10002],
    ["payload nested deep inside data", () => raw(JSON.stringify({ id: newUuid(), action: "CREATE_MESSAGE", params: { conversation_id: conv, recipient_id: u.userId, message_id: newUuid(), category: "APP_CARD", data: b64("[".repeat(50_000) + "]".repeat(50_000)) } })), 10002],
    ["button colour that is a lone surrogate", () => raw(JSON.stringify({ id: newUuid(), action: "CREATE_MESSAGE", params: { conversation_id: conv, recipient_id: u.userId, message_id: newUuid(), category: "APP_BUTTON_GROUP", data: b64('[{"label":"a","color":"\\ud800","action":"x"}]') } })), 10002],
    ["two gzip members", () => Buffer.concat([raw('{"id":"a","action":"LIST_PENDING_MESSAGES"}'), raw("{}")]), 400],
    ["gzip of gzip", () => gzipSync(raw('{"id":"a","action":"LIST_PENDING_MESSAGES"}')), 400],
    ["bomb: 8 MiB of zeros", () => gzipSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 }), 400],
  ];
  for (const [name, frame, code] of cases) {
    it(`${name} → ${code}, socket usable`, async () => {
      const r = await oneReply(frame());
      assert.equal(r.error?.code, code, JSON.stringify(r).slice(0, 300));
      assert.equal(r.error.status, 202);
      assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined);
    });
  }
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { uniqueConversationId } from "@openblaze/protocol";
import { Harness, textParams } from "./harness.js";

describe("smoke", () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(async () => h.close());

  it("a bot sends a user a text over WS; the user receives it and acks; the bot gets a receipt", async () => {
    const bot = await h.user("bot", true);
    const alice = await h.user("alice");
    const conv = uniqueConversationId(bot.userId, alice.userId);
    const bs = await h.socket(bot);
    const as = await h.socket(alice);
    assert.equal((await bs.request("LIST_PENDING_MESSAGES")).error, undefined);
    assert.equal((await as.request("LIST_PENDING_MESSAGES")).error, undefined);
    const params = textParams(conv, alice.userId, "hello");
    const reply = await bs.request("CREATE_MESSAGE", params);
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    assert.equal(reply.data.status, "SENT");
    const push = await as.push();
    assert.equal(Buffer.from(push.data.data, "base64").toString(), "hello");
    assert.equal(push.data.source, "CREATE_MESSAGE");
    const ack = await as.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: params.message_id, status: "READ" });
    assert.equal(ack.error, undefined);
    const receipt = await bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT");
    assert.equal(receipt.data.message_id, params.message_id);
    assert.equal(receipt.data.status, "READ");
    assert.equal(receipt.data.source, "ACKNOWLEDGE_MESSAGE_RECEIPT");
  });
});

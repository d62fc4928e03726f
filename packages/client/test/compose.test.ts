import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlazeError, uniqueConversationId } from "@openblaze/protocol";
import { compose, toMessageParams } from "../src/index.js";

describe("compose", () => {
  it("builds validated payloads and refuses invalid ones before sending", () => {
    assert.deepEqual(compose.text("hi"), { category: "PLAIN_TEXT", payload: Buffer.from("hi") });
    assert.throws(() => compose.buttons(Array.from({ length: 7 }, () => ({ label: "x", color: "#000000", action: "https://x" }))), BlazeError);
    assert.throws(() => compose.contact("not-a-uuid"), BlazeError);
  });

  it("targets a user through the derived 1:1 conversation, with url-safe data", () => {
    const me = "773e5e77-4107-45c2-b648-8fc722ed77f5";
    const other = "06aed1e3-bd77-4a59-991a-5bb5ae6fbb09";
    const p = toMessageParams(me, { userId: other }, compose.text("??>"), { messageId: "m", quoteMessageId: "q", silent: true });
    assert.equal(p.conversation_id, uniqueConversationId(me, other));
    assert.equal(p.recipient_id, other);
    assert.equal(p.data_base64, Buffer.from("??>").toString("base64url"));
    assert.equal(p.message_id, "m");
    assert.equal(p.quote_message_id, "q");
    assert.equal(p.silent, true);
  });
});

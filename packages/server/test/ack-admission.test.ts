import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newUuid, uniqueConversationId } from "@openblaze/protocol";
import type { AckRequest } from "../src/store/store.js";
import { Harness, textParams, type TestSocket, type TestUser } from "./harness.js";

/**
 * A socket's acknowledgements are queued for the ack commit in arrival order and answered after
 * it, without holding up the socket's next request: a draining client's ack frames share
 * transactions instead of waiting one commit interval each.
 */
describe("acknowledgements on one socket", () => {
  let h: Harness;
  let bot: TestUser;
  let ackCalls: AckRequest[][] = [];

  before(async () => {
    // A long ack interval makes "shares the next commit" and "waits for the previous one" far apart.
    h = await Harness.start({ ackCommitIntervalMs: 100 });
    bot = await h.user("bot", true);
    const store = h.server.services.store;
    const many = store.acknowledgeMany.bind(store);
    store.acknowledgeMany = (requests) => (ackCalls.push([...requests]), many(requests));
  });
  after(() => h.close());

  /** A fresh recipient with `n` messages from the bot, all pushed to its socket. */
  async function recipientWith(n: number): Promise<{ user: TestUser; socket: TestSocket; ids: string[] }> {
    const user = await h.user("reader");
    const conv = uniqueConversationId(bot.userId, user.userId);
    const bs = await h.socket(bot);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = textParams(conv, user.userId, `m${i}`);
      ids.push(p.message_id);
      assert.equal((await bs.request("CREATE_MESSAGE", p)).error, undefined);
    }
    bs.close();
    const socket = await h.socket(user);
    await socket.request("LIST_PENDING_MESSAGES");
    for (let i = 0; i < n; i++) await socket.push();
    return { user, socket, ids };
  }

  const ackFrame = (messageId: string) => ({ id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPTS", params: { messages: [{ message_id: messageId, status: "DELIVERED" }] } });

  it("ack frames sent back to back share one transaction, each answered under its own id", async () => {
    const { socket, ids } = await recipientWith(3);
    // The first ack after a quiet spell commits at once and opens the 100 ms interval.
    assert.equal((await socket.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", { messages: [{ message_id: ids[0], status: "DELIVERED" }] })).error, undefined);
    ackCalls = [];
    const second = ackFrame(ids[1]!);
    const third = ackFrame(ids[2]!);
    socket.send(second);
    socket.send(third);
    const replies = await Promise.all([socket.next((f) => f.id === second.id), socket.next((f) => f.id === third.id)]);
    assert.deepEqual(
      replies.map((r) => r.error),
      [undefined, undefined],
    );
    assert.equal(ackCalls.length, 1, "both frames in one ack transaction (waiting for each commit took two)");
    assert.deepEqual(
      ackCalls[0]!.map((r) => r.acks[0]!.messageId),
      [ids[1], ids[2]],
      "in arrival order",
    );
    socket.close();
  });

  it("LIST_PENDING_MESSAGES sent right after an ack (not waiting for its reply) does not push the acked message again", async () => {
    const { socket, ids } = await recipientWith(3);
    await socket.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", { messages: [{ message_id: ids[0], status: "DELIVERED" }] });
    // The next ack waits ~100 ms for its commit; the listing must wait for it, not read around it.
    socket.send(ackFrame(ids[1]!));
    const listed = await socket.request("LIST_PENDING_MESSAGES");
    assert.equal(listed.error, undefined);
    assert.equal((await socket.push()).data.message_id, ids[2]);
    assert.ok(await socket.noPush(300), "only the unacked message comes again");
    socket.close();
  });

  it("a bad ack is answered with its error while the socket's other acks still commit", async () => {
    const { user, socket, ids } = await recipientWith(1);
    const bad = { id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPTS", params: { messages: [{ message_id: "not-a-uuid", status: "DELIVERED" }] } };
    const good = ackFrame(ids[0]!);
    socket.send(bad);
    socket.send(good);
    const [badReply, goodReply] = await Promise.all([socket.next((f) => f.id === bad.id), socket.next((f) => f.id === good.id)]);
    assert.equal(badReply.error?.code, 10002);
    assert.equal(goodReply.error, undefined);
    socket.close();
    await socket.closed;
    const again = await h.socket(user);
    await again.request("LIST_PENDING_MESSAGES");
    assert.ok(await again.noPush(300), "the good ack was committed");
    again.close();
  });
});

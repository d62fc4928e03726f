import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uniqueConversationId } from "@openblaze/protocol";
import { sqlitePath } from "../src/config.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { Harness, textParams, type TestSocket } from "./harness.js";
import { newMessage } from "./store-contract.js";

/**
 * Just-committed rows go straight to caught-up sockets (Gateway.inSequence, Connection.offer):
 * no mailbox read per wake-up, and never a cursor jump past a row that came from elsewhere.
 */

function countReads(h: Harness): { reads: number } {
  const store = h.server.services.store;
  const counter = { reads: 0 };
  const read = store.pendingMessages.bind(store);
  store.pendingMessages = (...args) => {
    counter.reads++;
    return read(...args);
  };
  return counter;
}

/** A bot and a user with a subscribed socket each, and their 1:1 conversation. */
async function subscribedPair(h: Harness) {
  const bot = await h.user("bot", true);
  const u = await h.user("u");
  const conv = uniqueConversationId(bot.userId, u.userId);
  const bs = await h.socket(bot);
  const us = await h.socket(u);
  await us.request("LIST_PENDING_MESSAGES");
  return { bot, u, conv, bs, us };
}

async function texts(s: TestSocket, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await s.push();
    await s.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: p.data.message_id, status: "DELIVERED" });
    out.push(Buffer.from(p.data.data, "base64").toString());
  }
  return out;
}

describe("direct delivery", () => {
  it("a caught-up socket gets new messages, in order, without the mailbox being read back", async () => {
    const h = await Harness.start();
    try {
      const { conv, u, bs, us } = await subscribedPair(h);
      // The first commit the gateway sees is read from the store; it anchors the sequence.
      await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, "warm-up"));
      assert.deepEqual(await texts(us, 1), ["warm-up"]);
      const counter = countReads(h);
      const sent = Array.from({ length: 30 }, (_, i) => `m${i}`);
      for (const t of sent) assert.equal((await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, t))).error, undefined);
      const pushes: string[] = [];
      for (let i = 0; i < sent.length; i++) {
        const p = await us.push();
        assert.equal(p.data.source, "CREATE_MESSAGE");
        pushes.push(Buffer.from(p.data.data, "base64").toString());
      }
      assert.deepEqual(pushes, sent);
      assert.equal(counter.reads, 0, "no mailbox read for any of them");
    } finally {
      await h.close();
    }
  });

  it("group messages, resent ids and a message no one receives keep offering on", async () => {
    const h = await Harness.start();
    try {
      const { bot, conv, u, bs, us } = await subscribedPair(h);
      const v = await h.user("v");
      const vs = await h.socket(v);
      await vs.request("LIST_PENDING_MESSAGES");
      const g = await h.http(bot, "POST", "/conversations", { category: "GROUP", name: "g", participants: [{ user_id: u.userId }, { user_id: v.userId }] });
      const group = g.body.data.conversation_id as string;
      const alone = await h.http(bot, "POST", "/conversations", { category: "GROUP", name: "alone", participants: [] });
      const aloneId = alone.body.data.conversation_id as string;
      // Group creation pushed system messages first; the warm-up comes after them.
      await bs.request("CREATE_MESSAGE", textParams(group, "", "warm-up"));
      for (const s of [us, vs]) while ((await texts(s, 1))[0] !== "warm-up");
      const counter = countReads(h);
      const once = textParams(conv, u.userId, "once");
      for (const params of [textParams(group, "", "to both"), once, once, textParams(aloneId, "", "to no one"), textParams(conv, u.userId, "last")]) {
        assert.equal((await bs.request("CREATE_MESSAGE", params)).error, undefined);
      }
      assert.deepEqual(await texts(us, 3), ["to both", "once", "last"]);
      assert.deepEqual(await texts(vs, 1), ["to both"]);
      assert.ok(await us.noPush(200), "the resent id is not pushed twice");
      assert.equal(counter.reads, 0, "no mailbox read: every commit was in sequence");
    } finally {
      await h.close();
    }
  });

  it("a row written by another process is not skipped: the gap switches offering off and the mailbox is read", async () => {
    const h = await Harness.start();
    const other = new SqliteStore({ path: sqlitePath({ dataDir: h.dataDir }) });
    try {
      const { bot, conv, u, bs, us } = await subscribedPair(h);
      for (const t of ["w1", "w2"]) await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, t));
      assert.deepEqual(await texts(us, 2), ["w1", "w2"]);
      // Another process writes to the same file: no wake-up reaches this server for it.
      const [foreign] = await other.acceptMessages([newMessage(bot, conv, [u], { payload: Buffer.from("from elsewhere") })]);
      assert.equal(foreign!.kind, "created");
      await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, "local"));
      assert.deepEqual(await texts(us, 2), ["from elsewhere", "local"]);
      // Offering stays off: later messages still arrive (by reading).
      const counter = countReads(h);
      await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, "after"));
      assert.deepEqual(await texts(us, 1), ["after"]);
      assert.ok(counter.reads >= 1);
    } finally {
      await other.close();
      await h.close();
    }
  });
});

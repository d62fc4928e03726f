import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uniqueConversationId } from "@openblaze/protocol";
import { Harness, textParams } from "./harness.js";

describe("delivery edges", () => {
  it("a paused reader gets every message once, in order, after it resumes (flow control)", async () => {
    const h = await Harness.start({ sendWindow: 8, maxBufferedBytes: 8 * 1024 });
    try {
      const bot = await h.user("bot", true);
      const slow = await h.user("slow");
      const conv = uniqueConversationId(bot.userId, slow.userId);
      const ss = await h.socket(slow);
      await ss.request("LIST_PENDING_MESSAGES");
      const tcp = (ss.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      const bs = await h.socket(bot);
      const ids: string[] = [];
      for (let b = 0; b < 20; b++) {
        const messages = Array.from({ length: 100 }, (_, i) => textParams(conv, slow.userId, `${b}:${i} ${"x".repeat(200)}`));
        ids.push(...messages.map((m) => m.message_id));
        assert.equal((await bs.request("CREATE_PLAIN_MESSAGES", { messages })).error, undefined);
      }
      await new Promise((r) => setTimeout(r, 200));
      tcp.resume();
      const got: string[] = [];
      while (got.length < ids.length) got.push((await ss.push(5000)).data.message_id);
      assert.deepEqual(got, ids);
      assert.ok(await ss.noPush(200), "no duplicates");
      bs.close();
      ss.close();
    } finally {
      await h.close();
    }
  });

  it("undelivered messages expire after the configured TTL", async () => {
    const h = await Harness.start({ messageTtlSeconds: 1, expiryIntervalMs: 100 });
    try {
      const bot = await h.user("bot", true);
      const u = await h.user("u");
      const conv = uniqueConversationId(bot.userId, u.userId);
      const bs = await h.socket(bot);
      await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, "soon gone"));
      await new Promise((r) => setTimeout(r, 1500));
      const fresh = textParams(conv, u.userId, "fresh");
      await bs.request("CREATE_MESSAGE", fresh);
      const us = await h.socket(u);
      await us.request("LIST_PENDING_MESSAGES");
      assert.equal((await us.push()).data.message_id, fresh.message_id);
      assert.ok(await us.noPush(200));
      bs.close();
      us.close();
    } finally {
      await h.close();
    }
  });

  it("graceful stop commits everything it acknowledged; nothing lost or duplicated after restart", async () => {
    const h = await Harness.start();
    try {
      const bot = await h.user("bot", true);
      const u = await h.user("u");
      const conv = uniqueConversationId(bot.userId, u.userId);
      const sends = Array.from({ length: 300 }, (_, i) => textParams(conv, u.userId, `m${i}`));
      let done = 0;
      const results = sends.map((p) =>
        h.http(bot, "POST", "/messages", p).then(
          (r) => (done++, r.status === 200 && r.body.data ? p.message_id : undefined),
          () => undefined,
        ),
      );
      while (done < 20) await new Promise((r) => setTimeout(r, 1));
      await h.restart();
      const acknowledged = (await Promise.all(results)).filter((id): id is string => id !== undefined);
      assert.ok(acknowledged.length > 0, "some sends were acknowledged before the stop");
      const us = await h.socket(u);
      await us.request("LIST_PENDING_MESSAGES");
      const got = new Set<string>();
      for (;;) {
        try {
          const id = (await us.push(500)).data.message_id as string;
          assert.ok(!got.has(id), "no duplicate");
          got.add(id);
        } catch {
          break;
        }
      }
      for (const id of acknowledged) assert.ok(got.has(id), `acknowledged ${id} survived`);
      us.close();
    } finally {
      await h.close();
    }
  });
});

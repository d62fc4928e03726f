import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { encodeFrame, newUuid, uniqueConversationId } from "@openblaze/protocol";
import { RequestRateGate, SessionSocketCounter } from "../src/gateway/limits.js";
import { Harness, textParams } from "./harness.js";

/**
 * Limits (RELIABILITY.md §6): each is configurable and each has a test. Per-user message rate
 * (`rateLimitPerMinute`, HTTP in http.test.ts, WebSocket here), per-socket request rate
 * (`maxRequestsPerSecond`), sockets per session (`maxSocketsPerSession`), frame sizes
 * (`frameLimits`, plus ws's hard cap).
 */

describe("limits", () => {
  it("rateLimitPerMinute over the WebSocket: 429 under the request's id, the socket stays open", async () => {
    const h = await Harness.start({ rateLimitPerMinute: 3 });
    try {
      const bot = await h.user("bot", true);
      const u = await h.user("u");
      const conv = uniqueConversationId(bot.userId, u.userId);
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
      const bs = await h.socket(bot);
      for (let i = 0; i < 3; i++) assert.equal((await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, `m${i}`))).error, undefined);
      const r = await bs.request("CREATE_MESSAGE", textParams(conv, u.userId, "m4"));
      assert.equal(r.action, "CREATE_MESSAGE");
      assert.equal(r.error.code, 429);
      const batch = await bs.request("CREATE_PLAIN_MESSAGES", { messages: [textParams(conv, u.userId, "m5")] });
      assert.equal(batch.error.code, 429);
      assert.equal((await bs.request("LIST_PENDING_MESSAGES")).error, undefined, "still open and serving");
      bs.close();
    } finally {
      await h.close();
    }
  });

  it("maxRequestsPerSecond: a burst past it is answered 429 (same id and action), the socket stays open, the next second is fine", async () => {
    const h = await Harness.start({ maxRequestsPerSecond: 20 });
    try {
      const u = await h.user("u");
      const s = await h.socket(u);
      const other = await h.socket(u);
      const ids = Array.from({ length: 50 }, () => newUuid());
      for (const id of ids) s.send({ id, action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: newUuid(), status: "READ" } });
      const replies = await Promise.all(ids.map((id) => s.next((f) => f.id === id)));
      const limited = replies.filter((r) => r.error?.code === 429);
      assert.ok(limited.length >= 20 && limited.length <= 31, `${limited.length} of 50 refused`);
      assert.ok(limited.every((r) => r.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && r.error.status === 202));
      assert.ok(replies.slice(0, 19).every((r) => r.error === undefined), "the first second's worth passes");
      // The limit is per socket: the same session's other socket is not affected.
      assert.equal((await other.request("LIST_PENDING_MESSAGES")).error, undefined);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined, "open, and admitted again");
      s.close();
      other.close();
    } finally {
      await h.close();
    }
  });

  it("maxRequestsPerSecond: acking every push one by one is never throttled, however fast the mailbox drains", async () => {
    const h = await Harness.start({ maxRequestsPerSecond: 20 });
    try {
      const bot = await h.user("bot", true);
      const u = await h.user("u");
      const conv = uniqueConversationId(bot.userId, u.userId);
      const sent = 200;
      const bs = await h.socket(bot);
      for (let i = 0; i < sent; i += 50) {
        const messages = Array.from({ length: 50 }, (_, k) => textParams(conv, u.userId, `m${i + k}`));
        assert.equal((await bs.request("CREATE_PLAIN_MESSAGES", { messages })).error, undefined);
        await new Promise((r) => setTimeout(r, 1000 / 4));
      }
      await new Promise((r) => setTimeout(r, 1100)); // a full bucket again for the drainer
      const us = await h.socket(u);
      assert.equal((await us.request("LIST_PENDING_MESSAGES")).error, undefined);
      const ackIds: string[] = [];
      for (let i = 0; i < sent; i++) {
        const push = await us.push();
        const id = newUuid();
        ackIds.push(id);
        us.send({ id, action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: push.data.message_id, status: "DELIVERED" } });
      }
      const replies = await Promise.all(ackIds.map((id) => us.next((f) => f.id === id)));
      assert.deepEqual(replies.filter((r) => r.error !== undefined).map((r) => r.error.code), [], "no ack refused");
      assert.equal(await h.server.services.store.pendingCount(u.userId), 0, "every message acked");
      // Credit comes only from pushes: requests beyond it are limited as before.
      const extra = Array.from({ length: 40 }, () => newUuid());
      for (const id of extra) us.send({ id, action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: newUuid(), status: "READ" } });
      const limited = (await Promise.all(extra.map((id) => us.next((f) => f.id === id)))).filter((r) => r.error?.code === 429);
      assert.ok(limited.length >= 15, `${limited.length} of 40 uncredited acks refused`);
      bs.close();
      us.close();
    } finally {
      await h.close();
    }
  });

  it("maxRequestsPerSecond: sustained abuse (over 5 s worth refused within 10 s) closes the socket with 1008", async () => {
    const h = await Harness.start({ maxRequestsPerSecond: 10 });
    try {
      const u = await h.user("u");
      const s = await h.socket(u);
      const frame = encodeFrame({ id: newUuid(), action: "LIST_PENDING_MESSAGES" });
      for (let i = 0; i < 200; i++) s.sendRaw(frame);
      const closed = await s.closed;
      assert.equal(closed.code, 1008);
      assert.match(closed.reason, /too many requests/);
      assert.ok(s.frames.filter((f) => f.error?.code === 429).length >= 50);
      const again = await h.socket(u);
      assert.equal((await again.request("LIST_PENDING_MESSAGES")).error, undefined, "a new socket is served");
      again.close();
    } finally {
      await h.close();
    }
  });

  it("maxSocketsPerSession: the newest socket past it gets ERROR 429 and close 1008; open ones keep working", async () => {
    const h = await Harness.start({ maxSocketsPerSession: 2 });
    try {
      const bot = await h.user("bot", true);
      const u = await h.user("u");
      const a = await h.socket(u);
      const b = await h.socket(u);
      await a.request("LIST_PENDING_MESSAGES");
      const c = await h.socket(u);
      const closed = await c.closed;
      assert.equal(closed.code, 1008);
      assert.equal(c.frames.length, 1);
      assert.equal(c.frames[0]!.action, "ERROR");
      assert.equal(c.frames[0]!.error.code, 429);
      assert.match(c.frames[0]!.error.extra.reason, /sockets/);
      // Another session is not counted against this one.
      const other = await h.socket(bot);
      assert.equal((await other.request("LIST_PENDING_MESSAGES")).error, undefined);
      // The open ones still deliver.
      const p = textParams(uniqueConversationId(bot.userId, u.userId), u.userId, "still here");
      assert.equal((await other.request("CREATE_MESSAGE", p)).error, undefined);
      assert.equal((await a.push()).data.message_id, p.message_id);
      // A slot frees when a socket closes.
      b.close();
      await b.closed;
      await new Promise((r) => setTimeout(r, 50));
      const d = await h.socket(u);
      assert.equal((await d.request("LIST_PENDING_MESSAGES")).error, undefined);
      for (const s of [a, d, other]) s.close();
    } finally {
      await h.close();
    }
  });

  it("frameLimits are configurable: compressed and inflated caps answer 400, ws's hard cap closes 1009, the server stays up", async () => {
    const h = await Harness.start({ frameLimits: { maxFrameBytes: 2048, maxInflatedBytes: 8192 } });
    try {
      const u = await h.user("u");
      const s = await h.socket(u);
      s.sendRaw(gzipSync(randomBytes(4096)));
      assert.match((await s.next((f) => f.error !== undefined)).error.extra.reason, /exceeds 2048/);
      s.sendRaw(gzipSync(Buffer.from(JSON.stringify({ id: newUuid(), action: "LIST_PENDING_MESSAGES", params: { pad: "x".repeat(10_000) } }))));
      assert.match((await s.next((f) => f.error !== undefined)).error.extra.reason, /inflated frame exceeds 8192/);
      assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined, "within the limits: fine");
      // ws refuses to buffer anything over max(32 x maxFrameBytes, 4 MiB) at all.
      s.sendRaw(Buffer.alloc(4 * 1024 * 1024 + 1));
      assert.equal((await s.closed).code, 1009);
      const again = await h.socket(u);
      assert.equal((await again.request("LIST_PENDING_MESSAGES")).error, undefined);
      again.close();
    } finally {
      await h.close();
    }
  });

  it("unit: the rate gate refills continuously and closes only on sustained abuse; 0 means unlimited", () => {
    let t = 0;
    const gate = new RequestRateGate(10, () => t);
    const verdicts = Array.from({ length: 15 }, () => gate.check());
    assert.deepEqual(verdicts.slice(0, 10), Array(10).fill("ok"));
    assert.deepEqual(verdicts.slice(10), Array(5).fill("refuse"));
    t += 100;
    assert.equal(gate.check(), "ok", "one token back after 100 ms");
    assert.equal(gate.check(), "refuse");
    let last = "";
    for (let i = 0; i < 60 && last !== "close"; i++) last = gate.check();
    assert.equal(last, "close");
    const open = new RequestRateGate(0);
    assert.ok(Array.from({ length: 100_000 }, () => open.check()).every((v) => v === "ok"));
    const sessions = new SessionSocketCounter(2);
    assert.ok(sessions.tryAdd("s") && sessions.tryAdd("s"));
    assert.equal(sessions.tryAdd("s"), false);
    sessions.remove("s");
    assert.ok(sessions.tryAdd("s"));
    sessions.remove("s");
    sessions.remove("s");
    assert.equal(sessions.size, 0, "no entry left behind");
    assert.ok(new SessionSocketCounter(0).tryAdd("x"), "0 means unlimited");
  });

  it("unit: acknowledged items within the earned credit cost no token; beyond it they meet the bucket", () => {
    const gate = new RequestRateGate(1, () => 0);
    assert.equal(gate.check(), "ok");
    assert.equal(gate.check(1), "refuse", "no credit yet: an ack is an ordinary request");
    for (let i = 0; i < 3; i++) gate.earnAck();
    assert.equal(gate.check(2), "ok");
    assert.equal(gate.check(2), "refuse", "1 item of credit left does not cover 2");
    assert.equal(gate.check(1), "ok");
    assert.equal(gate.check(1), "refuse", "credit spent");
    assert.equal(gate.check(0), "refuse", "other requests never use it");
  });
});

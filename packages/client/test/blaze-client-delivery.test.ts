import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { HttpClient, type BlazeAck } from "../src/index.js";
import { Harness, TcpProxy, client, closeClients, delay, portOf, waitFor, type TestUser } from "./blaze-support.js";

/**
 * Delivery semantics against a real openblaze: at-least-once until acked on the server side,
 * exactly-once handler calls on ours (dedup), acks batched and never lost on close.
 */
describe("BlazeClient delivery: acks, dedup, ordering, backpressure", { timeout: 60_000 }, () => {
  let h: Harness;
  let proxy: TcpProxy;
  let acknowledged: { calls: number; items: number };

  before(async () => {
    h = await Harness.start();
    proxy = await TcpProxy.start(portOf(h.wsUrl));
    // Observe acks server-side: every WS ACKNOWLEDGE_* request ends in messaging.acknowledge.
    const m = h.server.services.messaging;
    const original = m.acknowledge.bind(m);
    acknowledged = { calls: 0, items: 0 };
    m.acknowledge = (who, items, max) => {
      acknowledged.calls++;
      acknowledged.items += Array.isArray(items) ? items.length : 0;
      return original(who, items, max);
    };
  });
  afterEach(closeClients);
  after(async () => {
    await proxy.close();
    await h.close();
  });

  /** A fresh bot and sender per test, so mailboxes never leak between tests. */
  async function pair(): Promise<[TestUser, TestUser]> {
    return [await h.user("bot", true), await h.user("sender")];
  }

  /** Nothing left for this session: a fresh raw socket on it gets no push. */
  async function assertNothingPending(u: TestUser): Promise<void> {
    const raw = await h.socket(u);
    try {
      await raw.request("LIST_PENDING_MESSAGES");
      assert.ok(await raw.noPush(250), "the server still had unacked messages");
    } finally {
      raw.close();
    }
  }

  async function sendTexts(from: TestUser, to: TestUser, texts: string[]): Promise<void> {
    const s = client(h.wsUrl, from);
    await s.connect();
    await s.sendBatch(texts.map((t) => ({ target: { userId: to.userId }, message: { category: "PLAIN_TEXT", payload: Buffer.from(t) } })));
    await s.close();
  }

  it("handled and acked: not redelivered on reconnect", async () => {
    const [bot, sender] = await pair();
    const calls: string[] = [];
    const c = client(proxy.url, bot, { handler: (m) => void (m.kind === "text" && calls.push(m.payload)) });
    await c.connect();
    await sendTexts(sender, bot, ["a", "b", "c"]);
    await waitFor(() => calls.length === 3, "three messages");
    await c.flushAcks();
    let pushes = 0;
    c.on("frame", (f) => void (f.action === "CREATE_MESSAGE" && pushes++));
    proxy.dropAll();
    await waitFor(() => c.stats().connections === 2 && c.state === "ready", "reconnected");
    await delay(150);
    assert.equal(pushes, 0, "nothing was pushed again");
    assert.deepEqual(calls, ["a", "b", "c"]);
  });

  it("handled but ack lost: redelivered, dedup skips the handler and acks again", async () => {
    const [bot, sender] = await pair();
    const calls: string[] = [];
    let loseAcks = true;
    const sentAcks: BlazeAck[] = [];
    const c = client(proxy.url, bot, {
      handler: (m) => void (m.kind === "text" && calls.push(m.payload)),
      // A custom ack path (as HTTP /acknowledgements would be) that silently loses the first acks.
      ackVia: async (batch) => {
        if (loseAcks) return;
        sentAcks.push(...batch);
        await c.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", { messages: batch });
      },
    });
    await c.connect();
    await sendTexts(sender, bot, ["x", "y", "z"]);
    await waitFor(() => calls.length === 3, "three messages");
    await c.flushAcks();
    loseAcks = false;
    let redelivered = 0;
    c.on("frame", (f) => void (f.action === "CREATE_MESSAGE" && (f.data as { source?: string }).source === "LIST_PENDING_MESSAGES" && redelivered++));
    proxy.dropAll();
    await waitFor(() => redelivered === 3, "the three unacked messages again");
    await waitFor(() => sentAcks.length === 3, "acks for the duplicates");
    await c.flushAcks();
    assert.deepEqual(calls, ["x", "y", "z"], "the handler ran once per message");
    await c.close();
    await assertNothingPending(bot);
  });

  it("a failing handler is reported, not acked, and runs again on the redelivery; the process survives", async () => {
    const [bot, sender] = await pair();
    const attempts = new Map<string, number>();
    const c = client(proxy.url, bot, {
      handler: async (m) => {
        if (m.kind !== "text") return;
        const n = (attempts.get(m.payload) ?? 0) + 1;
        attempts.set(m.payload, n);
        if (m.payload === "throws" && n === 1) throw new Error("boom");
        if (m.payload === "rejects" && n === 1) await Promise.reject(new Error("async boom"));
      },
    });
    await c.connect();
    await sendTexts(sender, bot, ["throws", "fine", "rejects"]);
    await waitFor(() => attempts.size === 3, "all three handled once");
    await c.flushAcks();
    const handlerErrors = c.errors.filter(([, ctx]) => ctx.phase === "handler");
    assert.deepEqual(handlerErrors.map(([e]) => e.message).sort(), ["async boom", "boom"]);
    assert.deepEqual(handlerErrors.map(([, ctx]) => ctx.message?.kind === "text" && ctx.message.payload).sort(), ["rejects", "throws"]);
    proxy.dropAll();
    await waitFor(() => attempts.get("throws") === 2 && attempts.get("rejects") === 2, "the failed ones again");
    await c.flushAcks();
    assert.equal(attempts.get("fine"), 1, "the acked one was not redelivered");
    await c.close();
    await assertNothingPending(bot);
  });

  it("serial per conversation, parallel across conversations, bounded by maxInFlight", async () => {
    const bot = await h.user("bot", true);
    const senders = await Promise.all([h.user("s1"), h.user("s2"), h.user("s3"), h.user("s4")]);
    const order = new Map<string, number[]>();
    const runningPerConversation = new Map<string, number>();
    let running = 0;
    let maxRunning = 0;
    let overlapInConversation = false;
    const c = client(h.wsUrl, bot, {
      maxInFlight: 3,
      handler: async (m) => {
        if (m.kind !== "text") return;
        running++;
        maxRunning = Math.max(maxRunning, running);
        const r = (runningPerConversation.get(m.conversationId) ?? 0) + 1;
        runningPerConversation.set(m.conversationId, r);
        if (r > 1) overlapInConversation = true;
        await delay(1 + Math.floor(Math.random() * 4));
        const list = order.get(m.conversationId) ?? [];
        list.push(Number(m.payload));
        order.set(m.conversationId, list);
        runningPerConversation.set(m.conversationId, r - 1);
        running--;
      },
    });
    await c.connect();
    const per = 15;
    await Promise.all(senders.map((s) => sendTexts(s, bot, Array.from({ length: per }, (_, i) => String(i)))));
    await waitFor(() => [...order.values()].reduce((n, l) => n + l.length, 0) === per * senders.length, "every message", 10_000);
    assert.equal(order.size, senders.length);
    for (const list of order.values()) assert.deepEqual(list, Array.from({ length: per }, (_, i) => i), "in order within a conversation");
    assert.equal(overlapInConversation, false);
    assert.ok(maxRunning >= 2, `ran conversations in parallel (max ${maxRunning})`);
    assert.ok(maxRunning <= 3, `never more than maxInFlight handlers (max ${maxRunning})`);
  });

  it("pauses socket reads at maxInFlight and loses nothing", async () => {
    const [bot, sender] = await pair();
    const N = 400;
    const seen: number[] = [];
    let pausedSeen = false;
    let maxHeld = 0;
    let running = 0;
    let maxRunning = 0;
    const c = client(h.wsUrl, bot, {
      maxInFlight: 2,
      handler: async (m) => {
        if (m.kind !== "text") return;
        running++;
        maxRunning = Math.max(maxRunning, running);
        const s = c.stats();
        pausedSeen ||= s.paused;
        maxHeld = Math.max(maxHeld, s.inFlight);
        await delay(1);
        seen.push(Number(m.payload));
        running--;
      },
    });
    await c.connect();
    await sendTexts(sender, bot, Array.from({ length: N }, (_, i) => String(i)));
    await waitFor(() => seen.length === N, `${N} messages`, 20_000);
    assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i));
    assert.ok(pausedSeen, "reads were paused");
    assert.ok(maxRunning <= 2, `at most maxInFlight handlers ran at once (max ${maxRunning})`);
    // Frames already read when reads pause still queue (at most one socket read's worth), so the
    // bound is maxInFlight plus one chunk, not the whole backlog.
    assert.ok(maxHeld < N / 2, `held ${maxHeld} of ${N} at most`);
    await waitFor(() => !c.stats().paused, "reads resumed");
    await c.flushAcks();
    await c.close();
    await assertNothingPending(bot);
  });

  it("batches acks: 250 messages cost a handful of ACKNOWLEDGE_MESSAGE_RECEIPTS, and all are acked", async () => {
    const [bot, sender] = await pair();
    let handled = 0;
    const c = client(h.wsUrl, bot, { ackFlushMs: 50, handler: () => void handled++ });
    await c.connect();
    const before = { ...acknowledged };
    await sendTexts(sender, bot, Array.from({ length: 250 }, (_, i) => `ack ${i}`));
    await waitFor(() => handled === 250, "250 messages");
    await c.flushAcks();
    const calls = acknowledged.calls - before.calls;
    assert.equal(acknowledged.items - before.items, 250);
    assert.ok(calls >= 3 && calls <= 12, `${calls} ack requests for 250 messages`);
    assert.equal(c.stats().ackRequests, calls);
    await c.close();
    await assertNothingPending(bot);
  });

  it("close() flushes acks still waiting for their batch timer, and waits for a running handler", async () => {
    const [bot, sender] = await pair();
    let done = 0;
    const c = client(h.wsUrl, bot, {
      ackFlushMs: 60_000,
      handler: async (m) => {
        if (m.kind === "text" && m.payload === "slow") await delay(200);
        done++;
      },
    });
    await c.connect();
    await sendTexts(sender, bot, ["quick 1", "quick 2", "slow"]);
    await waitFor(() => done === 2 && c.stats().inFlight === 1, "two done, the slow one running");
    assert.equal(c.stats().pendingAcks, 2);
    await c.close();
    assert.equal(done, 3, "close() waited for the running handler");
    await assertNothingPending(bot);
  });

  it("ackPolicy manual: nothing is acked until client.ack(); ack() is batched and confirmed by flushAcks()", async () => {
    const [bot, sender] = await pair();
    const ids: string[] = [];
    const c = client(h.wsUrl, bot, { ackPolicy: "manual", handler: (m) => void ids.push(m.messageId) });
    await c.connect();
    const before = acknowledged.calls;
    await sendTexts(sender, bot, ["m1", "m2", "m3"]);
    await waitFor(() => ids.length === 3, "three messages");
    await delay(100);
    assert.equal(acknowledged.calls, before, "no ack without client.ack()");
    for (const id of ids) c.ack(id);
    await c.flushAcks();
    assert.equal(acknowledged.calls, before + 1);
    await c.close();
    await assertNothingPending(bot);
  });

  it("ackPolicy on-receipt: acked even when the handler throws (at most once)", async () => {
    const [bot, sender] = await pair();
    let calls = 0;
    const c = client(h.wsUrl, bot, {
      ackPolicy: "on-receipt",
      ackStatus: "DELIVERED",
      handler: () => {
        calls++;
        throw new Error("handler failed");
      },
    });
    await c.connect();
    await sendTexts(sender, bot, ["once"]);
    await waitFor(() => calls === 1, "the message");
    await c.close();
    await assertNothingPending(bot);
  });

  it("ackVia plugs in another ack path: HTTP POST /acknowledgements through HttpClient", async () => {
    const [bot, sender] = await pair();
    const api = new HttpClient({ keystore: bot.keystore, apiUrl: h.httpUrl });
    const batches: number[] = [];
    let handled = 0;
    const c = client(h.wsUrl, bot, {
      ackVia: async (batch) => {
        batches.push(batch.length);
        await api.acknowledge(batch.map((a) => ({ messageId: a.message_id, status: a.status })));
      },
      handler: () => void handled++,
    });
    await c.connect();
    await sendTexts(sender, bot, Array.from({ length: 30 }, (_, i) => `http ack ${i}`));
    await waitFor(() => handled === 30, "30 messages");
    await c.close(); // flushes through ackVia
    assert.equal(batches.reduce((a, b) => a + b, 0), 30);
    await assertNothingPending(bot);
  });

  it("dedup is pluggable; dedup: false runs the handler on every delivery", async () => {
    const [bot, sender] = await pair();
    const store = new Set<string>();
    const adds: string[] = [];
    let calls = 0;
    const c = client(proxy.url, bot, {
      dedup: { has: async (id) => store.has(id), add: async (id) => void (store.add(id), adds.push(id)) },
      ackVia: async () => {}, // lose every ack: every reconnect redelivers
      handler: () => void calls++,
    });
    await c.connect();
    await sendTexts(sender, bot, ["one"]);
    await waitFor(() => calls === 1, "first delivery");
    proxy.dropAll();
    await waitFor(() => c.stats().connections === 2 && c.state === "ready", "reconnected");
    await delay(100);
    assert.equal(calls, 1);
    assert.equal(adds.length, 1);
    await c.close();

    let raw = 0;
    const d = client(proxy.url, bot, { dedup: false, ackVia: async () => {}, handler: () => void raw++ });
    await d.connect();
    await waitFor(() => raw === 1, "delivery without dedup");
    proxy.dropAll();
    await waitFor(() => raw === 2, "the same message handled again");
  });
});

import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { newUuid, uniqueConversationId, type BlazeMessage } from "@openblaze/protocol";
import { BlazeClient, BlazeError, ClosedError, TimeoutError, compose, type ReceivedMessage } from "../src/index.js";
import { FakeBlaze, Harness, client, closeClients, waitFor, type TestUser } from "./blaze-support.js";

describe("BlazeClient against openblaze", { timeout: 60_000 }, () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  let carol: TestUser;

  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    alice = await h.user("alice");
    carol = await h.user("carol");
  });
  afterEach(closeClients);
  after(() => h.close());

  it("emits connecting, open and ready in order, then closes for good", async () => {
    const c = client(h.wsUrl, bot);
    const seen: string[] = [];
    for (const e of ["connecting", "open", "ready", "closed"] as const) c.on(e, () => seen.push(e));
    let protocol = "";
    c.on("open", (info) => (protocol = info.protocol));
    assert.equal(c.state, "idle");
    await c.connect();
    assert.equal(c.state, "ready");
    assert.equal(protocol, "Mixin-Blaze-1");
    await c.close();
    assert.equal(c.state, "closed");
    assert.deepEqual(seen, ["connecting", "open", "ready", "closed"]);
    await assert.rejects(c.connect(), ClosedError);
    await assert.rejects(c.sendText({ userId: alice.userId }, "after close"), ClosedError);
  });

  it("accepts the legacy keystore form (client_id + base64url private_key)", async () => {
    const seed = Buffer.from(bot.keystore.session_private_key, "hex");
    const legacy = { client_id: bot.userId, session_id: bot.sessionId, private_key: Buffer.concat([seed, Buffer.alloc(32)]).toString("base64url") };
    const c = new BlazeClient({ keystore: legacy, url: h.wsUrl });
    await c.connect();
    await c.close();
  });

  it("rejects a malformed keystore at construction instead of connecting with an empty token", () => {
    assert.throws(() => new BlazeClient({ keystore: { app_id: "nope", session_id: newUuid(), session_private_key: "00" } }), TypeError);
  });

  it("every send helper round-trips to a second client with the typed payload it was sent", async () => {
    const received: ReceivedMessage[] = [];
    const a = client(h.wsUrl, bot);
    const b = client(h.wsUrl, alice, { handler: (m) => void (m.userId === bot.userId && received.push(m)) });
    await Promise.all([a.connect(), b.connect()]);
    const to = { userId: alice.userId };
    const att = () => newUuid();
    const image = { attachment_id: att(), mime_type: "image/png", width: 640, height: 480, size: 1234, thumbnail: "iVBORw0KGgo", caption: "a cat" };
    const video = { attachment_id: att(), mime_type: "video/mp4", width: 1280, height: 720, size: 99999, duration: 4200 };
    const audio = { attachment_id: att(), mime_type: "audio/ogg", size: 2048, duration: 3000, waveform: "AAECAwQ" };
    const data = { attachment_id: att(), mime_type: "application/pdf", size: 4096, name: "report.pdf" };
    const sticker = { sticker_id: newUuid() };
    const buttons = [
      { label: "Open", color: "#3D75E3", action: "https://example.org" },
      { label: "Help", color: "#AA0000", action: "input:help" },
    ];
    const card = { app_id: bot.userId, title: "Weekly report", description: "3 new items", actions: buttons, shareable: true };
    const live = { width: 640, height: 360, thumb_url: "https://example.org/t.png", url: "https://example.org/live.m3u8", shareable: false };
    const location = { latitude: 31.2304, longitude: 121.4737, name: "Shanghai", address: "People's Square" };

    const text = await a.sendText(to, "hello 世界 👋", { silent: true });
    const quoted = await a.sendPost(to, "# Title\n\n*markdown*", { quoteMessageId: text.messageId });
    await a.sendImage(to, image);
    await a.sendVideo(to, video);
    await a.sendAudio(to, audio);
    await a.sendData(to, data);
    await a.sendSticker(to, sticker);
    await a.sendContact(to, carol.userId);
    await a.sendButtons(to, buttons);
    await a.sendCard(to, card);
    await a.sendLive(to, live);
    await a.sendLocation(to, location);
    await a.sendRecall(to, text.messageId);
    await a.sendPin(to, "PIN", [quoted.messageId]);
    assert.equal(text.conversationId, uniqueConversationId(bot.userId, alice.userId));
    assert.equal(text.view?.status, "SENT");

    await waitFor(() => received.length === 14, "14 messages");
    const byKind = new Map(received.map((m) => [m.kind, m]));
    const payload = (kind: string) => byKind.get(kind as ReceivedMessage["kind"])?.payload;
    assert.equal(payload("text"), "hello 世界 👋");
    assert.equal(payload("post"), "# Title\n\n*markdown*");
    assert.deepEqual(payload("image"), image);
    assert.deepEqual(payload("video"), video);
    assert.deepEqual(payload("audio"), audio);
    assert.deepEqual(payload("data"), data);
    assert.deepEqual(payload("sticker"), sticker);
    assert.deepEqual(payload("contact"), { user_id: carol.userId });
    assert.deepEqual(payload("buttons"), buttons);
    assert.deepEqual(payload("card"), card);
    assert.deepEqual(payload("live"), live);
    assert.deepEqual(payload("location"), location);
    assert.deepEqual(payload("recall"), { message_id: text.messageId });
    assert.deepEqual(payload("pin"), { action: "PIN", message_ids: [quoted.messageId] });
    // Envelope fields, decoded and camel-cased.
    const t = byKind.get("text")!;
    assert.equal(t.messageId, text.messageId);
    assert.equal(t.userId, bot.userId);
    assert.equal(t.conversationId, text.conversationId);
    assert.equal(t.silent, true);
    assert.equal(t.category, "PLAIN_TEXT");
    assert.equal(byKind.get("post")!.quoteMessageId, text.messageId);
    // Received in the order sent (one conversation is handled serially).
    assert.deepEqual(
      received.map((m) => m.kind),
      ["text", "post", "image", "video", "audio", "data", "sticker", "contact", "buttons", "card", "live", "location", "recall", "pin"],
    );
    await Promise.all([a.close(), b.close()]);
  });

  it("a handler can reply() into the conversation, addressed to the sender in 1:1", async () => {
    const got: ReceivedMessage[] = [];
    const a = client(h.wsUrl, bot, { handler: async (m, ctx) => void (await ctx.reply(compose.text(`echo: ${m.kind === "text" ? m.payload : ""}`), { quoteMessageId: m.messageId })) });
    const b = client(h.wsUrl, alice, { handler: (m) => void (m.userId === bot.userId && got.push(m)) });
    await Promise.all([a.connect(), b.connect()]);
    const sent = await b.sendText({ userId: bot.userId }, "ping");
    await waitFor(() => got.length === 1, "the echo");
    assert.equal(got[0]!.kind === "text" && got[0]!.payload, "echo: ping");
    assert.equal(got[0]!.quoteMessageId, sent.messageId);
    await Promise.all([a.close(), b.close()]);
  });

  it("a payload the server refuses is a typed BlazeError 10002, not retried", async () => {
    const a = client(h.wsUrl, bot);
    await a.connect();
    const m = h.server.services.messaging;
    const original = m.sendOne.bind(m);
    let calls = 0;
    m.sendOne = (who, params) => {
      calls++;
      return original(who, params);
    };
    try {
      const seven = Array.from({ length: 7 }, (_, i) => ({ label: `b${i}`, color: "#000000", action: "https://example.org" }));
      // compose would refuse this before sending; send() takes any Outgoing, so the server decides.
      assert.throws(() => compose.buttons(seven), BlazeError);
      const err = await a.send({ userId: alice.userId }, { category: "APP_BUTTON_GROUP", payload: Buffer.from(JSON.stringify(seven)) }).then(
        () => assert.fail("should reject"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BlazeError);
      assert.equal(err.code, 10002);
      assert.equal(err.extra?.field, "data");
      assert.match(err.message, /at most 6/);
      assert.equal(calls, 1);
      // The helper validates before sending: nothing reaches the server.
      await assert.rejects(a.sendButtons({ userId: alice.userId }, seven), (e: unknown) => e instanceof BlazeError && e.code === 10002);
      assert.equal(calls, 1);
    } finally {
      m.sendOne = original;
      await a.close();
    }
  });

  it("sending into a conversation we are not in is a typed 403", async () => {
    const group = await h.server.services.conversations.create(
      { userId: alice.userId, sessionId: alice.sessionId },
      { category: "GROUP", name: "not for bots", participants: [{ user_id: carol.userId }] },
    );
    const a = client(h.wsUrl, bot);
    await a.connect();
    await assert.rejects(a.sendText({ conversationId: group.conversation.conversationId }, "let me in"), (e: unknown) => e instanceof BlazeError && e.code === 403 && e.status === 202);
    await a.close();
  });

  it("sendBatch chunks 250 messages into 3 CREATE_PLAIN_MESSAGES calls; a second client gets all of them", async () => {
    const got = new Set<string>();
    const a = client(h.wsUrl, bot);
    const b = client(h.wsUrl, alice, { handler: (m) => void (m.kind === "text" && m.payload.startsWith("batch ") && got.add(m.payload)) });
    await Promise.all([a.connect(), b.connect()]);
    const m = h.server.services.messaging;
    const original = m.sendBatch.bind(m);
    const sizes: number[] = [];
    m.sendBatch = (who, items, allow) => {
      sizes.push((items as unknown[]).length);
      return original(who, items, allow);
    };
    try {
      const items = Array.from({ length: 250 }, (_, i) => ({ target: { userId: alice.userId }, message: compose.text(`batch ${i}`) }));
      const ids = await a.sendBatch(items);
      assert.equal(ids.length, 250);
      assert.equal(new Set(ids).size, 250);
      assert.deepEqual(sizes, [100, 100, 50]);
      await waitFor(() => got.size === 250, "250 batch messages");

      // A non-PLAIN item fails the whole batch, typed, before anything is sent.
      const mixed = [items[0]!, { target: { userId: alice.userId }, message: compose.buttons([{ label: "x", color: "#000000", action: "https://x.org" }]) }];
      await assert.rejects(a.sendBatch(mixed), (e: unknown) => e instanceof BlazeError && e.code === 10002 && e.extra?.index === 1 && e.extra.field === "category");
      assert.deepEqual(sizes, [100, 100, 50]);
    } finally {
      m.sendBatch = original;
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("receipts arrive as their own event when the recipient acks", async () => {
    const receipts: string[] = [];
    const a = client(h.wsUrl, bot, { handler: { receipt: (r) => void receipts.push(`${r.messageId}:${r.status}`) } });
    const b = client(h.wsUrl, alice, { ackStatus: "DELIVERED" });
    await Promise.all([a.connect(), b.connect()]);
    const sent = await a.sendText({ userId: alice.userId }, "did you get it?");
    await waitFor(() => receipts.length === 1, "a receipt");
    assert.deepEqual(receipts, [`${sent.messageId}:DELIVERED`]);
    b.ack(sent.messageId, "READ");
    await waitFor(() => receipts.length === 2, "the READ receipt");
    assert.equal(receipts[1], `${sent.messageId}:READ`);
    await Promise.all([a.close(), b.close()]);
  });

  it("SYSTEM_CONVERSATION messages come typed, as a conversation event and to the conversation handler", async () => {
    const events: string[] = [];
    const handled: string[] = [];
    const a = client(h.wsUrl, bot, {
      handler: { message: () => void handled.push("message"), conversation: (m) => void handled.push(`conversation:${m.payload.action}`) },
    });
    a.on("conversation", (m) => events.push(`${m.payload.action}:${m.payload.participant_id}`));
    await a.connect();
    const group = await h.server.services.conversations.create(
      { userId: alice.userId, sessionId: alice.sessionId },
      { category: "GROUP", name: "with the bot", participants: [{ user_id: bot.userId }] },
    );
    await waitFor(() => handled.length > 0, "a system message");
    assert.ok(handled.every((x) => x.startsWith("conversation:")), JSON.stringify(handled));
    assert.ok(events.length > 0);
    assert.ok(group.conversation.conversationId);
    await a.close();
  });

  it("encrypted (opaque) categories arrive as the raw variant, never as a crash", async () => {
    const got: ReceivedMessage[] = [];
    const a = client(h.wsUrl, bot);
    const b = client(h.wsUrl, alice, { handler: (m) => void (m.category === "ENCRYPTED_TEXT" && got.push(m)) });
    await Promise.all([a.connect(), b.connect()]);
    await a.send({ userId: alice.userId }, { category: "ENCRYPTED_TEXT", payload: Buffer.from([1, 2, 3, 255]) });
    await waitFor(() => got.length === 1, "the encrypted message");
    const m = got[0]!;
    assert.equal(m.kind, "raw");
    assert.equal(m.category, "ENCRYPTED_TEXT");
    assert.deepEqual([...m.bytes], [1, 2, 3, 255]);
    await Promise.all([a.close(), b.close()]);
  });

  it("request() correlates any action and rejects error replies with the typed error", async () => {
    const a = client(h.wsUrl, bot);
    await a.connect();
    const reply = await a.request("LIST_PENDING_MESSAGES");
    assert.equal(reply.action, "LIST_PENDING_MESSAGES");
    await assert.rejects(a.request("NO_SUCH_ACTION"), (e: unknown) => e instanceof BlazeError && e.code === 400);
    await a.close();
  });

  it("a request before connect() fails fast; one made while the socket is opening waits for it", async () => {
    const a = client(h.wsUrl, bot);
    await assert.rejects(a.sendText({ userId: alice.userId }, "nobody connected"), /call connect\(\) first/);
    const connecting = a.connect();
    const early = a.sendText({ userId: alice.userId }, "queued before the socket opened");
    assert.equal(a.state, "connecting");
    await connecting;
    const r = await early;
    assert.equal(r.view?.message_id, r.messageId);
    await a.close();
  });
});

describe("BlazeClient timeouts and cancellation (silent fake server)", { timeout: 60_000 }, () => {
  let fake: FakeBlaze;
  let user: TestUser;
  let h: Harness;

  before(async () => {
    fake = await FakeBlaze.start();
    // Only LIST_PENDING_MESSAGES is answered: every other request hangs.
    fake.reply = (req) => (req.action === "LIST_PENDING_MESSAGES" ? { id: req.id, action: req.action } : undefined);
    h = await Harness.start();
    user = await h.user("timeouts");
  });
  afterEach(closeClients);
  after(async () => {
    await fake.close();
    await h.close();
  });

  it("rejects with TimeoutError after the per-call timeout", async () => {
    const c = client(fake.url, user);
    await c.connect();
    const started = Date.now();
    await assert.rejects(c.request("CREATE_MESSAGE", {}, { timeoutMs: 100 }), TimeoutError);
    assert.ok(Date.now() - started < 1000);
    await c.close();
  });

  it("an AbortSignal cancels a pending request and a retrying send", async () => {
    const c = client(fake.url, user);
    await c.connect();
    const ac = new AbortController();
    const pending = c.request("CREATE_MESSAGE", {}, { signal: ac.signal, timeoutMs: 5000 });
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(pending, { name: "AbortError" });
    await assert.rejects(c.request("CREATE_MESSAGE", {}, { signal: AbortSignal.abort() }), { name: "AbortError" });
    const ac2 = new AbortController();
    const send = c.sendText({ userId: newUuid() }, "never answered", { signal: ac2.signal, timeoutMs: 50, retries: 100 });
    setTimeout(() => ac2.abort(), 200);
    await assert.rejects(send, { name: "AbortError" });
    await c.close();
  });

  it("a timed-out send is retried with the same message_id, then gives up with TimeoutError", async () => {
    const c = client(fake.url, user);
    await c.connect();
    const before = fake.requests("CREATE_MESSAGE").length;
    await assert.rejects(c.sendText({ userId: newUuid() }, "retry me", { timeoutMs: 50, retries: 2 }), TimeoutError);
    const sent = fake.requests("CREATE_MESSAGE").slice(before) as BlazeMessage<{ message_id: string }>[];
    assert.equal(sent.length, 3);
    assert.equal(new Set(sent.map((f) => f.params!.message_id)).size, 1);
    assert.equal(new Set(sent.map((f) => f.id)).size, 3);
    await c.close();
  });

  it("a send answered with 429 is retried, then succeeds with the same message_id", async () => {
    const c = client(fake.url, user);
    await c.connect();
    let n = 0;
    const previous = fake.reply;
    fake.reply = (req) => {
      if (req.action !== "CREATE_MESSAGE") return previous(req, undefined as never);
      n++;
      if (n < 3) return { id: req.id, action: req.action, error: { status: 202, code: 429, description: "Too Many Requests." } };
      return { id: req.id, action: req.action, data: { message_id: (req.params as { message_id: string }).message_id, status: "SENT" } };
    };
    try {
      const r = await c.sendText({ userId: newUuid() }, "rate limited");
      assert.equal(n, 3);
      assert.equal((r.view as { message_id: string }).message_id, r.messageId);
    } finally {
      fake.reply = previous;
      await c.close();
    }
  });
});

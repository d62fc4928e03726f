import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newUuid, uniqueConversationId, type MessageView } from "@openblaze/protocol";
import { BlazeError, HttpClient, compose, type Outgoing } from "../src/index.js";
import { FaultProxy, Harness, type TestSocket, type TestUser } from "./http-support.js";

describe("HttpClient: messages, conversations, users", () => {
  let h: Harness;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let proxy: FaultProxy;
  let a: HttpClient;
  let bobSocket: TestSocket;

  before(async () => {
    h = await Harness.start();
    [alice, bob, carol, dave] = await Promise.all([h.user("alice", true), h.user("bob"), h.user("carol"), h.user("dave")]);
    proxy = await FaultProxy.start(h.httpUrl);
    a = new HttpClient({ keystore: alice.keystore, apiUrl: proxy.url });
    bobSocket = await h.socket(bob);
    await bobSocket.request("LIST_PENDING_MESSAGES");
  });
  after(async () => {
    await proxy.close();
    await h.close();
  });

  const client = (u: TestUser) => new HttpClient({ keystore: u.keystore, apiUrl: h.httpUrl });

  /** Pushes for bob until `n` distinct message ids arrived; fails on a duplicate. */
  async function drain(socket: TestSocket, n: number): Promise<Set<string>> {
    const seen = new Set<string>();
    while (seen.size < n) {
      const push = await socket.push();
      assert.ok(!seen.has(push.data.message_id), `duplicate delivery of ${push.data.message_id}`);
      seen.add(push.data.message_id);
    }
    return seen;
  }

  it("every send helper round-trips to a raw Blaze recipient, payload byte for byte", async () => {
    const to = { userId: bob.userId };
    const attachment = { attachment_id: newUuid(), mime_type: "image/png", size: 1234 };
    const first = await a.sendText(to, "to be recalled and pinned");
    await bobSocket.push();
    const cases: [string, () => Promise<MessageView>, Outgoing][] = [
      ["sendText", () => a.sendText(to, "hello ✓"), compose.text("hello ✓")],
      ["sendPost", () => a.sendPost(to, "# Title\n\n*md*"), compose.post("# Title\n\n*md*")],
      ["sendImage", () => a.sendImage(to, { ...attachment, width: 640, height: 480, thumbnail: "AAAA" }), compose.image({ ...attachment, width: 640, height: 480, thumbnail: "AAAA" })],
      ["sendVideo", () => a.sendVideo(to, { ...attachment, mime_type: "video/mp4", width: 320, height: 240, duration: 2500 }), compose.video({ ...attachment, mime_type: "video/mp4", width: 320, height: 240, duration: 2500 })],
      ["sendAudio", () => a.sendAudio(to, { ...attachment, mime_type: "audio/ogg", duration: 3000, waveform: "AQID" }), compose.audio({ ...attachment, mime_type: "audio/ogg", duration: 3000, waveform: "AQID" })],
      ["sendData", () => a.sendData(to, { ...attachment, mime_type: "application/pdf", name: "a.pdf" }), compose.data({ ...attachment, mime_type: "application/pdf", name: "a.pdf" })],
      ["sendSticker", () => a.sendSticker(to, { sticker_id: attachment.attachment_id }), compose.sticker({ sticker_id: attachment.attachment_id })],
      ["sendContact", () => a.sendContact(to, carol.userId), compose.contact(carol.userId)],
      ["sendButtons", () => a.sendButtons(to, [{ label: "Open", color: "#00BBFF", action: "https://example.com" }]), compose.buttons([{ label: "Open", color: "#00BBFF", action: "https://example.com" }])],
      ["sendCard", () => a.sendCard(to, { app_id: alice.userId, title: "Card", description: "d", action: "https://example.com" }), compose.card({ app_id: alice.userId, title: "Card", description: "d", action: "https://example.com" })],
      ["sendLive", () => a.sendLive(to, { width: 1280, height: 720, thumb_url: "https://e.com/t.jpg", url: "https://e.com/live.m3u8" }), compose.live({ width: 1280, height: 720, thumb_url: "https://e.com/t.jpg", url: "https://e.com/live.m3u8" })],
      ["sendLocation", () => a.sendLocation(to, { latitude: 31.2, longitude: 121.5, name: "Bund" }), compose.location({ latitude: 31.2, longitude: 121.5, name: "Bund" })],
      ["sendPin", () => a.sendPin(to, "PIN", [first.message_id]), compose.pin("PIN", [first.message_id])],
      ["sendRecall", () => a.sendRecall(to, first.message_id), compose.recall(first.message_id)],
    ];
    for (const [name, send, expected] of cases) {
      const view = await send();
      assert.equal(view.category, expected.category, name);
      const push = await bobSocket.push();
      assert.equal(push.data.message_id, view.message_id, name);
      assert.equal(push.data.category, expected.category, name);
      assert.equal(push.data.user_id, alice.userId, name);
      assert.equal(push.data.conversation_id, uniqueConversationId(alice.userId, bob.userId), name);
      assert.deepEqual(Buffer.from(push.data.data, "base64"), expected.payload, name);
    }
    assert.ok(await bobSocket.noPush(200));
  });

  it("passes quote, silent and a chosen message_id through", async () => {
    const base = await a.sendText({ userId: bob.userId }, "base");
    await bobSocket.push();
    const messageId = newUuid();
    const view = await a.sendText({ userId: bob.userId }, "reply", { messageId, quoteMessageId: base.message_id, silent: true });
    assert.equal(view.message_id, messageId);
    const push = await bobSocket.push();
    assert.equal(push.data.quote_message_id, base.message_id);
    assert.equal(push.data.silent, true);
  });

  it("sendBatch of 250 takes 3 POSTs and delivers each message once; sending it again delivers nothing", async () => {
    const before = proxy.count("POST", "/messages");
    const items = Array.from({ length: 250 }, (_, i) => ({ target: { userId: bob.userId }, message: compose.text(`batch ${i}`) }));
    const sent = await a.sendBatch(items);
    assert.equal(sent.length, 250);
    assert.equal(proxy.count("POST", "/messages") - before, 3);
    const sizes = proxy.requests.filter((r) => r.url === "/messages").slice(-3).map((r) => (JSON.parse(r.body.toString()) as unknown[]).length);
    assert.deepEqual(sizes, [100, 100, 50]);
    const seen = await drain(bobSocket, 250);
    assert.deepEqual(seen, new Set(sent.map((p) => p.message_id)));
    assert.ok(await bobSocket.noPush(300));

    await a.sendBatch(sent);
    assert.equal(proxy.count("POST", "/messages") - before, 6);
    assert.ok(await bobSocket.noPush(300), "resent ids are deduplicated");
  });

  it("acknowledge marks messages READ in chunks of 100; nothing is pending afterwards", async () => {
    const erin = await h.user("erin");
    const sent = await a.sendBatch(Array.from({ length: 150 }, (_, i) => ({ target: { userId: erin.userId }, message: compose.text(`ack ${i}`) })));
    const erinProxy = await FaultProxy.start(h.httpUrl);
    try {
      const e = new HttpClient({ keystore: erin.keystore, apiUrl: erinProxy.url });
      await e.acknowledge([...sent.slice(0, 50).map((p) => p.message_id), ...sent.slice(50).map((p) => ({ messageId: p.message_id, status: "DELIVERED" as const }))]);
      assert.equal(erinProxy.count("POST", "/acknowledgements"), 2);
      const socket = await h.socket(erin);
      await socket.request("LIST_PENDING_MESSAGES");
      assert.ok(await socket.noPush(300), "acknowledged messages are not redelivered");
      socket.close();
    } finally {
      await erinProxy.close();
    }
  });

  it("creates contacts and groups, manages participants and roles, sends to a group", async () => {
    const contact = await a.createContact(bob.userId);
    assert.equal(contact.category, "CONTACT");
    assert.equal(contact.conversation_id, uniqueConversationId(alice.userId, bob.userId));

    const group = await a.createGroup({ name: "Team", participants: [bob.userId, carol.userId], announcement: "hi all" });
    assert.equal(group.category, "GROUP");
    assert.equal(group.name, "Team");
    assert.equal(group.announcement, "hi all");
    const roles = Object.fromEntries(group.participants.map((p) => [p.user_id, p.role]));
    assert.deepEqual(roles, { [alice.userId]: "OWNER", [bob.userId]: "", [carol.userId]: "" });
    // The id is chosen client-side, so creating again (a retry) returns the same group.
    const again = await a.createGroup({ name: "Team", participants: [bob.userId, carol.userId], conversationId: group.conversation_id });
    assert.equal(again.conversation_id, group.conversation_id);

    const b = client(bob);
    assert.equal((await b.conversation(group.conversation_id)).name, "Team");
    assert.equal((await a.updateGroup(group.conversation_id, { name: "Team 2" })).name, "Team 2");

    let view = await a.addParticipants(group.conversation_id, [dave.userId]);
    assert.equal(view.participants.length, 4);
    view = await a.setRole(group.conversation_id, dave.userId, "ADMIN");
    assert.equal(view.participants.find((p) => p.user_id === dave.userId)?.role, "ADMIN");
    view = await a.removeParticipants(group.conversation_id, [carol.userId]);
    assert.deepEqual(view.participants.map((p) => p.user_id).sort(), [alice.userId, bob.userId, dave.userId].sort());
    await assert.rejects(client(carol).conversation(group.conversation_id), (e: unknown) => e instanceof BlazeError && e.code === 403);

    // Drain the system messages the changes produced, then a group text reaches bob.
    while (!(await bobSocket.noPush(200)));
    const text = await a.sendText({ conversationId: group.conversation_id }, "to the group");
    assert.equal((await bobSocket.push()).data.message_id, text.message_id);

    await b.exitGroup(group.conversation_id);
    const after = await a.conversation(group.conversation_id);
    assert.ok(!after.participants.some((p) => p.user_id === bob.userId));
    while (!(await bobSocket.noPush(200)));
  });

  it("looks up users one by one and in bulk", async () => {
    assert.equal((await a.me()).user_id, alice.userId);
    assert.equal((await a.user(carol.userId)).full_name, "carol");
    // 150 ids (two requests), unknown ones skipped, duplicates once.
    const ids = [bob.userId, carol.userId, bob.userId, ...Array.from({ length: 147 }, () => newUuid())];
    const users = await a.users(ids);
    assert.deepEqual(users.map((u) => u.user_id).sort(), [bob.userId, carol.userId].sort());
  });

  it("createUser makes a network user whose generated keystore signs in", async () => {
    const created = await a.createUser("Network User");
    assert.equal(created.user.full_name, "Network User");
    assert.equal(created.keystore.app_id, created.user.user_id);
    const u = new HttpClient({ keystore: created.keystore, apiUrl: h.httpUrl });
    const me = await u.me();
    assert.equal(me.user_id, created.user.user_id);
    assert.equal(me.session_id, created.keystore.session_id);
    // Only bots may create users.
    await assert.rejects(client(bob).createUser("nope"), (e: unknown) => e instanceof BlazeError && e.code === 403);
  });
});

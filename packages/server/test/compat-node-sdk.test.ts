/**
 * Compatibility suite: the official `@mixin.dev/mixin-node-sdk` (7.5.x) against a real openblaze
 * server, with only its URLs changed. The SDK is on at least one side of every exchange; the other
 * side is a raw Blaze socket or a signed request from the harness, so the wire is checked too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MixinApi, ResponseError, getED25519KeyPair, base64RawURLEncode, uniqueConversationID } from "@mixin.dev/mixin-node-sdk";
import type {
  AppButtonMessageRequest,
  AppCardMessageRequest,
  AudioMessageRequest,
  ContactMessageRequest,
  FileMessageRequest,
  ImageMessageRequest,
  Keystore as SdkKeystore,
  LiveMessageRequest,
  LocationMessageRequest,
  MessageRequest,
  StickerMessageRequest,
  VideoMessageRequest,
} from "@mixin.dev/mixin-node-sdk";
import { sendRaw, websocket, type BlazeOptions, type MessageView as SdkMessageView } from "@mixin.dev/mixin-node-sdk/blaze";
import type { WebSocket } from "ws";
import { decodeFrame, newUuid, uniqueConversationId } from "@openblaze/protocol";
import { Harness, textParams, type Frame, type TestSocket, type TestUser } from "./harness.js";

type Api = ReturnType<typeof MixinApi>;

function sdkApi(h: Harness, keystore: SdkKeystore): Api {
  return MixinApi({ keystore, requestConfig: { baseURL: h.httpUrl, timeout: 5000, retry: 1 } });
}

/** Standard base64 `data` of a pushed MessageView → bytes. */
function pushedBytes(f: Frame): Buffer {
  return Buffer.from(f.data.data as string, "base64");
}

async function waitFor<T>(get: () => T | undefined, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The SDK's own `websocket(keystore, url, handler, options)`, plus what its `BlazeKeystoreClient.loop`
 * does on open (send LIST_PENDING_MESSAGES). Handler calls are recorded per kind; every raw frame
 * is also decoded on the side so tests can see replies the SDK swallows.
 */
class SdkSocket {
  readonly messages: SdkMessageView[] = [];
  readonly receipts: SdkMessageView[] = [];
  readonly conversations: SdkMessageView[] = [];
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once("close", () => resolve()));
    ws.on("message", (data) => this.frames.push(decodeFrame(data as Buffer) as Frame));
  }

  static async open(h: Harness, keystore: SdkKeystore, options?: BlazeOptions): Promise<SdkSocket> {
    let self: SdkSocket | undefined;
    const handler = {
      onMessage: (m: SdkMessageView) => void self!.messages.push(m),
      onAckReceipt: (m: SdkMessageView) => void self!.receipts.push(m),
      onConversation: (m: SdkMessageView) => void self!.conversations.push(m),
    };
    const ws = options === undefined ? websocket(keystore, h.wsUrl, handler) : websocket(keystore, h.wsUrl, handler, options);
    self = new SdkSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    assert.equal(ws.protocol, "Mixin-Blaze-1");
    // What the SDK's loop sends on open; we wait for its (data-less) reply, which the SDK ignores.
    const id = newUuid();
    assert.equal(await sendRaw(ws, { id, action: "LIST_PENDING_MESSAGES" }), true);
    const reply = await waitFor(() => self!.frames.find((f) => f.id === id), "LIST_PENDING_MESSAGES reply");
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    return self;
  }

  message(pred: (m: SdkMessageView) => boolean, timeoutMs?: number): Promise<SdkMessageView> {
    return waitFor(() => this.messages.find(pred), "an SDK onMessage call", timeoutMs);
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}

/** A user's raw socket, subscribed. */
async function subscribed(h: Harness, u: TestUser): Promise<TestSocket> {
  const s = await h.socket(u);
  const r = await s.request("LIST_PENDING_MESSAGES");
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  return s;
}

describe("compat: official @mixin.dev/mixin-node-sdk", () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  let carol: TestUser;
  let botApi: Api;
  let aliceApi: Api;

  before(async () => {
    h = await Harness.start();
    bot = await h.user("compat bot", true);
    alice = await h.user("alice");
    carol = await h.user("carol");
    botApi = sdkApi(h, bot.keystore);
    aliceApi = sdkApi(h, alice.keystore);
  });
  after(async () => h.close());

  describe("HTTP via MixinApi", () => {
    it("user.profile() reads /me", async () => {
      const me = await botApi.user.profile();
      assert.equal(me.user_id, bot.userId);
      assert.equal(me.session_id, bot.sessionId);
      assert.equal(me.full_name, "compat bot");
      assert.equal(me.type, "user");
      const a = await aliceApi.user.profile();
      assert.equal(a.user_id, alice.userId);
    });

    it("user.fetch(id) and user.fetchList(ids) read /users/:id and /users/fetch", async () => {
      const u = await botApi.user.fetch(alice.userId);
      assert.equal(u.user_id, alice.userId);
      assert.equal(u.full_name, "alice");
      assert.equal(u.relationship, "STRANGER");
      const list = await botApi.user.fetchList([alice.userId, carol.userId, newUuid()]);
      assert.deepEqual(list.map((x) => x.user_id).sort(), [alice.userId, carol.userId].sort());
    });

    it("an unknown user is a ResponseError carrying the server's error", async () => {
      await assert.rejects(botApi.user.fetch(newUuid()), (e: unknown) => {
        assert.ok(e instanceof ResponseError);
        assert.equal(e.code, 10404);
        return true;
      });
    });

    it("user.createBareUser() makes a network user whose keystore then works with the SDK", async () => {
      const { seed, publicKey } = getED25519KeyPair();
      const created = await botApi.user.createBareUser("net user", base64RawURLEncode(publicKey));
      assert.equal(created.full_name, "net user");
      const sessionId = (created as unknown as { session_id: string }).session_id;
      assert.ok(sessionId);
      const netApi = sdkApi(h, { app_id: created.user_id, session_id: sessionId, session_private_key: seed.toString("hex"), pin_token_base64: "" });
      const me = await netApi.user.profile();
      assert.equal(me.user_id, created.user_id);
    });

    it("the SDK's uniqueConversationID is ours", () => {
      assert.equal(uniqueConversationID(bot.userId, alice.userId), uniqueConversationId(bot.userId, alice.userId));
      assert.equal(uniqueConversationID(alice.userId, bot.userId), uniqueConversationId(bot.userId, alice.userId));
    });

    describe("attachments", () => {
      it("attachment.create() returns upload and view URLs", async () => {
        const a = await botApi.attachment.create();
        assert.equal(a.type, "attachment");
        assert.match(a.attachment_id, /^[0-9a-f-]{36}$/);
        assert.ok(a.upload_url.startsWith(h.httpUrl), a.upload_url);
        assert.ok(a.view_url.startsWith(h.httpUrl), a.view_url);
      });

      it("attachment.upload(File) + fetch(id); the view URL serves the same bytes", async () => {
        const bytes = Buffer.alloc(70_000);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
        const up = await botApi.attachment.upload(new File([bytes], "x.bin"));
        assert.match(up.attachment_id, /^[0-9a-f-]{36}$/);
        const fetched = await botApi.attachment.fetch(up.attachment_id);
        assert.equal(fetched.attachment_id, up.attachment_id);
        assert.equal(fetched.view_url, up.view_url);
        const res = await fetch(fetched.view_url);
        assert.equal(res.status, 200);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
        // The recipient may read the attachment too.
        const seen = await aliceApi.attachment.fetch(up.attachment_id);
        assert.equal(seen.view_url, up.view_url);
      });
    });

    describe("messages: every category from an SDK bot to a user over a raw socket", () => {
      let as: TestSocket;
      let attachmentId: string;
      const sent: MessageRequest[] = [];
      before(async () => {
        as = await subscribed(h, alice);
        attachmentId = (await botApi.attachment.upload(new File([Buffer.from("file bytes")], "f.txt"))).attachment_id;
      });
      after(() => as.close());

      /** Sends through the SDK, then checks what alice's socket got against what the SDK sent. */
      async function roundTrip(send: () => Promise<MessageRequest>, expected: string | object): Promise<MessageRequest> {
        const req = await send();
        sent.push(req);
        const push = await as.push();
        assert.equal(push.data.message_id, req.message_id);
        assert.equal(push.data.category, req.category);
        assert.equal(push.data.conversation_id, uniqueConversationId(bot.userId, alice.userId));
        assert.equal(push.data.conversation_id, req.conversation_id);
        assert.equal(push.data.user_id, bot.userId);
        assert.equal(push.data.status, "SENT");
        // The exact bytes the SDK encoded (base64url raw) arrive (as standard base64).
        assert.deepEqual(pushedBytes(push), Buffer.from(req.data_base64, "base64url"));
        assert.equal(push.data.data_base64, req.data_base64);
        const text = pushedBytes(push).toString("utf8");
        if (typeof expected === "string") assert.equal(text, expected);
        else assert.deepEqual(JSON.parse(text), expected);
        return req;
      }

      it("sendText (PLAIN_TEXT), with non-ASCII and HTML-ish text", async () => {
        const text = "héllo </script> 世界 👋\u2028<b>&amp;";
        const req = await roundTrip(() => botApi.message.sendText(alice.userId, text), text);
        assert.equal(req.category, "PLAIN_TEXT");
      });

      it("sendPost (PLAIN_POST)", async () => {
        const md = "# Title\n\n* item `code` [link](https://example.org)";
        await roundTrip(() => botApi.message.sendPost(alice.userId, md), md);
      });

      it("sendImage (PLAIN_IMAGE)", async () => {
        const p: ImageMessageRequest = { attachment_id: attachmentId, mime_type: "image/png", width: 10, height: 20, size: 10, thumbnail: "" };
        await roundTrip(() => botApi.message.sendImage(alice.userId, p), p);
      });

      it("sendVideo (PLAIN_VIDEO)", async () => {
        const p: VideoMessageRequest = { attachment_id: attachmentId, mime_type: "video/mp4", width: 640, height: 480, size: 10, duration: 1500 };
        await roundTrip(() => botApi.message.sendVideo(alice.userId, p), p);
      });

      it("sendAudio (PLAIN_AUDIO, the SDK's wave_form spelling)", async () => {
        const p: AudioMessageRequest = { attachment_id: attachmentId, mime_type: "audio/ogg", size: 10, duration: 1000, wave_form: "AAECAwQ=" };
        await roundTrip(() => botApi.message.sendAudio(alice.userId, p), p);
      });

      it("sendFile (PLAIN_DATA)", async () => {
        const p: FileMessageRequest = { attachment_id: attachmentId, mime_type: "text/plain", size: 10, name: "f.txt" };
        await roundTrip(() => botApi.message.sendFile(alice.userId, p), p);
      });

      it("sendSticker (PLAIN_STICKER)", async () => {
        const p: StickerMessageRequest = { sticker_id: newUuid() };
        await roundTrip(() => botApi.message.sendSticker(alice.userId, p), p);
      });

      it("sendContact (PLAIN_CONTACT)", async () => {
        const p: ContactMessageRequest = { user_id: carol.userId };
        await roundTrip(() => botApi.message.sendContact(alice.userId, p), p);
      });

      it("sendAppCard (APP_CARD), legacy and current forms", async () => {
        const legacy: AppCardMessageRequest = {
          app_id: bot.userId,
          icon_url: "https://example.org/i.png",
          title: "Weekly",
          description: "3 new items",
          action: "https://example.org",
        };
        await roundTrip(() => botApi.message.sendAppCard(alice.userId, legacy), legacy);
        const current = {
          app_id: bot.userId,
          icon_url: "https://example.org/i.png",
          title: "Weekly",
          description: "3 new items",
          cover_url: "https://example.org/c.png",
          actions: [{ label: "Open", color: "#3D75E3", action: "https://example.org" }],
          shareable: true,
        } as AppCardMessageRequest;
        await roundTrip(() => botApi.message.sendAppCard(alice.userId, current), current);
      });

      it("sendAppButton (APP_BUTTON_GROUP)", async () => {
        const p: AppButtonMessageRequest[] = [
          { label: "Open", color: "#3D75E3", action: "https://example.org" },
          { label: "Docs", color: "#ff0000", action: "mixin://apps/" + bot.userId },
        ];
        await roundTrip(() => botApi.message.sendAppButton(alice.userId, p), p);
      });

      it("sendLive (PLAIN_LIVE)", async () => {
        const p: LiveMessageRequest = { width: 640, height: 360, thumb_url: "https://example.org/t.png", url: "https://example.org/l.m3u8", shareable: true };
        await roundTrip(() => botApi.message.sendLive(alice.userId, p), p);
      });

      it("sendLocation (PLAIN_LOCATION)", async () => {
        const p: LocationMessageRequest = { latitude: 31.2304, longitude: 121.4737, name: "Bund", address: "Shanghai" };
        await roundTrip(() => botApi.message.sendLocation(alice.userId, p), p);
      });

      it("sendRecall (MESSAGE_RECALL) of the bot's own earlier message", async () => {
        const target = sent[0];
        assert.ok(target, "sendText ran first");
        await roundTrip(() => botApi.message.sendRecall(alice.userId, { message_id: target.message_id }), { message_id: target.message_id });
      });

      it("sendMsg with a custom category string, sendBatch and sendLegacy (single object)", async () => {
        await roundTrip(() => botApi.message.sendMsg(alice.userId, "PLAIN_TEXT", "via sendMsg"), "via sendMsg");
        const conv = uniqueConversationID(bot.userId, alice.userId);
        const batch: MessageRequest[] = ["b1", "b2"].map((t) => ({
          conversation_id: conv,
          recipient_id: alice.userId,
          message_id: newUuid(),
          category: "PLAIN_TEXT",
          data_base64: base64RawURLEncode(t),
        }));
        await botApi.message.sendBatch(batch);
        for (const m of batch) {
          const p = await as.push();
          assert.equal(p.data.message_id, m.message_id);
        }
        const legacy: MessageRequest = { ...batch[0]!, message_id: newUuid(), data_base64: base64RawURLEncode("legacy") };
        const view = await botApi.message.sendLegacy(legacy);
        assert.equal(view.message_id, legacy.message_id);
        assert.equal(pushedBytes(await as.push()).toString(), "legacy");
      });

      it("resending the same request (an SDK retry) is idempotent", async () => {
        const conv = uniqueConversationID(bot.userId, alice.userId);
        const m: MessageRequest = { conversation_id: conv, recipient_id: alice.userId, message_id: newUuid(), category: "PLAIN_TEXT", data_base64: base64RawURLEncode("once") };
        await botApi.message.sendOne(m);
        await botApi.message.sendOne(m);
        assert.equal(pushedBytes(await as.push()).toString(), "once");
        assert.equal(await as.noPush(300), true);
      });

      it("sendAcknowledgement / sendAcknowledges: the user acks over HTTP, the bot's socket gets receipts, nothing is redelivered", async () => {
        const bs = await subscribed(h, bot);
        try {
          // Everything alice received so far is unacked: ack it in one batch through the SDK.
          const acked = await aliceApi.message.sendAcknowledges(sent.map((m) => ({ message_id: m.message_id, status: "DELIVERED" })));
          assert.ok(acked !== undefined);
          for (const m of sent) {
            const r = await bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === m.message_id);
            assert.equal(r.data.status, "DELIVERED");
          }
          const one = sent[sent.length - 1]!;
          await aliceApi.message.sendAcknowledgement({ message_id: one.message_id, status: "READ" });
          const r = await bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === one.message_id && f.data.status === "READ");
          assert.equal(r.data.source, "ACKNOWLEDGE_MESSAGE_RECEIPT");
        } finally {
          bs.close();
        }
        // Reconnect: what was acked is gone; the rest (batch/legacy sends) comes back and is acked now.
        as.close();
        const again = await h.socket(alice);
        await again.request("LIST_PENDING_MESSAGES");
        const redelivered: string[] = [];
        for (;;) {
          try {
            redelivered.push((await again.push(400)).data.message_id);
          } catch {
            break;
          }
        }
        assert.ok(redelivered.length >= 4, "the unacked sendMsg/sendBatch/sendLegacy/sendOne messages do come back");
        for (const m of sent) assert.ok(!redelivered.includes(m.message_id), `message ${m.message_id} (${m.category}) was redelivered after its ack`);
        await aliceApi.message.sendAcknowledges(redelivered.map((message_id) => ({ message_id, status: "READ" })));
        again.close();
        as = await subscribed(h, alice);
        assert.equal(await as.noPush(300), true, "all acked");
      });

      it("acking one's own message (what syncAck does on receipts) succeeds; a stranger's ack is still 403", async () => {
        const req = await botApi.message.sendText(alice.userId, "mine");
        await as.next((f) => f.action === "CREATE_MESSAGE" && f.data?.message_id === req.message_id);
        await botApi.message.sendAcknowledgement({ message_id: req.message_id, status: "READ" });
        const carolApi = sdkApi(h, carol.keystore);
        await assert.rejects(
          carolApi.message.sendAcknowledges([
            { message_id: newUuid(), status: "READ" },
            { message_id: req.message_id, status: "READ" },
          ]),
          (e: unknown) => e instanceof ResponseError && e.code === 403,
        );
        // Neither ack touched alice's copy: it is still pending for her.
        as.close();
        as = await subscribed(h, alice);
        const again = await as.next((f) => f.action === "CREATE_MESSAGE" && f.data?.message_id === req.message_id);
        assert.equal(again.data.source, "LIST_PENDING_MESSAGES");
        await aliceApi.message.sendAcknowledgement({ message_id: req.message_id, status: "READ" });
      });

      it("the bot acks a user's message over HTTP and the user's socket receives the receipt", async () => {
        const conv = uniqueConversationId(bot.userId, alice.userId);
        const params = textParams(conv, bot.userId, "to the bot");
        const r = await as.request("CREATE_MESSAGE", params);
        assert.equal(r.error, undefined, JSON.stringify(r.error));
        await botApi.message.sendAcknowledgement({ message_id: params.message_id, status: "READ" });
        const receipt = await as.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === params.message_id);
        assert.equal(receipt.data.status, "READ");
      });
    });

    describe("conversations", () => {
      it("conversation.createContact(userID) + fetch", async () => {
        const c = await botApi.conversation.createContact(carol.userId);
        assert.equal(c.type, "conversation");
        assert.equal(c.category, "CONTACT");
        assert.equal(c.conversation_id, uniqueConversationID(bot.userId, carol.userId));
        const users = new Set(c.participant_sessions.map((s) => s.user_id));
        assert.deepEqual([...users].sort(), [bot.userId, carol.userId].sort());
        const again = await botApi.conversation.createContact(carol.userId);
        assert.equal(again.conversation_id, c.conversation_id);
        const fetched = await botApi.conversation.fetch(c.conversation_id);
        assert.equal(fetched.conversation_id, c.conversation_id);
        assert.equal(fetched.category, "CONTACT");
      });

      it("createGroup / fetch / addParticipants / setAdmin / revokeAdmin / updateGroupInfo / removeParticipants / exitGroup", async () => {
        const as = await subscribed(h, alice);
        const cs = await subscribed(h, carol);
        try {
          const id = newUuid();
          const created = await botApi.conversation.createGroup(id, "compat group", [{ user_id: alice.userId }]);
          assert.equal(created.conversation_id, id);
          assert.equal(created.category, "GROUP");
          assert.equal(created.name, "compat group");
          assert.equal(created.creator_id, bot.userId);
          const sys = async (s: TestSocket, action: string) => {
            const f = await s.next((x) => x.action === "CREATE_MESSAGE" && x.data?.category === "SYSTEM_CONVERSATION" && x.data.conversation_id === id && JSON.parse(pushedBytes(x).toString()).action === action);
            return JSON.parse(pushedBytes(f).toString()) as Record<string, string>;
          };
          assert.equal((await sys(as, "CREATE")).user_id, bot.userId);

          const fetched = await botApi.conversation.fetch(id);
          assert.deepEqual([...new Set(fetched.participant_sessions.map((s) => s.user_id))].sort(), [bot.userId, alice.userId].sort());

          const added = await botApi.conversation.addParticipants(id, [carol.userId]);
          assert.ok(added.participant_sessions.some((s) => s.user_id === carol.userId));
          assert.equal((await sys(as, "ADD")).participant_id, carol.userId);
          assert.equal((await sys(cs, "ADD")).participant_id, carol.userId);

          await botApi.conversation.setAdmin(id, [carol.userId]);
          const role = await sys(as, "ROLE");
          assert.equal(role.participant_id, carol.userId);
          assert.equal(role.role, "ADMIN");
          const withRoles = (await botApi.conversation.fetch(id)) as unknown as { participants: { user_id: string; role: string }[] };
          assert.equal(withRoles.participants.find((p) => p.user_id === carol.userId)?.role, "ADMIN");

          await botApi.conversation.revokeAdmin(id, [carol.userId]);
          assert.equal((await sys(as, "ROLE")).role, "");

          const updated = await botApi.conversation.updateGroupInfo(id, { name: "renamed", announcement: "hello all" });
          assert.equal(updated.name, "renamed");
          assert.equal(updated.announcement, "hello all");

          // A message to the group through the SDK (sendOne with the group's id) reaches both.
          const m: MessageRequest = { conversation_id: id, message_id: newUuid(), category: "PLAIN_TEXT", data_base64: base64RawURLEncode("hi group") };
          await botApi.message.sendOne(m);
          for (const s of [as, cs]) {
            const p = await s.next((x) => x.action === "CREATE_MESSAGE" && x.data?.message_id === m.message_id);
            assert.equal(pushedBytes(p).toString(), "hi group");
          }

          const removed = await botApi.conversation.removeParticipants(id, [carol.userId]);
          assert.ok(!removed.participant_sessions.some((s) => s.user_id === carol.userId));
          assert.equal((await sys(cs, "REMOVE")).participant_id, carol.userId);

          // alice (through her own SDK client) leaves.
          await aliceApi.conversation.exitGroup(id);
          await assert.rejects(aliceApi.conversation.fetch(id), (e: unknown) => e instanceof ResponseError && e.code === 403);
        } finally {
          as.close();
          cs.close();
        }
      });
    });
  });

  describe("WebSocket via the SDK's websocket()", () => {
    it("parse + syncAck: receives a user's message decoded, acks it, the sender gets the receipt, a reconnect does not redeliver", async () => {
      const sdk = await SdkSocket.open(h, bot.keystore, { parse: true, syncAck: true });
      const as = await subscribed(h, alice);
      try {
        const conv = uniqueConversationId(bot.userId, alice.userId);
        const text = textParams(conv, bot.userId, "hello bot ✓");
        assert.equal((await as.request("CREATE_MESSAGE", text)).error, undefined);
        const got = await sdk.message((m) => m.message_id === text.message_id);
        assert.equal(got.data, "hello bot ✓");
        assert.equal(got.category, "PLAIN_TEXT");
        assert.equal(got.user_id, alice.userId);
        assert.equal(got.conversation_id, conv);
        assert.equal(got.source, "CREATE_MESSAGE");
        assert.equal(got.data_base64, Buffer.from("hello bot ✓").toString("base64url"));

        const contact = { user_id: carol.userId };
        const json = { ...textParams(conv, bot.userId, ""), category: "PLAIN_CONTACT", data: Buffer.from(JSON.stringify(contact)).toString("base64") };
        assert.equal((await as.request("CREATE_MESSAGE", json)).error, undefined);
        const gotJson = await sdk.message((m) => m.message_id === json.message_id);
        assert.deepEqual(gotJson.data, contact, "parse:true turns JSON payloads into objects");

        for (const id of [text.message_id, json.message_id]) {
          const r = await as.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === id);
          assert.equal(r.data.status, "READ");
          assert.equal(r.data.source, "ACKNOWLEDGE_MESSAGE_RECEIPT");
        }
        // No error reply to any frame the SDK sent.
        assert.deepEqual(sdk.frames.filter((f) => f.error !== undefined), []);
      } finally {
        await sdk.close();
        as.close();
      }
      const again = await SdkSocket.open(h, bot.keystore, { parse: true, syncAck: true });
      try {
        await sleep(300);
        assert.deepEqual(again.messages, [], "acked messages are not redelivered");
      } finally {
        await again.close();
      }
    });

    it("defaults (no parse, no syncAck): raw base64 data; unacked messages come back on reconnect until acked over HTTP", async () => {
      const as = await subscribed(h, alice);
      const conv = uniqueConversationId(bot.userId, alice.userId);
      const params = textParams(conv, bot.userId, "unparsed");
      try {
        const sdk = await SdkSocket.open(h, bot.keystore);
        try {
          assert.equal((await as.request("CREATE_MESSAGE", params)).error, undefined);
          const got = await sdk.message((m) => m.message_id === params.message_id);
          assert.equal(typeof got.data, "string");
          assert.equal(Buffer.from(got.data as string, "base64").toString(), "unparsed");
          assert.equal(got.source, "CREATE_MESSAGE");
        } finally {
          await sdk.close();
        }
        const sdk2 = await SdkSocket.open(h, bot.keystore);
        try {
          const back = await sdk2.message((m) => m.message_id === params.message_id);
          assert.equal(back.source, "LIST_PENDING_MESSAGES");
          await botApi.message.sendAcknowledgement({ message_id: params.message_id, status: "DELIVERED" });
          const r = await as.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === params.message_id);
          assert.equal(r.data.status, "DELIVERED");
        } finally {
          await sdk2.close();
        }
        const sdk3 = await SdkSocket.open(h, bot.keystore);
        try {
          await sleep(300);
          assert.equal(sdk3.messages.some((m) => m.message_id === params.message_id), false);
        } finally {
          await sdk3.close();
        }
      } finally {
        as.close();
      }
    });

    it("onAckReceipt: a user's READ receipt for an SDK-sent message reaches the handler", async () => {
      for (const options of [undefined, { parse: true, syncAck: true }] as const) {
        const sdk = await SdkSocket.open(h, bot.keystore, options);
        const as = await subscribed(h, alice);
        try {
          const req = await botApi.message.sendText(alice.userId, "read me");
          const push = await as.next((f) => f.action === "CREATE_MESSAGE" && f.data?.message_id === req.message_id);
          assert.equal(push.data.source, "CREATE_MESSAGE");
          assert.equal((await as.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: req.message_id, status: "READ" })).error, undefined);
          const receipt = await waitFor(() => sdk.receipts.find((m) => m.message_id === req.message_id), "onAckReceipt");
          assert.equal(receipt.status, "READ");
          assert.equal(receipt.source, "ACKNOWLEDGE_MESSAGE_RECEIPT");
          assert.equal(sdk.messages.some((m) => m.message_id === req.message_id), false, "a receipt is not an onMessage");
          // With syncAck the SDK acks the receipt's message_id (its own message) too; that must not be an error.
          await sleep(100);
          assert.deepEqual(sdk.frames.filter((f) => f.error !== undefined).map((f) => f.error), []);
        } finally {
          await sdk.close();
          as.close();
        }
      }
    });

    it("onConversation: creating a group with the bot in it delivers SYSTEM_CONVERSATION", async () => {
      const sdk = await SdkSocket.open(h, bot.keystore, { parse: true, syncAck: true });
      try {
        const id = newUuid();
        // Alice creates it with her own SDK client: SDK on both sides.
        await aliceApi.conversation.createGroup(id, "with bot", [{ user_id: bot.userId }]);
        const sys = await waitFor(() => sdk.conversations.find((m) => m.conversation_id === id), "onConversation");
        assert.equal(sys.category, "SYSTEM_CONVERSATION");
        assert.equal(sys.user_id, alice.userId);
        assert.deepEqual(sys.data, { action: "CREATE", participant_id: "", user_id: alice.userId });
        // A message in that group reaches onMessage, decoded, and the syncAck goes through.
        const m: MessageRequest = { conversation_id: id, message_id: newUuid(), category: "PLAIN_TEXT", data_base64: base64RawURLEncode("group hello") };
        await aliceApi.message.sendOne(m);
        const got = await sdk.message((x) => x.message_id === m.message_id);
        assert.equal(got.data, "group hello");
        assert.equal(got.conversation_id, id);
        await sleep(100);
        assert.deepEqual(sdk.frames.filter((f) => f.error !== undefined).map((f) => f.error), []);
      } finally {
        await sdk.close();
      }
      // The syncAcks emptied the backlog.
      const again = await SdkSocket.open(h, bot.keystore, { parse: true, syncAck: true });
      try {
        await sleep(300);
        assert.deepEqual([...again.messages, ...again.conversations].map((m) => m.category), []);
      } finally {
        await again.close();
      }
    });

    it("sendRaw CREATE_MESSAGE from the SDK socket reaches a user", async () => {
      const sdk = await SdkSocket.open(h, bot.keystore);
      const as = await subscribed(h, alice);
      try {
        const conv = uniqueConversationID(bot.userId, alice.userId);
        const id = newUuid();
        const message_id = newUuid();
        assert.equal(
          await sendRaw(sdk.ws, {
            id,
            action: "CREATE_MESSAGE",
            params: { conversation_id: conv, recipient_id: alice.userId, message_id, category: "PLAIN_TEXT", data_base64: base64RawURLEncode("raw from sdk") },
          }),
          true,
        );
        const reply = await waitFor(() => sdk.frames.find((f) => f.id === id), "CREATE_MESSAGE reply");
        assert.equal(reply.error, undefined, JSON.stringify(reply.error));
        assert.equal(reply.data.message_id, message_id);
        const push = await as.next((f) => f.action === "CREATE_MESSAGE" && f.data?.message_id === message_id);
        assert.equal(pushedBytes(push).toString(), "raw from sdk");
      } finally {
        await sdk.close();
        as.close();
      }
    });
  });
});

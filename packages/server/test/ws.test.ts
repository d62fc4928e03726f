import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { newUuid, signToken, generateEd25519, uniqueConversationId, requestSignature } from "@openblaze/protocol";
import { Harness, b64, textParams, type TestUser } from "./harness.js";

/** One valid decoded payload per category a bot can send. */
const SAMPLES: Record<string, Buffer> = {
  PLAIN_TEXT: Buffer.from("héllo, 世界 👋"),
  PLAIN_POST: Buffer.from("# Title\n\n* item"),
  PLAIN_IMAGE: json({ attachment_id: newUuid(), mime_type: "image/png", width: 10, height: 20, size: 123, thumbnail: "" }),
  PLAIN_VIDEO: json({ attachment_id: newUuid(), mime_type: "video/mp4", width: 640, height: 480, size: 9999, duration: 1500 }),
  PLAIN_AUDIO: json({ attachment_id: newUuid(), mime_type: "audio/ogg", size: 10, duration: 1000, wave_form: "AAEC" }),
  PLAIN_DATA: json({ attachment_id: newUuid(), mime_type: "application/pdf", size: 10, name: "a.pdf" }),
  PLAIN_STICKER: json({ sticker_id: newUuid() }),
  PLAIN_CONTACT: json({ user_id: newUuid() }),
  PLAIN_LIVE: json({ width: 10, height: 10, thumb_url: "https://x/t.png", url: "https://x/live.m3u8", shareable: true }),
  PLAIN_LOCATION: json({ latitude: 31.2, longitude: 121.5, name: "Bund" }),
  APP_BUTTON_GROUP: json([{ label: "Open", color: "#3D75E3", action: "https://example.org" }]),
  APP_CARD: json({ app_id: newUuid(), title: "Weekly", description: "3 new", action: "https://example.org", icon_url: "https://x/i.png" }),
  MESSAGE_RECALL: json({ message_id: newUuid() }),
  MESSAGE_PIN: json({ action: "PIN", message_ids: [newUuid()] }),
};

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

describe("WebSocket gateway", () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  let conv: string;

  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    alice = await h.user("alice");
    conv = uniqueConversationId(bot.userId, alice.userId);
  });
  after(async () => h.close());

  describe("auth", () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [string, () => string | undefined][] = [
      ["missing", () => undefined],
      ["malformed", () => "Bearer not.a.jwt"],
      ["expired", () => `Bearer ${signToken(bot.creds, { method: "GET", uri: "/", nowSeconds: now() - 7200, ttlSeconds: 60 })}`],
      ["future", () => `Bearer ${signToken(bot.creds, { method: "GET", uri: "/", nowSeconds: now() + 3600 })}`],
      ["forged", () => `Bearer ${signToken({ ...bot.creds, seed: generateEd25519().seed }, { method: "GET", uri: "/" })}`],
      ["wrong sig", () => `Bearer ${signToken(bot.creds, { method: "POST", uri: "/messages", body: "[]" })}`],
      ["unknown session", () => `Bearer ${signToken({ ...bot.creds, sessionId: newUuid() }, { method: "GET", uri: "/" })}`],
    ];
    for (const [name, header] of cases) {
      it(`${name} token: one ERROR 401 frame, then close 1008`, async () => {
        const auth = header();
        const s = await h.socket(undefined, auth === undefined ? {} : { authorization: auth });
        const closed = await s.closed;
        assert.equal(closed.code, 1008);
        assert.equal(s.frames.length, 1);
        assert.equal(s.frames[0]!.action, "ERROR");
        assert.equal(s.frames[0]!.error.code, 401);
        assert.equal(s.frames[0]!.error.status, 202);
      });
    }

    it("the socket's sig is sha256('GET/') and tokens may be reused across reconnects", async () => {
      const token = signToken(bot.creds, { method: "GET", uri: "/" });
      for (let i = 0; i < 2; i++) {
        const s = await h.socket(undefined, { authorization: `Bearer ${token}` });
        assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined);
        s.close();
      }
      assert.equal(requestSignature("GET", "/"), "f837ebeb4c2981ad9c64b70d0b0d18724c76c60781b9e4bf7a582510df7ada39");
    });

    it("echoes a known subprotocol, never requires one, and sends X-Server-Time", async () => {
      const a = await h.socket(bot, { protocols: ["Mixin-Blaze-1"] });
      assert.equal(a.ws.protocol, "Mixin-Blaze-1");
      assert.match(String(a.upgradeHeaders["x-server-time"]), /^\d{19}$/);
      const b = await h.socket(bot, { protocols: ["MixinBot-Blaze-1"] });
      assert.equal(b.ws.protocol, "MixinBot-Blaze-1");
      const c = await h.socket(bot, { protocols: [] });
      assert.equal(c.ws.protocol, "");
      assert.equal((await c.request("LIST_PENDING_MESSAGES")).error, undefined);
      a.close();
      b.close();
      c.close();
    });

    it("refuses other paths", async () => {
      const ws = new WebSocket(h.wsUrl + "blaze", { headers: { authorization: `Bearer ${h.token(bot, "GET", "/")}` } });
      await assert.rejects(new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject))), /404/);
    });
  });

  describe("delivery", () => {
    it("every category round-trips byte-exact, in every inbound base64 form", async () => {
      const bs = await h.socket(bot);
      const as = await h.socket(alice);
      await as.request("LIST_PENDING_MESSAGES");
      const encoders: ((b: Buffer) => Record<string, string>)[] = [
        (b) => ({ data: b.toString("base64") }),
        (b) => ({ data: b.toString("base64url") }),
        (b) => ({ data_base64: b.toString("base64url") }),
        (b) => ({ data_base64: b.toString("base64").replace(/(.{8})/g, "$1\n") }),
      ];
      let n = 0;
      for (const [category, payload] of Object.entries(SAMPLES)) {
        const enc = encoders[n++ % encoders.length]!;
        const messageId = newUuid();
        const reply = await bs.request("CREATE_MESSAGE", { conversation_id: conv, recipient_id: alice.userId, message_id: messageId, category, ...enc(payload) });
        assert.equal(reply.error, undefined, `${category}: ${JSON.stringify(reply.error)}`);
        assert.equal(reply.data.message_id, messageId);
        assert.equal(reply.data.status, "SENT");
        assert.equal(reply.data.user_id, bot.userId);
        const push = await as.push();
        assert.equal(push.data.message_id, messageId);
        assert.equal(push.data.category, category);
        assert.equal(push.data.conversation_id, conv);
        assert.equal(push.data.user_id, bot.userId);
        assert.equal(push.data.session_id, bot.sessionId);
        assert.equal(push.data.data, payload.toString("base64"), `${category} data is std base64 with padding`);
        assert.equal(push.data.data_base64, payload.toString("base64url"), `${category} data_base64 is url base64 without padding`);
        for (const key of ["representative_id", "quote_message_id", "created_at", "updated_at", "source", "status"]) {
          assert.equal(typeof push.data[key], "string", key);
        }
        await as.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: messageId, status: "READ" });
      }
      bs.close();
      as.close();
    });

    it("pushes nothing before LIST_PENDING_MESSAGES; then the backlog in order, then live", async () => {
      const bob = await h.user("bob");
      const c = uniqueConversationId(bot.userId, bob.userId);
      const bs = await h.socket(bot);
      const sent: string[] = [];
      for (let i = 0; i < 3; i++) {
        const p = textParams(c, bob.userId, `backlog ${i}`);
        sent.push(p.message_id);
        assert.equal((await bs.request("CREATE_MESSAGE", p)).error, undefined);
      }
      const os = await h.socket(bob);
      assert.ok(await os.noPush(200), "nothing before LIST_PENDING_MESSAGES");
      await os.request("LIST_PENDING_MESSAGES");
      for (const id of sent) {
        const p = await os.push();
        assert.equal(p.data.message_id, id);
        assert.equal(p.data.source, "LIST_PENDING_MESSAGES");
      }
      const live = textParams(c, bob.userId, "live");
      await bs.request("CREATE_MESSAGE", live);
      const p = await os.push();
      assert.equal(p.data.message_id, live.message_id);
      assert.equal(p.data.source, "CREATE_MESSAGE");
      bs.close();
      os.close();
    });

    it("acks remove from the backlog and raise receipts; unacked come back on the next LIST_PENDING_MESSAGES", async () => {
      const carol = await h.user("carol");
      const c = uniqueConversationId(bot.userId, carol.userId);
      const bs = await h.socket(bot);
      await bs.request("LIST_PENDING_MESSAGES");
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const p = textParams(c, carol.userId, `m${i}`);
        ids.push(p.message_id);
        await bs.request("CREATE_MESSAGE", p);
      }
      let cs = await h.socket(carol);
      await cs.request("LIST_PENDING_MESSAGES");
      for (let i = 0; i < 4; i++) await cs.push();
      assert.equal((await cs.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: ids[0], status: "DELIVERED" })).error, undefined);
      const r1 = await bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === ids[0]);
      assert.equal(r1.data.status, "DELIVERED");
      assert.equal(r1.data.source, "ACKNOWLEDGE_MESSAGE_RECEIPT");
      const batch = await cs.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", { messages: [{ message_id: ids[1], status: "READ" }] });
      assert.equal(batch.error, undefined);
      assert.equal((await bs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === ids[1])).data.status, "READ");
      // READ then DELIVERED never lowers the status, and raises no second receipt.
      await cs.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: ids[1], status: "DELIVERED" });
      // Same socket, listing again: only the unacked two come again.
      await cs.request("LIST_PENDING_MESSAGES");
      assert.deepEqual([(await cs.push()).data.message_id, (await cs.push()).data.message_id], ids.slice(2));
      cs.close();
      await cs.closed;
      cs = await h.socket(carol);
      await cs.request("LIST_PENDING_MESSAGES");
      assert.deepEqual([(await cs.push()).data.message_id, (await cs.push()).data.message_id], ids.slice(2));
      assert.ok(await cs.noPush(200));
      assert.equal(bs.frames.filter((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data.message_id === ids[1]).length, 0);
      bs.close();
      cs.close();
    });

    it("LIST_PENDING_MESSAGES with offset skips what the client already holds", async () => {
      const dave = await h.user("dave");
      const c = uniqueConversationId(bot.userId, dave.userId);
      const bs = await h.socket(bot);
      const first = await bs.request("CREATE_MESSAGE", textParams(c, dave.userId, "old"));
      await new Promise((r) => setTimeout(r, 5));
      const second = textParams(c, dave.userId, "new");
      await bs.request("CREATE_MESSAGE", second);
      const ds = await h.socket(dave);
      assert.equal((await ds.request("LIST_PENDING_MESSAGES", { offset: first.data.created_at })).error, undefined);
      assert.equal((await ds.push()).data.message_id, second.message_id);
      assert.ok(await ds.noPush(200));
      const bad = await ds.request("LIST_PENDING_MESSAGES", { offset: "not a time" });
      assert.equal(bad.error.code, 10002);
      bs.close();
      ds.close();
    });

    it("a repeated message_id returns the stored message and delivers once; another sender gets 10002", async () => {
      const erin = await h.user("erin");
      const c = uniqueConversationId(bot.userId, erin.userId);
      const bs = await h.socket(bot);
      const es = await h.socket(erin);
      await es.request("LIST_PENDING_MESSAGES");
      const p = textParams(c, erin.userId, "once");
      const replies = await Promise.all([bs.request("CREATE_MESSAGE", p), bs.request("CREATE_MESSAGE", p), bs.request("CREATE_MESSAGE", p)]);
      for (const r of replies) assert.equal(r.error, undefined);
      assert.equal(new Set(replies.map((r) => r.data.created_at)).size, 1);
      await es.push();
      assert.ok(await es.noPush(300), "exactly one delivery");
      const theft = await es.request("CREATE_MESSAGE", { ...p, recipient_id: bot.userId, data: b64("stolen") });
      assert.equal(theft.error.code, 10002);
      bs.close();
      es.close();
    });

    it("CREATE_PLAIN_MESSAGES delivers a batch; replies without data", async () => {
      const fred = await h.user("fred");
      const c = uniqueConversationId(bot.userId, fred.userId);
      const bs = await h.socket(bot);
      const fs = await h.socket(fred);
      await fs.request("LIST_PENDING_MESSAGES");
      const messages = Array.from({ length: 100 }, (_, i) => textParams(c, fred.userId, `b${i}`));
      const reply = await bs.request("CREATE_PLAIN_MESSAGES", { messages });
      assert.equal(reply.error, undefined);
      assert.equal(reply.data, undefined);
      for (let i = 0; i < 100; i++) assert.equal((await fs.push()).data.message_id, messages[i]!.message_id);
      bs.close();
      fs.close();
    });

    it("a server restart keeps everything unacked", async () => {
      const gina = await h.user("gina");
      const c = uniqueConversationId(bot.userId, gina.userId);
      let bs = await h.socket(bot);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const p = textParams(c, gina.userId, `durable ${i}`);
        ids.push(p.message_id);
        await bs.request("CREATE_MESSAGE", p);
      }
      let gs = await h.socket(gina);
      await gs.request("LIST_PENDING_MESSAGES");
      await gs.push();
      await gs.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: ids[0], status: "READ" });
      await h.restart();
      gs = await h.socket(gina);
      await gs.request("LIST_PENDING_MESSAGES");
      assert.deepEqual([(await gs.push()).data.message_id, (await gs.push()).data.message_id], ids.slice(1));
      assert.ok(await gs.noPush(200));
      bs = await h.socket(bot);
      assert.equal((await bs.request("LIST_PENDING_MESSAGES")).error, undefined);
      bs.close();
      gs.close();
    });
  });

  describe("keep-alive", () => {
    it("spreads the pings of a round over the interval instead of pinging every socket at once", async () => {
      const k = await Harness.start({ pingIntervalMs: 1000, idleTimeoutMs: 60_000 });
      try {
        const users = await Promise.all(Array.from({ length: 8 }, (_, i) => k.user(`many-${i}`)));
        const sockets = await Promise.all(users.flatMap((u) => Array.from({ length: 5 }, () => k.socket(u))));
        const firstPing = new Map<number, number>();
        sockets.forEach((s, i) => s.ws.on("ping", () => firstPing.has(i) || firstPing.set(i, Date.now())));
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal(firstPing.size, sockets.length, "every socket was pinged within two intervals");
        const times = [...firstPing.values()];
        const spread = Math.max(...times) - Math.min(...times);
        assert.ok(spread >= 400, `first pings spread over ${spread} ms of a 1,000 ms interval`);
        for (const s of sockets) s.close();
      } finally {
        await k.close();
      }
    });

    it("pings on an interval and closes a socket that stays silent", async () => {
      const k = await Harness.start({ pingIntervalMs: 50, idleTimeoutMs: 300 });
      try {
        const u = await k.user("k");
        const s = await k.socket(u);
        let pings = 0;
        s.ws.on("ping", () => pings++);
        await new Promise((r) => setTimeout(r, 200));
        assert.ok(pings >= 2, `got ${pings} pings`);
        const silent = new WebSocket(k.wsUrl, { headers: { authorization: `Bearer ${k.token(u, "GET", "/")}` }, autoPong: false });
        const closed = new Promise<number>((r) => silent.once("close", (code) => r(code)));
        const started = Date.now();
        await closed;
        assert.ok(Date.now() - started >= 250, "not closed before the idle timeout");
        assert.equal(s.ws.readyState, WebSocket.OPEN, "the answering socket stays open");
        s.close();
      } finally {
        await k.close();
      }
    });
  });
});

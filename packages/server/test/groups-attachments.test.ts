import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { isUuid, newUuid, privateKeyFromSeed, rawPublicKey, uniqueConversationId } from "@openblaze/protocol";
import { Harness, b64, textParams, type Frame, type HttpResult, type TestSocket, type TestUser } from "./harness.js";

function ok(res: HttpResult): any {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.error, undefined, JSON.stringify(res.body));
  return res.body.data;
}

function fails(res: HttpResult, code: number): any {
  assert.equal(res.status, 202, `expected HTTP 202, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.data, undefined);
  assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
  assert.equal(res.body.error.status, 202);
  return res.body.error;
}

async function subscribed(h: Harness, u: TestUser): Promise<TestSocket> {
  const s = await h.socket(u);
  const r = await s.request("LIST_PENDING_MESSAGES");
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  return s;
}

const isMessagePush = (f: Frame) => f.action === "CREATE_MESSAGE" && typeof f.data?.message_id === "string" && f.data.category !== "";
const decode = (f: Frame) => Buffer.from(f.data.data, "base64").toString("utf8");

/** The next SYSTEM_CONVERSATION push for `conv` with this action (and participant); returns its decoded payload. */
async function systemPush(s: TestSocket, conv: string, action: string, participantId?: string, timeoutMs = 3000): Promise<{ frame: Frame; payload: any }> {
  const frame = await s.next((f) => {
    if (!isMessagePush(f) || f.data.category !== "SYSTEM_CONVERSATION" || f.data.conversation_id !== conv) return false;
    const p = JSON.parse(decode(f));
    return p.action === action && (participantId === undefined || p.participant_id === participantId);
  }, timeoutMs);
  return { frame, payload: JSON.parse(decode(frame)) };
}

async function pushOf(s: TestSocket, messageId: string): Promise<Frame> {
  return s.next((f) => isMessagePush(f) && f.data.message_id === messageId);
}

async function neverGets(s: TestSocket, messageId: string, ms = 300): Promise<void> {
  await assert.rejects(s.next((f) => f.data?.message_id === messageId, ms), `unexpected delivery of ${messageId}`);
}

function publicKeyOf(u: TestUser): string {
  return rawPublicKey(privateKeyFromSeed(u.creds.seed)).toString("base64url");
}

describe("conversations", () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(async () => h.close());

  describe("CONTACT", () => {
    it("needs the unique conversation id; returns participants and their session keys; creating twice is idempotent", async () => {
      const alice = await h.user("alice");
      const bob = await h.user("bob");
      const carol = await h.user("carol");
      const participants = [{ user_id: bob.userId }];
      fails(await h.http(alice, "POST", "/conversations", { category: "CONTACT", conversation_id: newUuid(), participants }), 10002);
      fails(await h.http(alice, "POST", "/conversations", { category: "CONTACT", conversation_id: uniqueConversationId(alice.userId, carol.userId), participants }), 10002);
      fails(await h.http(alice, "POST", "/conversations", { category: "CONTACT", participants }), 10002);

      const id = uniqueConversationId(alice.userId, bob.userId);
      const c = ok(await h.http(alice, "POST", "/conversations", { category: "CONTACT", conversation_id: id, participants }));
      assert.equal(c.type, "conversation");
      assert.equal(c.conversation_id, id);
      assert.equal(c.category, "CONTACT");
      assert.equal(c.creator_id, alice.userId);
      assert.deepEqual(c.participants.map((p: any) => p.user_id).sort(), [alice.userId, bob.userId].sort());
      for (const p of c.participants) assert.equal(p.type, "participant");
      assert.equal(c.participant_sessions.length, 2);
      for (const u of [alice, bob]) {
        const s = c.participant_sessions.find((x: any) => x.user_id === u.userId);
        assert.ok(s, `session of ${u.userId}`);
        assert.equal(s.session_id, u.sessionId);
        assert.match(s.public_key, /^[A-Za-z0-9_-]{43}$/, "base64url without padding");
        assert.equal(s.public_key, publicKeyOf(u));
      }

      const again = ok(await h.http(alice, "POST", "/conversations", { category: "CONTACT", conversation_id: id, participants }));
      assert.deepEqual(again, c);
      const fromBob = ok(await h.http(bob, "POST", "/conversations", { category: "CONTACT", conversation_id: id, participants: [{ user_id: alice.userId }] }));
      assert.equal(fromBob.conversation_id, id);
      assert.equal(fromBob.creator_id, alice.userId);
      assert.deepEqual(fromBob.participants, c.participants);

      // Both can talk in it; an outsider cannot read it.
      ok(await h.http(bob, "POST", "/messages", textParams(id, alice.userId, "hi")));
      fails(await h.http(carol, "GET", `/conversations/${id}`), 403);
    });

    it("a CONTACT with an unknown user → 10404; with yourself → 10002", async () => {
      const alice = await h.user("alice");
      const ghost = newUuid();
      fails(await h.http(alice, "POST", "/conversations", { category: "CONTACT", conversation_id: uniqueConversationId(alice.userId, ghost), participants: [{ user_id: ghost }] }), 10404);
      fails(await h.http(alice, "POST", "/conversations", { category: "CONTACT", conversation_id: uniqueConversationId(alice.userId, alice.userId), participants: [{ user_id: alice.userId }] }), 10002);
    });
  });

  describe("GROUP", () => {
    let owner: TestUser, a: TestUser, b: TestUser, d: TestUser, outsider: TestUser;
    let os: TestSocket, as: TestSocket, bs: TestSocket, ds: TestSocket;
    let group: string;

    before(async () => {
      owner = await h.user("owner");
      a = await h.user("a");
      b = await h.user("b");
      d = await h.user("d");
      outsider = await h.user("outsider");
      [os, as, bs, ds] = await Promise.all([owner, a, b, d].map((u) => subscribed(h, u)));
    });
    after(() => [os, as, bs, ds].forEach((s) => s.close()));

    it("creation: the creator is OWNER, every participant gets SYSTEM_CONVERSATION CREATE", async () => {
      const c = ok(await h.http(owner, "POST", "/conversations", { category: "GROUP", name: "Team", announcement: "hello", participants: [{ user_id: a.userId }, { user_id: b.userId }] }));
      group = c.conversation_id;
      assert.ok(isUuid(group));
      assert.equal(c.category, "GROUP");
      assert.equal(c.name, "Team");
      assert.equal(c.announcement, "hello");
      assert.equal(c.creator_id, owner.userId);
      const roles = Object.fromEntries(c.participants.map((p: any) => [p.user_id, p.role]));
      assert.deepEqual(roles, { [owner.userId]: "OWNER", [a.userId]: "", [b.userId]: "" });
      assert.deepEqual(c.participant_sessions.map((s: any) => s.user_id).sort(), [owner.userId, a.userId, b.userId].sort());
      for (const s of c.participant_sessions) assert.match(s.public_key, /^[A-Za-z0-9_-]{43}$/);

      for (const s of [os, as, bs]) {
        const { frame, payload } = await systemPush(s, group, "CREATE");
        assert.equal(frame.data.user_id, owner.userId);
        assert.equal(payload.user_id, owner.userId);
      }
      await assert.rejects(systemPush(ds, group, "CREATE", undefined, 200), "a non-member heard the CREATE");
    });

    it("creating it again is idempotent for a member and refused to an outsider", async () => {
      const body = { category: "GROUP", conversation_id: group, name: "Other", participants: [{ user_id: a.userId }] };
      const again = ok(await h.http(owner, "POST", "/conversations", body));
      assert.equal(again.conversation_id, group);
      assert.equal(again.name, "Team");
      assert.equal(again.participants.length, 3);
      fails(await h.http(outsider, "POST", "/conversations", body), 403);
      await assert.rejects(systemPush(os, group, "CREATE", undefined, 300), "no second CREATE");
    });

    it("fan-out: a member's message reaches every other member, not the sender", async () => {
      const p = textParams(group, "", "hi all");
      ok(await h.http(a, "POST", "/messages", p));
      for (const s of [os, bs]) {
        const f = await pushOf(s, p.message_id);
        assert.equal(f.data.user_id, a.userId);
        assert.equal(f.data.conversation_id, group);
        assert.equal(decode(f), "hi all");
      }
      await neverGets(as, p.message_id);
      await neverGets(ds, p.message_id, 50);
    });

    it("recipient_id narrows a group message to that member", async () => {
      const p = textParams(group, b.userId, "just for b");
      ok(await h.http(a, "POST", "/messages", p));
      await pushOf(bs, p.message_id);
      await neverGets(os, p.message_id);
      await neverGets(as, p.message_id, 50);
      fails(await h.http(a, "POST", "/messages", textParams(group, outsider.userId, "not a member")), 10002);
    });

    it("an outsider cannot post or read; unknown → 404; not a uuid → 10002", async () => {
      fails(await h.http(outsider, "POST", "/messages", textParams(group, "", "let me in")), 403);
      fails(await h.http(outsider, "GET", `/conversations/${group}`), 403);
      fails(await h.http(owner, "GET", `/conversations/${newUuid()}`), 404);
      fails(await h.http(owner, "GET", "/conversations/nope"), 10002);
      const c = ok(await h.http(a, "GET", `/conversations/${group}`));
      assert.equal(c.conversation_id, group);
      assert.equal(c.participants.length, 3);
    });

    it("ADD: the added user hears ADD too, then receives group messages", async () => {
      const c = ok(await h.http(owner, "POST", `/conversations/${group}/participants/ADD`, [{ user_id: d.userId }]));
      assert.ok(c.participants.some((p: any) => p.user_id === d.userId && p.role === ""));
      assert.ok(c.participant_sessions.some((s: any) => s.user_id === d.userId && s.public_key === publicKeyOf(d)));
      for (const s of [os, as, bs, ds]) {
        const { payload } = await systemPush(s, group, "ADD", d.userId);
        assert.equal(payload.user_id, owner.userId);
      }
      const p = textParams(group, "", "welcome d");
      ok(await h.http(b, "POST", "/messages", p));
      for (const s of [os, as, ds]) await pushOf(s, p.message_id);
      // Adding a member again changes nothing and announces nothing.
      ok(await h.http(owner, "POST", `/conversations/${group}/participants/ADD`, [{ user_id: d.userId }]));
      await assert.rejects(systemPush(ds, group, "ADD", d.userId, 300), "no second ADD");
    });

    it("ROLE: the owner makes an ADMIN; a plain member can neither ADD nor change roles (403)", async () => {
      const c = ok(await h.http(owner, "POST", `/conversations/${group}/participants/ROLE`, [{ user_id: a.userId, role: "ADMIN" }]));
      assert.equal(c.participants.find((p: any) => p.user_id === a.userId).role, "ADMIN");
      for (const s of [os, as, bs, ds]) {
        const { payload } = await systemPush(s, group, "ROLE", a.userId);
        assert.equal(payload.role, "ADMIN");
      }
      fails(await h.http(b, "POST", `/conversations/${group}/participants/ADD`, [{ user_id: outsider.userId }]), 403);
      fails(await h.http(b, "POST", `/conversations/${group}/participants/ROLE`, [{ user_id: b.userId, role: "ADMIN" }]), 403);
      fails(await h.http(a, "POST", `/conversations/${group}/participants/ROLE`, [{ user_id: b.userId, role: "ADMIN" }]), 403);
      fails(await h.http(b, "POST", `/conversations/${group}/participants/REMOVE`, [{ user_id: d.userId }]), 403);
      fails(await h.http(outsider, "POST", `/conversations/${group}/participants/ADD`, [{ user_id: outsider.userId }]), 403);
      const after = ok(await h.http(owner, "GET", `/conversations/${group}`));
      assert.equal(after.participants.length, 4, "refused changes changed nothing");
      assert.equal(after.participants.find((p: any) => p.user_id === b.userId).role, "");
    });

    it("REMOVE (by an admin): the removed user hears it, then gets no group messages and cannot send (403)", async () => {
      const c = ok(await h.http(a, "POST", `/conversations/${group}/participants/REMOVE`, [{ user_id: d.userId }]));
      assert.ok(!c.participants.some((p: any) => p.user_id === d.userId));
      assert.ok(!c.participant_sessions.some((s: any) => s.user_id === d.userId));
      for (const s of [os, as, bs, ds]) {
        const { payload } = await systemPush(s, group, "REMOVE", d.userId);
        assert.equal(payload.user_id, a.userId);
      }
      const p = textParams(group, "", "d is gone");
      ok(await h.http(b, "POST", "/messages", p));
      for (const s of [os, as]) await pushOf(s, p.message_id);
      await neverGets(ds, p.message_id);
      fails(await h.http(d, "POST", "/messages", textParams(group, "", "still here?")), 403);
      fails(await h.http(d, "GET", `/conversations/${group}`), 403);
      // The owner cannot be removed.
      fails(await h.http(a, "POST", `/conversations/${group}/participants/REMOVE`, [{ user_id: owner.userId }]), 403);
    });

    it("exit: everyone (the leaver too) hears EXIT; the leaver is out", async () => {
      ok(await h.http(b, "POST", `/conversations/${group}/exit`));
      for (const s of [os, as, bs]) {
        const { payload } = await systemPush(s, group, "EXIT", b.userId);
        assert.equal(payload.user_id, b.userId);
      }
      const c = ok(await h.http(owner, "GET", `/conversations/${group}`));
      assert.deepEqual(c.participants.map((p: any) => p.user_id).sort(), [owner.userId, a.userId].sort());
      fails(await h.http(b, "POST", "/messages", textParams(group, "", "bye?")), 403);
      fails(await h.http(b, "POST", `/conversations/${group}/exit`), 403);
      const p = textParams(group, "", "just us");
      ok(await h.http(owner, "POST", "/messages", p));
      await pushOf(as, p.message_id);
      await neverGets(bs, p.message_id);
    });
  });
});

describe("attachments", () => {
  let h: Harness;
  let bot: TestUser;
  let user: TestUser;
  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    user = await h.user("user");
  });
  after(async () => h.close());

  const put = (url: string, body: Buffer) =>
    fetch(url, { method: "PUT", headers: { "Content-Type": "application/octet-stream", "x-amz-acl": "public-read" }, body });

  it("create → PUT bytes (unsigned) → GET /attachments/:id → view_url serves exactly those bytes", async () => {
    const created = ok(await h.http(bot, "POST", "/attachments"));
    assert.equal(created.type, "attachment");
    assert.ok(isUuid(created.attachment_id));
    assert.match(created.upload_url, /^https?:\/\//);
    assert.match(created.view_url, /^https?:\/\//);
    assert.notEqual(created.upload_url, created.view_url);

    const bytes = randomBytes(300 * 1024);
    const up = await put(created.upload_url, bytes);
    assert.ok(up.status >= 200 && up.status < 300, `upload status ${up.status}`);
    await up.arrayBuffer();

    const got = ok(await h.http(user, "GET", `/attachments/${created.attachment_id}`));
    assert.equal(got.attachment_id, created.attachment_id);
    assert.equal(got.view_url, created.view_url);

    const view = await fetch(got.view_url);
    assert.equal(view.status, 200);
    const served = Buffer.from(await view.arrayBuffer());
    assert.equal(served.length, bytes.length);
    assert.ok(served.equals(bytes), "view_url serves the uploaded bytes exactly");
  });

  it("POST /attachments also accepts {} as the body", async () => {
    const created = ok(await h.http(bot, "POST", "/attachments", {}));
    assert.ok(isUuid(created.attachment_id));
  });

  it("upload and view URLs fail with real HTTP statuses, never 2xx (uploaders take any 2xx as success)", async () => {
    const created = ok(await h.http(bot, "POST", "/attachments"));
    const before = await fetch(created.view_url);
    assert.equal(before.status, 404, "nothing uploaded yet");
    await before.arrayBuffer();
    const bogus = await put(created.upload_url.replace(/[0-9a-f]{8}$/, "00000000"), randomBytes(1024));
    assert.equal(bogus.status, 404, "unknown upload URL");
    await bogus.arrayBuffer();
    const missing = await fetch(created.view_url.replace(/[0-9a-f]{8}$/, "00000000"));
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  it("an upload over maxAttachmentBytes is refused with a non-2xx status and stores nothing", async () => {
    const small = await Harness.start({ maxAttachmentBytes: 64 * 1024 });
    try {
      const b = await small.user("bot", true);
      const created = ok(await small.http(b, "POST", "/attachments"));
      const res = await put(created.upload_url, randomBytes(300 * 1024));
      assert.ok(res.status >= 400 && res.status < 500, `oversize upload answered ${res.status}`);
      await res.arrayBuffer();
      const view = await fetch(created.view_url);
      assert.equal(view.status, 404);
      await view.arrayBuffer();
      const fits = randomBytes(64 * 1024);
      const up = await put(created.upload_url, fits);
      assert.equal(up.status, 200);
      await up.arrayBuffer();
      assert.ok(Buffer.from(await (await fetch(created.view_url)).arrayBuffer()).equals(fits));
    } finally {
      await small.close();
    }
  });

  it("unknown attachment → 404 code; not a uuid → 10002", async () => {
    fails(await h.http(user, "GET", `/attachments/${newUuid()}`), 404);
    fails(await h.http(user, "GET", "/attachments/xyz"), 10002);
  });

  it("a PLAIN_IMAGE referencing the attachment round-trips, and the recipient can download it", async () => {
    const created = ok(await h.http(bot, "POST", "/attachments"));
    const bytes = randomBytes(300 * 1024);
    const up = await put(created.upload_url, bytes);
    assert.ok(up.status >= 200 && up.status < 300);
    await up.arrayBuffer();

    const conv = uniqueConversationId(bot.userId, user.userId);
    const us = await subscribed(h, user);
    const image = { attachment_id: created.attachment_id, mime_type: "image/png", width: 640, height: 480, size: bytes.length, thumbnail: "" };
    const p = textParams(conv, user.userId, "", { category: "PLAIN_IMAGE", data: b64(JSON.stringify(image)) });
    const sent = ok(await h.http(bot, "POST", "/messages", p));
    assert.equal(sent.category, "PLAIN_IMAGE");

    const push = await pushOf(us, p.message_id);
    assert.equal(push.data.category, "PLAIN_IMAGE");
    const payload = JSON.parse(decode(push));
    assert.deepEqual(payload, image);

    const att = ok(await h.http(user, "GET", `/attachments/${payload.attachment_id}`));
    const served = Buffer.from(await (await fetch(att.view_url)).arrayBuffer());
    assert.ok(served.equals(bytes));
    us.close();
  });
});

/**
 * The Store contract: every implementation (SQLite now, PostgreSQL later) must pass this suite.
 * It talks only to the `Store` interface; nothing here may know about a backend.
 *
 * Usage, from a `*.test.ts` file:
 *
 *   storeContract("MyStore", async () => ({ store, reopen, cleanup }));
 *
 * `open` is called once per case and must hand back an empty, usable store (the suite still calls
 * `migrate()` first, as the server does). `reopen`, when given, closes the current store and returns
 * a new one over the same data (a restart). `cleanup` must close whichever store is open at the end
 * (the original or the last reopened one) and remove the data.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { describe, it, type TestContext } from "node:test";
import type { ConversationCategory, ParticipantRole } from "@openblaze/protocol";
import type { AckOutcome, AcceptOutcome, Micros, NewMessage, PendingMessage, Store, StoredMessage } from "../src/store/store.js";

export interface OpenedStore {
  store: Store;
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Helpers (backend-agnostic)
// ---------------------------------------------------------------------------------------------

interface TestUser {
  userId: string;
  sessionId: string;
  publicKey: Buffer;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Enough real time for the store clock (microseconds, but possibly only ms-resolution) to move on. */
const TICK_MS = 5;

export async function makeUser(store: Store, fullName = "user", opts: { isBot?: boolean; ownerId?: string } = {}): Promise<TestUser> {
  const u = { userId: randomUUID(), sessionId: randomUUID(), publicKey: randomBytes(32) };
  await store.createUser(
    { userId: u.userId, fullName, isBot: opts.isBot ?? false, ownerId: opts.ownerId ?? "" },
    { sessionId: u.sessionId, publicKey: u.publicKey },
  );
  return u;
}

/** A GROUP conversation: `creator` as OWNER, `members` as plain participants. */
export async function makeConversation(
  store: Store,
  creator: TestUser,
  members: readonly TestUser[],
  category: ConversationCategory = "GROUP",
): Promise<string> {
  const conversationId = randomUUID();
  await store.createConversation(
    { conversationId, category, creatorId: creator.userId, name: "group", announcement: "", codeId: randomUUID() },
    [{ userId: creator.userId, role: "OWNER" }, ...members.map((m) => ({ userId: m.userId, role: "" as ParticipantRole }))],
  );
  return conversationId;
}

/** A plain-text NewMessage from `from` to `recipients`; `overrides` replace any field. */
export function newMessage(
  from: Pick<TestUser, "userId" | "sessionId">,
  conversationId: string,
  recipients: readonly Pick<TestUser, "userId">[],
  overrides: Partial<NewMessage> = {},
): NewMessage {
  return {
    messageId: randomUUID(),
    conversationId,
    userId: from.userId,
    sessionId: from.sessionId,
    category: "PLAIN_TEXT",
    payload: Buffer.from(`hello ${randomUUID()}`),
    representativeId: "",
    quoteMessageId: "",
    silent: false,
    expireIn: 0,
    recipientIds: recipients.map((r) => r.userId),
    ...overrides,
  };
}

/** What the store should hand back for `m` accepted at `createdAt`. */
function stored(m: NewMessage, createdAt: Micros): StoredMessage {
  const { recipientIds: _recipients, ...rest } = m;
  return { ...rest, createdAt };
}

function assertCreated(o: AcceptOutcome | undefined): asserts o is Extract<AcceptOutcome, { kind: "created" }> {
  assert.ok(o, "an outcome");
  assert.equal(o.kind, "created", `expected created, got ${o.kind}`);
}

async function acceptOne(store: Store, m: NewMessage): Promise<StoredMessage> {
  const [o] = await store.acceptMessages([m]);
  assertCreated(o);
  return o.message;
}

async function pending(store: Store, u: TestUser, afterSeq = 0, limit = 1000, createdAfter?: Micros): Promise<PendingMessage[]> {
  return createdAfter === undefined
    ? store.pendingMessages(u.userId, u.sessionId, afterSeq, limit)
    : store.pendingMessages(u.userId, u.sessionId, afterSeq, limit, createdAfter);
}

async function pendingIds(store: Store, u: TestUser, afterSeq = 0, limit = 1000, createdAfter?: Micros): Promise<string[]> {
  return (await pending(store, u, afterSeq, limit, createdAfter)).map((p) => p.message.messageId);
}

function assertStrictlyIncreasing(values: readonly number[], what: string): void {
  for (let i = 1; i < values.length; i++) assert.ok(values[i]! > values[i - 1]!, `${what} must strictly increase: ${values.join(", ")}`);
}

const byUserId = <T extends { userId: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => a.userId.localeCompare(b.userId));
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

/** Sender A, recipients B and C, outsider D (a user who is in nothing); a group of A, B, C. */
async function world(store: Store) {
  const a = await makeUser(store, "alice");
  const b = await makeUser(store, "bob");
  const c = await makeUser(store, "carol");
  const d = await makeUser(store, "dave");
  const conv = await makeConversation(store, a, [b, c]);
  return { a, b, c, d, conv };
}

/** Every byte value, then some invalid UTF-8 (lone continuation bytes, overlong, truncated sequence, NULs). */
const NASTY_PAYLOAD = Buffer.concat([
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0xc0, 0xaf, 0xff, 0xfe, 0x00, 0x00, 0xed, 0xa0, 0x80]),
]);

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  /** Registers one case on a fresh store. */
  const test = (title: string, fn: (store: Store, h: { opened: OpenedStore; t: TestContext; reopen: () => Promise<Store> }) => Promise<void>) =>
    it(title, async (t) => {
      const opened = await open();
      try {
        await opened.store.migrate();
        const reopen = async () => {
          assert.ok(opened.reopen, "reopen not supported");
          const s = await opened.reopen();
          await s.migrate();
          return s;
        };
        await fn(opened.store, { opened, t, reopen });
      } finally {
        await opened.cleanup();
      }
    });

  describe(name, () => {
    // ------------------------------------------------------------------------------ meta
    describe("meta", () => {
      test("getMeta of an unknown key is undefined", async (store) => {
        assert.equal(await store.getMeta(`missing-${randomUUID()}`), undefined);
      });

      test("setMetaIfAbsent keeps the first value and returns it", async (store) => {
        const key = `node-id-${randomUUID()}`;
        assert.equal(await store.setMetaIfAbsent(key, "first"), "first");
        assert.equal(await store.getMeta(key), "first");
        assert.equal(await store.setMetaIfAbsent(key, "second"), "first");
        assert.equal(await store.getMeta(key), "first");
        const other = `other-${randomUUID()}`;
        assert.equal(await store.setMetaIfAbsent(other, "x"), "x", "keys are independent");
        assert.equal(await store.getMeta(key), "first");
      });

      test("migrate can run again on a migrated store and keeps the data", async (store) => {
        const key = `k-${randomUUID()}`;
        await store.setMetaIfAbsent(key, "v");
        const u = await makeUser(store);
        await store.migrate();
        await store.migrate();
        assert.equal(await store.getMeta(key), "v");
        assert.equal((await store.getUser(u.userId))?.userId, u.userId);
      });
    });

    // ------------------------------------------------------------------------------ users
    describe("users and sessions", () => {
      test("createUser returns the user as stored; getUser reads it back", async (store) => {
        const userId = randomUUID();
        const ownerId = randomUUID();
        const created = await store.createUser(
          { userId, fullName: "Bot Ünïcode 🤖", isBot: true, ownerId },
          { sessionId: randomUUID(), publicKey: randomBytes(32) },
        );
        assert.equal(created.userId, userId);
        assert.equal(created.fullName, "Bot Ünïcode 🤖");
        assert.equal(created.isBot, true);
        assert.equal(created.ownerId, ownerId);
        assert.match(created.identityNumber, /^[1-9][0-9]*$/, "identity number is a decimal string");
        assert.equal(typeof created.createdAt, "number");
        assert.ok(Number.isSafeInteger(created.createdAt) && created.createdAt > 1e15, "createdAt is in microseconds");
        assert.deepEqual(await store.getUser(userId), created);

        const human = await store.createUser(
          { userId: randomUUID(), fullName: "", isBot: false, ownerId: "" },
          { sessionId: randomUUID(), publicKey: randomBytes(32) },
        );
        assert.deepEqual(await store.getUser(human.userId), human);
        assert.equal(human.isBot, false);
        assert.equal(human.ownerId, "");
      });

      test("createUser assigns distinct, increasing identity numbers", async (store) => {
        const numbers: bigint[] = [];
        for (let i = 0; i < 5; i++) {
          const u = await makeUser(store, `u${i}`);
          numbers.push(BigInt((await store.getUser(u.userId))!.identityNumber));
        }
        for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!, `increasing: ${numbers.join(", ")}`);
      });

      test("concurrent createUser calls still get distinct identity numbers", async (store) => {
        const users = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.createUser({ userId: randomUUID(), fullName: `c${i}`, isBot: false, ownerId: "" }, { sessionId: randomUUID(), publicKey: randomBytes(32) }),
          ),
        );
        assert.equal(new Set(users.map((u) => u.identityNumber)).size, 10);
        for (const u of users) assert.equal((await store.getUser(u.userId))?.identityNumber, u.identityNumber);
      });

      test("getUser of an unknown id is undefined", async (store) => {
        await makeUser(store);
        assert.equal(await store.getUser(randomUUID()), undefined);
      });

      test("getUsers returns the known ones and skips unknown ids", async (store) => {
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        await makeUser(store, "not asked for");
        const got = await store.getUsers([a.userId, randomUUID(), b.userId, randomUUID()]);
        assert.deepEqual(sorted(got.map((u) => u.userId)), sorted([a.userId, b.userId]));
        for (const u of got) assert.deepEqual(u, await store.getUser(u.userId));
        assert.deepEqual(await store.getUsers([]), []);
        assert.deepEqual(await store.getUsers([randomUUID()]), []);
      });

      test("getSession matches user and session; public key round-trips", async (store) => {
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        const s = await store.getSession(a.userId, a.sessionId);
        assert.ok(s);
        assert.equal(s.userId, a.userId);
        assert.equal(s.sessionId, a.sessionId);
        assert.ok(Buffer.isBuffer(s.publicKey), "publicKey is a Buffer");
        assert.deepEqual(s.publicKey, a.publicKey);
        assert.equal(typeof s.createdAt, "number");
        assert.equal(await store.getSession(a.userId, randomUUID()), undefined, "unknown session");
        assert.equal(await store.getSession(a.userId, b.sessionId), undefined, "someone else's session");
        assert.equal(await store.getSession(randomUUID(), a.sessionId), undefined, "unknown user");
      });

      test("listSessions returns the sessions of the given users only", async (store) => {
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        const c = await makeUser(store, "c");
        const list = await store.listSessions([a.userId, b.userId, randomUUID()]);
        assert.deepEqual(
          byUserId(list).map((s) => [s.userId, s.sessionId]),
          byUserId([a, b]).map((u) => [u.userId, u.sessionId]),
        );
        for (const s of list) assert.deepEqual(s, await store.getSession(s.userId, s.sessionId));
        assert.ok(!list.some((s) => s.userId === c.userId));
        assert.deepEqual(await store.listSessions([]), []);
      });
    });

    // ------------------------------------------------------------------------------ conversations
    describe("conversations and participants", () => {
      test("createConversation stores the conversation and its participants", async (store) => {
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        const input = {
          conversationId: randomUUID(),
          category: "GROUP" as const,
          creatorId: a.userId,
          name: "Team 🚀",
          announcement: "hello all",
          codeId: randomUUID(),
        };
        const { conversation, created } = await store.createConversation(input, [
          { userId: a.userId, role: "OWNER" },
          { userId: b.userId, role: "" },
        ]);
        assert.equal(created, true);
        assert.deepEqual({ ...conversation, createdAt: 0 }, { ...input, createdAt: 0 });
        assert.equal(typeof conversation.createdAt, "number");
        assert.deepEqual(await store.getConversation(input.conversationId), conversation);
        const participants = byUserId(await store.listParticipants(input.conversationId));
        assert.deepEqual(
          participants.map((p) => [p.conversationId, p.userId, p.role]),
          byUserId([
            { userId: a.userId, role: "OWNER" },
            { userId: b.userId, role: "" },
          ]).map((p) => [input.conversationId, p.userId, p.role]),
        );
        for (const p of participants) assert.equal(typeof p.createdAt, "number");
        assert.equal(await store.getConversation(randomUUID()), undefined);
        assert.deepEqual(await store.listParticipants(randomUUID()), []);
      });

      test("createConversation is idempotent: a second call returns created:false and changes nothing", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const original = await store.getConversation(conv);
        const before = byUserId(await store.listParticipants(conv));
        await sleep(TICK_MS);
        const again = await store.createConversation(
          { conversationId: conv, category: "CONTACT", creatorId: d.userId, name: "renamed", announcement: "changed", codeId: "other" },
          [
            { userId: d.userId, role: "OWNER" },
            { userId: a.userId, role: "" },
          ],
        );
        assert.equal(again.created, false);
        assert.deepEqual(again.conversation, original, "returns the existing conversation");
        assert.deepEqual(await store.getConversation(conv), original);
        const after = byUserId(await store.listParticipants(conv));
        assert.deepEqual(after, before, "participants untouched");
        assert.deepEqual(sorted(after.map((p) => p.userId)), sorted([a.userId, b.userId, c.userId]));
      });

      test("concurrent createConversation with one id creates it once", async (store) => {
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        const conversationId = randomUUID();
        const mk = (name: string) =>
          store.createConversation({ conversationId, category: "CONTACT", creatorId: a.userId, name, announcement: "", codeId: "" }, [
            { userId: a.userId, role: "" },
            { userId: b.userId, role: "" },
          ]);
        const results = await Promise.all([mk("one"), mk("two"), mk("three")]);
        assert.equal(results.filter((r) => r.created).length, 1);
        const winner = results.find((r) => r.created)!.conversation;
        for (const r of results) assert.deepEqual(r.conversation, winner);
        assert.equal((await store.listParticipants(conversationId)).length, 2);
      });

      test("updateConversation changes only the fields given", async (store) => {
        const { conv } = await world(store);
        const original = (await store.getConversation(conv))!;
        await store.updateConversation(conv, { name: "new name" });
        assert.deepEqual(await store.getConversation(conv), { ...original, name: "new name" });
        await store.updateConversation(conv, { announcement: "news" });
        assert.deepEqual(await store.getConversation(conv), { ...original, name: "new name", announcement: "news" });
        await store.updateConversation(conv, {});
        await store.updateConversation(conv, { name: "", announcement: "" });
        assert.deepEqual(await store.getConversation(conv), { ...original, name: "", announcement: "" });
      });

      test("getParticipant returns one member with its role, undefined for non-members", async (store) => {
        const { a, b, d, conv } = await world(store);
        const owner = await store.getParticipant(conv, a.userId);
        assert.ok(owner);
        assert.equal(owner.conversationId, conv);
        assert.equal(owner.userId, a.userId);
        assert.equal(owner.role, "OWNER");
        assert.equal(typeof owner.createdAt, "number");
        const member = await store.getParticipant(conv, b.userId);
        assert.equal(member?.role, "", "MEMBER is the empty string, not null");
        assert.equal(await store.getParticipant(conv, d.userId), undefined);
        assert.equal(await store.getParticipant(randomUUID(), a.userId), undefined);
      });

      test("addParticipants skips members already present and returns only the new ones", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const e = await makeUser(store, "erin");
        const added = await store.addParticipants(conv, [
          { userId: b.userId, role: "ADMIN" },
          { userId: d.userId, role: "" },
          { userId: e.userId, role: "ADMIN" },
          { userId: d.userId, role: "ADMIN" },
        ]);
        assert.deepEqual(sorted(added), sorted([d.userId, e.userId]));
        assert.equal(added.length, 2, "each new member reported once");
        assert.equal((await store.getParticipant(conv, b.userId))?.role, "", "an existing member keeps its role");
        assert.equal((await store.getParticipant(conv, d.userId))?.role, "");
        assert.equal((await store.getParticipant(conv, e.userId))?.role, "ADMIN");
        assert.deepEqual(
          sorted((await store.listParticipants(conv)).map((p) => p.userId)),
          sorted([a.userId, b.userId, c.userId, d.userId, e.userId]),
        );
        assert.deepEqual(await store.addParticipants(conv, [{ userId: d.userId, role: "" }]), []);
        assert.deepEqual(await store.addParticipants(conv, []), []);
      });

      test("removeParticipants removes members and returns only those actually removed", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const other = await makeConversation(store, a, [b]);
        const removed = await store.removeParticipants(conv, [b.userId, d.userId, randomUUID()]);
        assert.deepEqual(removed, [b.userId]);
        assert.equal(await store.getParticipant(conv, b.userId), undefined);
        assert.deepEqual(sorted((await store.listParticipants(conv)).map((p) => p.userId)), sorted([a.userId, c.userId]));
        assert.deepEqual(await store.removeParticipants(conv, [b.userId]), [], "already gone");
        assert.ok(await store.getParticipant(other, b.userId), "other conversations are untouched");
        assert.deepEqual(await store.addParticipants(conv, [{ userId: b.userId, role: "" }]), [b.userId], "can rejoin");
      });

      test("setRole changes a member's role; false for non-members", async (store) => {
        const { a, c, d, conv } = await world(store);
        assert.equal(await store.setRole(conv, c.userId, "ADMIN"), true);
        assert.equal((await store.getParticipant(conv, c.userId))?.role, "ADMIN");
        assert.equal(await store.setRole(conv, c.userId, ""), true);
        assert.equal((await store.getParticipant(conv, c.userId))?.role, "");
        assert.equal((await store.getParticipant(conv, a.userId))?.role, "OWNER", "others untouched");
        assert.equal(await store.setRole(conv, d.userId, "ADMIN"), false);
        assert.equal(await store.getParticipant(conv, d.userId), undefined, "setRole does not add a member");
        assert.equal(await store.setRole(randomUUID(), c.userId, "ADMIN"), false);
      });
    });

    // ------------------------------------------------------------------------------ accept
    describe("acceptMessages", () => {
      test("a new message is created, stored as given, and delivered to the recipients", async (store) => {
        const { a, b, c, conv } = await world(store);
        const m = newMessage(a, conv, [b, c], {
          category: "SIGNAL_TEXT",
          representativeId: randomUUID(),
          quoteMessageId: randomUUID(),
          silent: true,
          expireIn: 3600,
        });
        const [o] = await store.acceptMessages([m]);
        assertCreated(o);
        assert.equal(typeof o.message.createdAt, "number");
        assert.ok(Number.isSafeInteger(o.message.createdAt) && o.message.createdAt > 1e15, "createdAt is in microseconds");
        assert.deepEqual(o.message, stored(m, o.message.createdAt));
        assert.deepEqual(sorted(o.deliveredTo), sorted([b.userId, c.userId]));
        assert.deepEqual(await store.getMessage(m.messageId), o.message);
        assert.equal(await store.getMessage(randomUUID()), undefined);
      });

      test("getMembership is getConversation and listParticipants in one read", async (store) => {
        const [a, b, c] = [await makeUser(store), await makeUser(store), await makeUser(store)];
        const conv = await makeConversation(store, a, [b, c]);
        assert.deepEqual(await store.getMembership(conv), {
          conversation: await store.getConversation(conv),
          participants: await store.listParticipants(conv),
        });
        assert.equal((await store.getMembership(conv))!.participants.length, 3);
        assert.equal(await store.getMembership(randomUUID()), undefined);
      });

      test("getMembership follows every change to the conversation and its participants", async (store) => {
        const [a, b, c] = [await makeUser(store), await makeUser(store), await makeUser(store)];
        const conv = await makeConversation(store, a, [b]);
        const members = async () => sorted((await store.getMembership(conv))!.participants.map((p) => p.userId));
        assert.deepEqual(await members(), sorted([a.userId, b.userId]));
        await store.addParticipants(conv, [{ userId: c.userId, role: "" }]);
        assert.deepEqual(await members(), sorted([a.userId, b.userId, c.userId]));
        await store.removeParticipants(conv, [b.userId]);
        assert.deepEqual(await members(), sorted([a.userId, c.userId]));
        await store.setRole(conv, c.userId, "ADMIN");
        assert.equal((await store.getMembership(conv))!.participants.find((p) => p.userId === c.userId)!.role, "ADMIN");
        await store.updateConversation(conv, { name: "renamed", announcement: "hello" });
        const { conversation } = (await store.getMembership(conv))!;
        assert.equal(conversation.name, "renamed");
        assert.equal(conversation.announcement, "hello");
      });

      test("messageOwners names the sender and conversation of taken ids only", async (store) => {
        const [a, b] = [await makeUser(store), await makeUser(store)];
        const conv = await makeConversation(store, a, [b]);
        const m = newMessage(a, conv, [b]);
        assertCreated((await store.acceptMessages([m]))[0]);
        const free = randomUUID();
        const owners = await store.messageOwners([free, m.messageId, "not-a-uuid"]);
        assert.deepEqual([...owners], [[m.messageId, { userId: a.userId, conversationId: conv }]]);
        assert.equal((await store.messageOwners([])).size, 0);
      });

      test("mailbox rows go to every recipient's session, never the sender's or anyone else's", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const m = newMessage(a, conv, [b, c]);
        const created = await acceptOne(store, m);
        for (const r of [b, c]) {
          const rows = await pending(store, r);
          assert.equal(rows.length, 1);
          assert.deepEqual(rows[0]!.message, created);
        }
        assert.deepEqual(await pending(store, a), [], "the sender gets no row");
        assert.deepEqual(await pending(store, d), [], "a bystander gets no row");
      });

      test("a recipient listed twice gets one row and is reported once", async (store) => {
        const { a, b, conv } = await world(store);
        const [o] = await store.acceptMessages([newMessage(a, conv, [b, b])]);
        assertCreated(o);
        assert.deepEqual(o.deliveredTo, [b.userId]);
        assert.equal((await pending(store, b)).length, 1);
      });

      test("a message with no recipients is stored but delivered to nobody", async (store) => {
        const { a, b, conv } = await world(store);
        const m = newMessage(a, conv, []);
        const [o] = await store.acceptMessages([m]);
        assertCreated(o);
        assert.deepEqual(o.deliveredTo, []);
        assert.deepEqual(await store.getMessage(m.messageId), o.message);
        assert.deepEqual(await pending(store, b), []);
      });

      test("payload bytes round-trip exactly, including non-UTF-8 and empty payloads", async (store) => {
        const { a, b, conv } = await world(store);
        const nasty = newMessage(a, conv, [b], { payload: Buffer.from(NASTY_PAYLOAD) });
        const empty = newMessage(a, conv, [b], { payload: Buffer.alloc(0) });
        const outcomes = await store.acceptMessages([nasty, empty]);
        for (const o of outcomes) assertCreated(o);
        const fromGet = (await store.getMessage(nasty.messageId))!;
        assert.ok(Buffer.isBuffer(fromGet.payload), "payload is a Buffer");
        assert.equal(Buffer.compare(fromGet.payload, NASTY_PAYLOAD), 0);
        assert.deepEqual(fromGet.payload, NASTY_PAYLOAD);
        const rows = await pending(store, b);
        assert.deepEqual(rows.map((r) => r.message.payload), [NASTY_PAYLOAD, Buffer.alloc(0)]);
        assert.ok(Buffer.isBuffer(rows[1]!.message.payload));
        assert.equal((await store.getMessage(empty.messageId))!.payload.length, 0);
        const [dup] = await store.acceptMessages([{ ...nasty, payload: Buffer.from("ascii") }]);
        assert.equal(dup?.kind, "duplicate");
        assert.deepEqual(dup.kind === "duplicate" && dup.message.payload, NASTY_PAYLOAD);
      });

      test("same id, sender and conversation again: duplicate with the stored message, nothing delivered", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const m = newMessage(a, conv, [b]);
        const original = await acceptOne(store, m);
        const seqBefore = (await pending(store, b)).map((r) => r.seq);
        await sleep(TICK_MS);
        const retry = { ...m, sessionId: randomUUID(), category: "PLAIN_IMAGE", payload: Buffer.from("different"), silent: true, recipientIds: [b.userId, c.userId, d.userId] };
        const [o] = await store.acceptMessages([retry]);
        assert.deepEqual(o, { kind: "duplicate", message: original });
        assert.deepEqual(await store.getMessage(m.messageId), original, "the stored message is untouched");
        assert.deepEqual((await pending(store, b)).map((r) => r.seq), seqBefore, "no second mailbox row");
        assert.deepEqual(await pending(store, c), [], "new recipients of a duplicate get nothing");
        assert.deepEqual(await pending(store, d), []);
      });

      test("same id from another sender or in another conversation: conflict, nothing changes", async (store) => {
        const { a, b, c, conv } = await world(store);
        const conv2 = await makeConversation(store, a, [b, c]);
        const m = newMessage(a, conv, [b]);
        const original = await acceptOne(store, m);
        const otherSender = { ...newMessage(c, conv, [a, b]), messageId: m.messageId };
        const otherConversation = { ...newMessage(a, conv2, [b, c]), messageId: m.messageId };
        const both = { ...newMessage(b, conv2, [a, c]), messageId: m.messageId };
        assert.deepEqual(await store.acceptMessages([otherSender]), [{ kind: "conflict" }]);
        assert.deepEqual(await store.acceptMessages([otherConversation]), [{ kind: "conflict" }]);
        assert.deepEqual(await store.acceptMessages([both]), [{ kind: "conflict" }]);
        assert.deepEqual(await store.getMessage(m.messageId), original);
        assert.equal((await pending(store, b)).length, 1, "no extra row for the original recipient");
        assert.deepEqual(await pending(store, a), []);
        assert.deepEqual(await pending(store, c), []);
      });

      test("outcomes come back in input order and rows are queued in that order", async (store) => {
        const { a, b, conv } = await world(store);
        const batch = Array.from({ length: 7 }, (_, i) => newMessage(a, conv, [b], { payload: Buffer.from(`#${i}`) }));
        const outcomes = await store.acceptMessages(batch);
        assert.equal(outcomes.length, batch.length);
        outcomes.forEach((o, i) => {
          assertCreated(o);
          assert.equal(o.message.messageId, batch[i]!.messageId);
          assert.deepEqual(o.message.payload, Buffer.from(`#${i}`));
        });
        assert.deepEqual(await pendingIds(store, b), batch.map((m) => m.messageId));
        assert.deepEqual(await store.acceptMessages([]), []);
      });

      test("duplicates and conflicts inside one batch are resolved in order", async (store) => {
        const { a, b, c, conv } = await world(store);
        const existing = newMessage(a, conv, [b]);
        const existingStored = await acceptOne(store, existing);
        const m1 = newMessage(a, conv, [b, c]);
        const m2 = newMessage(a, conv, [b, c]);
        const outcomes = await store.acceptMessages([
          m1,
          { ...m1, payload: Buffer.from("retry in the same batch") },
          { ...newMessage(c, conv, [a, b]), messageId: m1.messageId },
          { ...existing },
          { ...newMessage(b, conv, [a]), messageId: existing.messageId },
          m2,
          { ...m2 },
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.kind),
          ["created", "duplicate", "conflict", "duplicate", "conflict", "created", "duplicate"],
        );
        const [o1, d1, , dExisting, , o2, d2] = outcomes;
        assertCreated(o1);
        assertCreated(o2);
        assert.deepEqual(d1, { kind: "duplicate", message: o1.message });
        assert.deepEqual(d2, { kind: "duplicate", message: o2.message });
        assert.deepEqual(dExisting, { kind: "duplicate", message: existingStored });
        assert.deepEqual(await pendingIds(store, b), [existing.messageId, m1.messageId, m2.messageId], "one row per message");
        assert.deepEqual(await pendingIds(store, c), [m1.messageId, m2.messageId]);
        assert.deepEqual(await pending(store, a), []);
      });

      test("requests are all or nothing: a conflict anywhere in one (stored, earlier in the batch, or its own) stores none of it", async (store) => {
        const { a, b, c, conv } = await world(store);
        const held = newMessage(c, conv, [a, b]);
        await acceptOne(store, held);
        const resent = newMessage(a, conv, [b]);
        const resentStored = await acceptOne(store, resent);
        const fresh = () => newMessage(a, conv, [b]);
        const x = fresh();
        const r1 = [fresh(), { ...newMessage(a, conv, [b]), messageId: held.messageId }, fresh()]; // id held in the store by c
        const r2 = [x, fresh()]; // fine: stored
        const r3 = [fresh(), { ...newMessage(b, conv, [a]), messageId: x.messageId }]; // x now held by a (r2), b reuses it
        const y = fresh();
        const r4 = [y, { ...newMessage(a, conv, [c]), messageId: y.messageId, conversationId: held.conversationId }]; // fine: same sender and conversation
        const z = fresh();
        const r5 = [z, fresh(), { ...newMessage(c, conv, [a]), messageId: z.messageId }]; // its own earlier item
        const r6 = [{ ...resent }, fresh()]; // a duplicate of a stored message is no conflict
        const r7 = [r1[0]!]; // r1 was refused, so its first id is free again
        const requests = [r1, r2, r3, r4, r5, r6, r7];
        const outcomes = await store.acceptMessages(requests.flat(), requests.map((r) => r.length));
        assert.deepEqual(
          outcomes.map((o) => o.kind),
          ["refused", "conflict", "refused", "created", "created", "refused", "conflict", "created", "duplicate", "refused", "refused", "conflict", "duplicate", "created", "created"],
        );
        assert.deepEqual(outcomes[12], { kind: "duplicate", message: resentStored });
        assert.deepEqual(
          await pendingIds(store, b),
          [held.messageId, resent.messageId, x.messageId, r2[1]!.messageId, y.messageId, r6[1]!.messageId, r1[0]!.messageId],
          "nothing of the refused requests was stored",
        );
        for (const m of [r1[2]!, r3[0]!, r5[0]!, r5[1]!]) assert.equal(await store.getMessage(m.messageId), undefined);
        await assert.rejects(store.acceptMessages([fresh(), fresh()], [1]), RangeError);
        await assert.rejects(store.acceptMessages([fresh()], [1, 0]), RangeError);
      });

      test("a request is judged by what was stored before it: refused requests and lone conflicts hold no id", async (store) => {
        const { a, b, c, conv } = await world(store);
        const held = newMessage(c, conv, [a, b]);
        const heldStored = await acceptOne(store, held);
        const fresh = (from: TestUser) => newMessage(from, conv, [b]);
        const x = fresh(a);
        const lone = { ...newMessage(a, conv, [b]), messageId: held.messageId }; // a lone conflict
        const byHolder = [{ ...held }, fresh(c)]; // held's own sender resends it with another: fine
        const doomed = [x, { ...fresh(a), messageId: held.messageId }]; // refused: held by c
        const reuse = [{ ...fresh(b), messageId: x.messageId }, fresh(b)]; // x was never stored: fine
        const requests = [[lone], byHolder, doomed, reuse];
        const outcomes = await store.acceptMessages(requests.flat(), requests.map((r) => r.length));
        assert.deepEqual(outcomes.map((o) => o.kind), ["conflict", "duplicate", "created", "refused", "conflict", "created", "created"]);
        assert.deepEqual(outcomes[1], { kind: "duplicate", message: heldStored });
        const reused = outcomes[5]!;
        assertCreated(reused);
        assert.equal(reused.message.userId, b.userId);
      });

      test("concurrent accepts of one message id: one created, the rest duplicates", async (store) => {
        const { a, b, conv } = await world(store);
        const m = newMessage(a, conv, [b]);
        const results = (await Promise.all([store.acceptMessages([m]), store.acceptMessages([m]), store.acceptMessages([m])])).map((r) => r[0]!);
        assert.deepEqual(sorted(results.map((o) => o.kind)), ["created", "duplicate", "duplicate"]);
        const created = results.find((o) => o.kind === "created")!;
        assertCreated(created);
        for (const o of results) if (o.kind === "duplicate") assert.deepEqual(o.message, created.message);
        assert.equal((await pending(store, b)).length, 1);
      });

      test("createdAt is the store's current time in microseconds; a later accept gets a later time", async (store) => {
        const { a, b, conv } = await world(store);
        const before = Date.now() * 1000;
        const first = await store.acceptMessages([newMessage(a, conv, [b]), newMessage(a, conv, [b])]);
        await sleep(TICK_MS);
        const second = await acceptOne(store, newMessage(a, conv, [b]));
        const after = Date.now() * 1000;
        for (const o of first) assertCreated(o);
        const t1 = (first[0] as Extract<AcceptOutcome, { kind: "created" }>).message.createdAt;
        // Allow for a store clock a little apart from ours (a database server), but not a wrong unit.
        assert.ok(Math.abs(t1 - before) < 60_000_000, `createdAt ${t1} is near now ${before} (microseconds)`);
        assert.ok(second.createdAt > t1, "a later accept gets a later time");
        assert.ok(second.createdAt <= after + 60_000_000);
      });
    });

    // ------------------------------------------------------------------------------ pending
    describe("pendingMessages and lastSeq", () => {
      test("rows come in acceptance order with increasing seq; afterSeq is a cursor; limit caps", async (store) => {
        const { a, b, conv } = await world(store);
        const batches = [[0, 1, 2], [3], [4, 5]].map((idx) => idx.map((i) => newMessage(a, conv, [b], { payload: Buffer.from(`m${i}`) })));
        for (const batch of batches) await store.acceptMessages(batch);
        const ids = batches.flat().map((m) => m.messageId);
        const rows = await pending(store, b);
        assert.deepEqual(rows.map((r) => r.message.messageId), ids);
        const seqs = rows.map((r) => r.seq);
        assert.ok(seqs.every((s) => Number.isSafeInteger(s) && s > 0), `seqs are positive integers: ${seqs.join(", ")}`);
        assertStrictlyIncreasing(seqs, "seq");
        assert.deepEqual(await pendingIds(store, b, seqs[2]!), ids.slice(3), "afterSeq excludes that row and earlier");
        assert.deepEqual(await pendingIds(store, b, 0, 2), ids.slice(0, 2), "limit");
        assert.deepEqual(await pendingIds(store, b, seqs[1]!, 2), ids.slice(2, 4), "cursor and limit together");
        assert.deepEqual(await pendingIds(store, b, seqs[5]!), [], "after the last row");
        // Paging through with the cursor sees every row once.
        const paged: string[] = [];
        for (let cursor = 0; ; ) {
          const page = await pending(store, b, cursor, 4);
          paged.push(...page.map((r) => r.message.messageId));
          if (page.length < 4) break;
          cursor = page[page.length - 1]!.seq;
        }
        assert.deepEqual(paged, ids);
        assert.deepEqual(rows[0]!.message, await store.getMessage(ids[0]!), "rows carry the full stored message");
      });

      test("createdAfter keeps only rows created strictly after it", async (store) => {
        const { a, b, conv } = await world(store);
        const m1 = await acceptOne(store, newMessage(a, conv, [b]));
        await sleep(TICK_MS);
        const m2 = await acceptOne(store, newMessage(a, conv, [b]));
        assert.ok(m2.createdAt > m1.createdAt, "precondition: distinct timestamps");
        assert.deepEqual(await pendingIds(store, b, 0, 100, m1.createdAt - 1), [m1.messageId, m2.messageId]);
        assert.deepEqual(await pendingIds(store, b, 0, 100, m1.createdAt), [m2.messageId]);
        assert.deepEqual(await pendingIds(store, b, 0, 100, m2.createdAt), []);
        assert.deepEqual(await pendingIds(store, b, 0, 100), [m1.messageId, m2.messageId], "no filter when omitted");
        const seq1 = (await pending(store, b))[0]!.seq;
        assert.deepEqual(await pendingIds(store, b, seq1, 100, m1.createdAt - 1), [m2.messageId], "combines with afterSeq");
        // An offset beyond 2^53 µs (the year 2255 and later; parsed from any RFC 3339 timestamp) finds nothing instead of failing.
        assert.deepEqual(await pendingIds(store, b, 0, 100, Date.parse("9999-12-31T23:59:59Z") * 1000), []);
      });

      test("each session sees only its own rows", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const toB = newMessage(a, conv, [b]);
        const toC = newMessage(a, conv, [c]);
        const toBoth = newMessage(a, conv, [b, c]);
        const fromB = newMessage(b, conv, [a, c]);
        await store.acceptMessages([toB, toC, toBoth, fromB]);
        assert.deepEqual(await pendingIds(store, b), [toB.messageId, toBoth.messageId]);
        assert.deepEqual(await pendingIds(store, c), [toC.messageId, toBoth.messageId, fromB.messageId]);
        assert.deepEqual(await pendingIds(store, a), [fromB.messageId]);
        assert.deepEqual(await pendingIds(store, d), []);
        assert.deepEqual(await store.pendingMessages(b.userId, c.sessionId, 0, 100), [], "a user cannot read another's session");
        assert.deepEqual(await store.pendingMessages(b.userId, randomUUID(), 0, 100), []);
        // Seqs are unique and increasing within a session (rows of one message in two sessions may share one).
        for (const u of [a, b, c]) assertStrictlyIncreasing((await pending(store, u)).map((r) => r.seq), "seqs of one session");
      });

      test("lastSeq is the highest seq handed out and never goes back or reuses numbers after acks", async (store) => {
        const { a, b, c, conv } = await world(store);
        const start = await store.lastSeq();
        assert.ok(Number.isSafeInteger(start) && start >= 0);
        const m1 = await acceptOne(store, newMessage(a, conv, [b, c]));
        const rows1 = [...(await pending(store, b)), ...(await pending(store, c))];
        const high1 = Math.max(...rows1.map((r) => r.seq));
        assert.ok(rows1.every((r) => r.seq > start));
        assert.equal(await store.lastSeq(), high1);

        for (const r of [b, c]) {
          const out = await store.acknowledge(r.userId, r.sessionId, [{ messageId: m1.messageId, status: "DELIVERED" }]);
          assert.equal(out[0]?.kind, "advanced");
        }
        assert.deepEqual(await pending(store, b), []);
        assert.deepEqual(await pending(store, c), []);
        assert.equal(await store.lastSeq(), high1, "acks do not lower lastSeq");

        const m2 = await acceptOne(store, newMessage(a, conv, [b]));
        const rows2 = await pending(store, b);
        assert.deepEqual(rows2.map((r) => r.message.messageId), [m2.messageId]);
        assert.ok(rows2[0]!.seq > high1, `new seq ${rows2[0]!.seq} must exceed every earlier one (${high1})`);
        assert.equal(await store.lastSeq(), rows2[0]!.seq);
        assert.deepEqual(await pendingIds(store, b, high1), [m2.messageId], "a cursor from before the acks still finds it");
      });

      test("a seq is never handed out again after the newest message expires", async (store) => {
        const { a, b, conv } = await world(store);
        const m1 = await acceptOne(store, newMessage(a, conv, [b]));
        const high = await store.lastSeq();
        await sleep(TICK_MS);
        assert.equal(await store.expire(m1.createdAt + 1), 1);
        assert.deepEqual(await pending(store, b), []);
        assert.equal(await store.lastSeq(), high, "expiry does not lower lastSeq");
        await acceptOne(store, newMessage(a, conv, [b]));
        const rows = await pending(store, b);
        assert.equal(rows.length, 1);
        assert.ok(rows[0]!.seq > high, `new seq ${rows[0]!.seq} must exceed the expired one's (${high})`);
        assert.deepEqual((await pending(store, b, high)).length, 1, "a socket's cursor from before the expiry still finds it");
      });
    });

    // ------------------------------------------------------------------------------ acknowledge
    describe("acknowledge", () => {
      test("advanced: removes only the acking session's row and reports sender, conversation and status", async (store) => {
        const { a, b, c, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b, c]));
        const cRowsBefore = await pending(store, c);
        const [o] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "DELIVERED" }]);
        assert.ok(o && o.kind === "advanced", `expected advanced, got ${o?.kind}`);
        assert.equal(o.messageId, m.messageId);
        assert.equal(o.senderId, a.userId);
        assert.equal(o.conversationId, conv);
        assert.equal(o.status, "DELIVERED");
        assert.ok(Number.isSafeInteger(o.updatedAt) && o.updatedAt >= m.createdAt, "updatedAt is a time, not before the message");
        assert.deepEqual(await pending(store, b), [], "the acking session's row is gone");
        assert.deepEqual(await pending(store, c), cRowsBefore, "the other recipient's row is untouched");
        assert.deepEqual(await store.getMessage(m.messageId), m, "the message itself stays");
      });

      test("status only moves forward: READ then DELIVERED stays READ", async (store) => {
        const { a, b, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b]));
        const ack = (status: "DELIVERED" | "READ") => store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status }]);
        const [read] = await ack("READ");
        assert.ok(read?.kind === "advanced");
        assert.equal(read.status, "READ");
        assert.deepEqual(await ack("DELIVERED"), [{ kind: "unchanged", messageId: m.messageId }], "lower status");
        assert.deepEqual(await ack("READ"), [{ kind: "unchanged", messageId: m.messageId }], "same status: so it is still READ");
        assert.deepEqual(await pending(store, b), []);
      });

      test("DELIVERED then READ advances twice; repeating a status is unchanged", async (store) => {
        const { a, b, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b]));
        const ack = (status: "DELIVERED" | "READ") => store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status }]);
        const [d1] = await ack("DELIVERED");
        assert.ok(d1?.kind === "advanced" && d1.status === "DELIVERED");
        assert.deepEqual(await ack("DELIVERED"), [{ kind: "unchanged", messageId: m.messageId }]);
        const [r1] = await ack("READ");
        assert.ok(r1?.kind === "advanced" && r1.status === "READ" && r1.senderId === a.userId && r1.conversationId === conv);
        assert.deepEqual(await ack("DELIVERED"), [{ kind: "unchanged", messageId: m.messageId }]);
      });

      test("status is per recipient: one reading does not change another's", async (store) => {
        const { a, b, c, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b, c]));
        const [bRead] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "READ" }]);
        assert.equal(bRead?.kind, "advanced");
        const [cDelivered] = await store.acknowledge(c.userId, c.sessionId, [{ messageId: m.messageId, status: "DELIVERED" }]);
        assert.ok(cDelivered?.kind === "advanced" && cDelivered.status === "DELIVERED");
        const [cRead] = await store.acknowledge(c.userId, c.sessionId, [{ messageId: m.messageId, status: "READ" }]);
        assert.ok(cRead?.kind === "advanced" && cRead.status === "READ");
      });

      test("unknown message ids are a silent 'unknown'", async (store) => {
        const { a, b, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b]));
        const missing = randomUUID();
        assert.deepEqual(await store.acknowledge(b.userId, b.sessionId, [{ messageId: missing, status: "READ" }]), [
          { kind: "unknown", messageId: missing },
        ]);
        assert.equal((await pending(store, b)).length, 1, "other rows untouched");
        assert.equal((await pending(store, b))[0]!.message.messageId, m.messageId);
      });

      test("a non-recipient is forbidden and the recipients' rows and statuses are untouched", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b, c]));
        const bRows = await pending(store, b);
        const cRows = await pending(store, c);
        assert.deepEqual(await store.acknowledge(d.userId, d.sessionId, [{ messageId: m.messageId, status: "READ" }]), [
          { kind: "forbidden", messageId: m.messageId },
        ]);
        assert.deepEqual(await pending(store, b), bRows);
        assert.deepEqual(await pending(store, c), cRows);
        // Someone else's session id with one's own user id does not reach their rows either.
        const mixed = await store.acknowledge(d.userId, b.sessionId, [{ messageId: m.messageId, status: "READ" }]);
        assert.deepEqual(mixed, [{ kind: "forbidden", messageId: m.messageId }]);
        assert.deepEqual(await pending(store, b), bRows);
        const [bAck] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "DELIVERED" }]);
        assert.ok(bAck?.kind === "advanced" && bAck.status === "DELIVERED", "the forbidden READ did not raise b's status");
      });

      test("a batch of acks is answered in input order, later items seeing earlier ones", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        const m1 = await acceptOne(store, newMessage(a, conv, [b, c]));
        const m2 = await acceptOne(store, newMessage(c, conv, [a, b]));
        const notMine = await acceptOne(store, newMessage(a, conv, [c, d]));
        const missing = randomUUID();
        const out: AckOutcome[] = await store.acknowledge(b.userId, b.sessionId, [
          { messageId: m1.messageId, status: "DELIVERED" },
          { messageId: missing, status: "READ" },
          { messageId: m2.messageId, status: "READ" },
          { messageId: m1.messageId, status: "READ" },
          { messageId: m1.messageId, status: "DELIVERED" },
          { messageId: notMine.messageId, status: "READ" },
        ]);
        assert.deepEqual(
          out.map((o) => [o.kind, o.messageId, o.kind === "advanced" ? o.status : "", o.kind === "advanced" ? o.senderId : ""]),
          [
            ["advanced", m1.messageId, "DELIVERED", a.userId],
            ["unknown", missing, "", ""],
            ["advanced", m2.messageId, "READ", c.userId],
            ["advanced", m1.messageId, "READ", a.userId],
            ["unchanged", m1.messageId, "", ""],
            ["forbidden", notMine.messageId, "", ""],
          ],
        );
        assert.deepEqual(await pending(store, b), []);
        assert.deepEqual(await pendingIds(store, c), [m1.messageId, notMine.messageId]);
        assert.deepEqual(await pendingIds(store, a), [m2.messageId]);
        assert.deepEqual(await store.acknowledge(b.userId, b.sessionId, []), []);
      });
    });

    // ------------------------------------------------------------------------------ expire
    describe("expire", () => {
      test("removes mailbox rows and messages created before the cutoff and keeps newer ones", async (store) => {
        const { a, b, c, conv } = await world(store);
        const old = await acceptOne(store, newMessage(a, conv, [b, c]));
        await sleep(TICK_MS);
        const fresh = await acceptOne(store, newMessage(a, conv, [b, c]));
        assert.ok(fresh.createdAt > old.createdAt, "precondition: distinct timestamps");

        assert.equal(await store.expire(old.createdAt), 0, "the cutoff itself is not 'before'");
        assert.ok(await store.getMessage(old.messageId));
        assert.equal((await pending(store, b)).length, 2);

        assert.equal(await store.expire(old.createdAt + 1), 2, "one row per recipient of the old message");
        assert.equal(await store.getMessage(old.messageId), undefined);
        assert.deepEqual(await store.getMessage(fresh.messageId), fresh);
        assert.deepEqual(await pendingIds(store, b), [fresh.messageId]);
        assert.deepEqual(await pendingIds(store, c), [fresh.messageId]);
        assert.equal(await store.expire(old.createdAt + 1), 0, "nothing left to expire");

        assert.deepEqual(await store.acknowledge(b.userId, b.sessionId, [{ messageId: old.messageId, status: "READ" }]), [
          { kind: "unknown", messageId: old.messageId },
        ]);
        const [ok] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: fresh.messageId, status: "READ" }]);
        assert.equal(ok?.kind, "advanced");
      });

      test("an expired message leaves nothing behind: its id is new again, statuses and all", async (store) => {
        const { a, b, conv } = await world(store);
        const m = newMessage(a, conv, [b]);
        const first = await acceptOne(store, m);
        const [read] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "READ" }]);
        assert.equal(read?.kind, "advanced");
        await sleep(TICK_MS);
        await store.expire(first.createdAt + 1);
        assert.equal(await store.getMessage(m.messageId), undefined);
        const [again] = await store.acceptMessages([m]);
        assertCreated(again);
        assert.ok(again.message.createdAt > first.createdAt);
        assert.deepEqual(await pendingIds(store, b), [m.messageId]);
        const [delivered] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "DELIVERED" }]);
        assert.ok(delivered?.kind === "advanced" && delivered.status === "DELIVERED", "no READ status left over from the expired message");
      });

      test("expires messages whose rows were all acknowledged already", async (store) => {
        const { a, b, conv } = await world(store);
        const m = await acceptOne(store, newMessage(a, conv, [b]));
        await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "READ" }]);
        await sleep(TICK_MS);
        const later = await acceptOne(store, newMessage(a, conv, [b]));
        assert.ok(later.createdAt > m.createdAt);
        assert.equal(await store.expire(m.createdAt + 1), 0, "no mailbox rows left to remove");
        assert.equal(await store.getMessage(m.messageId), undefined, "but the message is gone");
        assert.deepEqual(await store.acknowledge(b.userId, b.sessionId, [{ messageId: m.messageId, status: "READ" }]), [
          { kind: "unknown", messageId: m.messageId },
        ]);
        assert.deepEqual(await pendingIds(store, b), [later.messageId]);
      });

      test("does not touch users, conversations or attachments", async (store) => {
        const { a, b, conv } = await world(store);
        const att = await store.createAttachment({ attachmentId: randomUUID(), userId: a.userId, uploadToken: randomUUID(), viewToken: randomUUID() });
        await acceptOne(store, newMessage(a, conv, [b]));
        await sleep(TICK_MS);
        await store.expire(Date.now() * 1000 + 60_000_000);
        assert.ok(await store.getUser(a.userId));
        assert.ok(await store.getSession(b.userId, b.sessionId));
        assert.ok(await store.getConversation(conv));
        assert.equal((await store.listParticipants(conv)).length, 3);
        assert.deepEqual(await store.getAttachment(att.attachmentId), att);
        assert.deepEqual(await pending(store, b), []);
      });
    });

    // ------------------------------------------------------------------------------ attachments
    describe("attachments", () => {
      test("create, get, find by upload or view token, mark uploaded", async (store) => {
        const a = await makeUser(store, "a");
        const input = { attachmentId: randomUUID(), userId: a.userId, uploadToken: randomUUID(), viewToken: randomUUID() };
        const other = await store.createAttachment({ attachmentId: randomUUID(), userId: a.userId, uploadToken: randomUUID(), viewToken: randomUUID() });
        const created = await store.createAttachment(input);
        assert.deepEqual({ ...created, createdAt: 0 }, { ...input, size: 0, uploaded: false, createdAt: 0 });
        assert.equal(typeof created.createdAt, "number");
        assert.deepEqual(await store.getAttachment(input.attachmentId), created);
        assert.deepEqual(await store.getAttachmentByToken("upload", input.uploadToken), created);
        assert.deepEqual(await store.getAttachmentByToken("view", input.viewToken), created);
        assert.equal(await store.getAttachmentByToken("upload", input.viewToken), undefined, "a view token does not upload");
        assert.equal(await store.getAttachmentByToken("view", input.uploadToken), undefined, "an upload token does not view");
        assert.equal(await store.getAttachmentByToken("view", randomUUID()), undefined);
        assert.equal(await store.getAttachment(randomUUID()), undefined);

        await store.markUploaded(input.attachmentId, 123_456_789);
        const uploaded = { ...created, size: 123_456_789, uploaded: true };
        assert.deepEqual(await store.getAttachment(input.attachmentId), uploaded);
        assert.deepEqual(await store.getAttachmentByToken("view", input.viewToken), uploaded);
        assert.deepEqual(await store.getAttachmentByToken("upload", input.uploadToken), uploaded);
        assert.deepEqual(await store.getAttachment(other.attachmentId), other, "other attachments untouched");
      });
    });

    // ------------------------------------------------------------------------------ operations
    describe("operations: users, sessions, revocations, mailbox depth", () => {
      test("ping resolves on a working store", async (store) => {
        await store.ping();
      });

      test("new users are not disabled; listUsers pages in identity-number order", async (store) => {
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await makeUser(store, `u${i}`));
        const all = await store.listUsers(100);
        assert.deepEqual(all.map((u) => u.userId), made.map((u) => u.userId));
        for (const u of all) {
          assert.equal(u.disabled, false);
          assert.deepEqual(u, await store.getUser(u.userId));
        }
        assert.deepEqual((await store.listUsers(2)).map((u) => u.userId), made.slice(0, 2).map((u) => u.userId));
        assert.deepEqual((await store.listUsers(2, 3)).map((u) => u.userId), made.slice(3, 5).map((u) => u.userId));
        assert.deepEqual(await store.listUsers(10, 5), []);
      });

      test("addSession gives an existing user a second working session; unknown users get none", async (store) => {
        const { a, b, conv } = await world(store);
        const key = randomBytes(32);
        const sessionId = randomUUID();
        const added = await store.addSession(b.userId, { sessionId, publicKey: key });
        assert.ok(added);
        assert.equal(added.userId, b.userId);
        assert.equal(added.sessionId, sessionId);
        assert.deepEqual(added.publicKey, key);
        assert.deepEqual(await store.getSession(b.userId, sessionId), added);
        assert.deepEqual(sorted((await store.listSessions([b.userId])).map((s) => s.sessionId)), sorted([b.sessionId, sessionId]));
        // Mail from now on reaches both sessions.
        const m = await acceptOne(store, newMessage(a, conv, [b]));
        assert.deepEqual(await pendingIds(store, b), [m.messageId]);
        assert.deepEqual(await pendingIds(store, { ...b, sessionId }), [m.messageId]);
        assert.equal(await store.addSession(randomUUID(), { sessionId: randomUUID(), publicKey: randomBytes(32) }), undefined);
      });

      test("revokeSession deletes the session and its mailbox rows and logs one revocation", async (store) => {
        const { a, b, c, conv } = await world(store);
        const second = { ...b, sessionId: randomUUID(), publicKey: randomBytes(32) };
        await store.addSession(b.userId, { sessionId: second.sessionId, publicKey: second.publicKey });
        const m = await acceptOne(store, newMessage(a, conv, [b, c]));
        assert.equal(await store.lastRevocationSeq(), 0, "no revocations yet");

        const revoked = await store.revokeSession(b.sessionId);
        assert.ok(revoked);
        assert.equal(revoked.userId, b.userId);
        assert.equal(revoked.sessionId, b.sessionId);
        assert.equal(await store.getSession(b.userId, b.sessionId), undefined, "the session is gone");
        assert.deepEqual(await pending(store, b), [], "its mailbox rows are gone");
        assert.deepEqual(await pendingIds(store, second), [m.messageId], "the user's other session keeps its rows");
        assert.deepEqual(await pendingIds(store, c), [m.messageId], "other users keep theirs");
        assert.deepEqual((await store.listSessions([b.userId])).map((s) => s.sessionId), [second.sessionId]);

        const log = await store.revocationsAfter(0, 10);
        assert.equal(log.length, 1);
        assert.equal(log[0]!.userId, b.userId);
        assert.equal(log[0]!.sessionId, b.sessionId);
        assert.ok(log[0]!.seq > 0);
        assert.ok(Number.isSafeInteger(log[0]!.createdAt) && log[0]!.createdAt > 1e15, "createdAt in microseconds");
        assert.equal(await store.lastRevocationSeq(), log[0]!.seq);

        // New mail skips the revoked session; revoking again or an unknown session changes nothing.
        const later = await acceptOne(store, newMessage(a, conv, [b]));
        assert.deepEqual(await pending(store, b), []);
        assert.deepEqual(await pendingIds(store, second), [m.messageId, later.messageId]);
        assert.equal(await store.revokeSession(b.sessionId), undefined);
        assert.equal(await store.revokeSession(randomUUID()), undefined);
        assert.equal((await store.revocationsAfter(0, 10)).length, 1);
        assert.ok(await store.getUser(b.userId), "the user itself stays");
      });

      test("setUserDisabled flips the flag; disabling logs a whole-user revocation, enabling does not", async (store) => {
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        assert.equal(await store.setUserDisabled(a.userId, true), true);
        assert.equal((await store.getUser(a.userId))?.disabled, true);
        assert.equal((await store.getUser(b.userId))?.disabled, false, "other users untouched");
        assert.equal((await store.getUsers([a.userId]))[0]?.disabled, true);
        assert.ok(await store.getSession(a.userId, a.sessionId), "sessions are kept (the user may be enabled again)");
        const log = await store.revocationsAfter(0, 10);
        assert.deepEqual(log.map((r) => [r.userId, r.sessionId]), [[a.userId, ""]]);

        assert.equal(await store.setUserDisabled(a.userId, false), true);
        assert.equal((await store.getUser(a.userId))?.disabled, false);
        assert.equal((await store.revocationsAfter(0, 10)).length, 1, "enabling logs nothing");
        assert.equal(await store.setUserDisabled(randomUUID(), true), false, "unknown user");
        assert.equal((await store.revocationsAfter(0, 10)).length, 1);
      });

      test("revocationsAfter is a cursor over the log in seq order; limit caps a page", async (store) => {
        const users = [];
        for (let i = 0; i < 4; i++) users.push(await makeUser(store, `u${i}`));
        await store.revokeSession(users[0]!.sessionId);
        await store.setUserDisabled(users[1]!.userId, true);
        await store.revokeSession(users[2]!.sessionId);
        await store.setUserDisabled(users[3]!.userId, true);
        const log = await store.revocationsAfter(0, 100);
        assert.deepEqual(
          log.map((r) => [r.userId, r.sessionId]),
          [
            [users[0]!.userId, users[0]!.sessionId],
            [users[1]!.userId, ""],
            [users[2]!.userId, users[2]!.sessionId],
            [users[3]!.userId, ""],
          ],
        );
        assertStrictlyIncreasing(log.map((r) => r.seq), "revocation seq");
        assert.equal(await store.lastRevocationSeq(), log[3]!.seq);
        assert.deepEqual(await store.revocationsAfter(log[1]!.seq, 100), log.slice(2));
        assert.deepEqual(await store.revocationsAfter(log[0]!.seq, 2), log.slice(1, 3));
        assert.deepEqual(await store.revocationsAfter(log[3]!.seq, 100), []);
      });

      test("pendingCount counts unacked mailbox rows, in all or for one user's sessions", async (store) => {
        const { a, b, c, d, conv } = await world(store);
        assert.equal(await store.pendingCount(), 0);
        const second = { ...b, sessionId: randomUUID() };
        await store.addSession(b.userId, { sessionId: second.sessionId, publicKey: randomBytes(32) });
        const m1 = await acceptOne(store, newMessage(a, conv, [b, c]));
        await acceptOne(store, newMessage(a, conv, [b]));
        assert.equal(await store.pendingCount(), 5, "b: 2 messages x 2 sessions, c: 1");
        assert.equal(await store.pendingCount(b.userId), 4);
        assert.equal(await store.pendingCount(c.userId), 1);
        assert.equal(await store.pendingCount(d.userId), 0);
        assert.equal(await store.pendingCount(randomUUID()), 0);
        await store.acknowledge(c.userId, c.sessionId, [{ messageId: m1.messageId, status: "READ" }]);
        await store.acknowledge(b.userId, b.sessionId, [{ messageId: m1.messageId, status: "DELIVERED" }]);
        assert.equal(await store.pendingCount(), 3);
        assert.equal(await store.pendingCount(c.userId), 0);
        await store.revokeSession(second.sessionId);
        assert.equal(await store.pendingCount(b.userId), 1);
        assert.equal(await store.pendingCount(), 1);
      });

      test("disabled flags and the revocation log survive a reopen", async (store, { opened, t, reopen }) => {
        if (!opened.reopen) return t.skip("this backend cannot reopen");
        const a = await makeUser(store, "a");
        const b = await makeUser(store, "b");
        await store.setUserDisabled(a.userId, true);
        await store.revokeSession(b.sessionId);
        const log = await store.revocationsAfter(0, 10);
        const again = await reopen();
        assert.equal((await again.getUser(a.userId))?.disabled, true);
        assert.deepEqual(await again.revocationsAfter(0, 10), log);
        assert.equal(await again.lastRevocationSeq(), log[1]!.seq);
        const c = await makeUser(again, "c");
        await again.revokeSession(c.sessionId);
        const [next] = await again.revocationsAfter(log[1]!.seq, 10);
        assert.ok(next && next.seq > log[1]!.seq, "revocation seqs are not reused after a reopen");
      });
    });

    // ------------------------------------------------------------------------------ restart
    describe("durability", () => {
      test("everything survives a reopen, and seq numbers are not reused after it", async (store, { opened, t, reopen }) => {
        if (!opened.reopen) return t.skip("this backend cannot reopen");
        const { a, b, c, conv } = await world(store);
        await store.setMetaIfAbsent("node", "n1");
        const att = await store.createAttachment({ attachmentId: randomUUID(), userId: a.userId, uploadToken: randomUUID(), viewToken: randomUUID() });
        await store.markUploaded(att.attachmentId, 42);
        const kept = await acceptOne(store, newMessage(a, conv, [b], { payload: Buffer.from(NASTY_PAYLOAD) }));
        const acked = await acceptOne(store, newMessage(a, conv, [c]));
        await store.acknowledge(c.userId, c.sessionId, [{ messageId: acked.messageId, status: "DELIVERED" }]);
        const snapshot = {
          users: byUserId(await store.getUsers([a.userId, b.userId, c.userId])),
          session: await store.getSession(b.userId, b.sessionId),
          conversation: await store.getConversation(conv),
          participants: byUserId(await store.listParticipants(conv)),
          pendingB: await pending(store, b),
          attachment: await store.getAttachment(att.attachmentId),
          lastSeq: await store.lastSeq(),
        };

        const again = await reopen();
        assert.equal(await again.getMeta("node"), "n1");
        assert.deepEqual(byUserId(await again.getUsers([a.userId, b.userId, c.userId])), snapshot.users);
        assert.deepEqual(await again.getSession(b.userId, b.sessionId), snapshot.session);
        assert.deepEqual(await again.getConversation(conv), snapshot.conversation);
        assert.deepEqual(byUserId(await again.listParticipants(conv)), snapshot.participants);
        assert.deepEqual(await pending(again, b), snapshot.pendingB);
        assert.deepEqual(await again.getMessage(kept.messageId), kept);
        assert.deepEqual(await again.getAttachment(att.attachmentId), snapshot.attachment);
        assert.equal(await again.lastSeq(), snapshot.lastSeq);
        // Status survived: DELIVERED again is unchanged.
        assert.deepEqual(await again.acknowledge(c.userId, c.sessionId, [{ messageId: acked.messageId, status: "DELIVERED" }]), [
          { kind: "unchanged", messageId: acked.messageId },
        ]);
        // Ack everything, restart, accept: the new row's seq is above anything handed out before.
        await again.acknowledge(b.userId, b.sessionId, [{ messageId: kept.messageId, status: "READ" }]);
        const third = await reopen();
        const n = await acceptOne(third, newMessage(a, conv, [c]));
        const [row] = await pending(third, c);
        assert.equal(row?.message.messageId, n.messageId);
        assert.ok(row.seq > snapshot.lastSeq, `seq ${row.seq} reused after restart (last was ${snapshot.lastSeq})`);
        const newUser = await makeUser(third, "after restart");
        const ids = [...snapshot.users.map((u) => u.identityNumber), (await third.getUser(newUser.userId))!.identityNumber];
        assert.equal(new Set(ids).size, ids.length, "identity numbers are not reused after restart");
      });
    });
  });
}

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { STATUS_RANK, type ConversationCategory, type MessageStatus, type ParticipantRole } from "@openblaze/protocol";
import {
  checkRequestSizes,
  nowMicros,
  refusal,
  splitRequests,
  storedMessage,
  takenIds,
  type AcceptOutcome,
  type AckInput,
  type AckOutcome,
  type AckRequest,
  type Attachment,
  type Conversation,
  type MailboxRow,
  type Membership,
  type MessageOwner,
  type Micros,
  type NewMessage,
  type Participant,
  type PendingMessage,
  type Revocation,
  type Session,
  type Store,
  type StoredMessage,
  type User,
} from "../store.js";
import { WalCheckpointer } from "./checkpointer.js";
import { RecentIds } from "./recent-ids.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";

const STATUS_BY_RANK: readonly MessageStatus[] = ["SENT", "DELIVERED", "READ"];
const FIRST_IDENTITY_NUMBER = 7000100000;

interface MessageRow {
  message_id: string;
  conversation_id: string;
  user_id: string;
  session_id: string;
  category: string;
  payload: Buffer;
  representative_id: string;
  quote_message_id: string;
  silent: number;
  expire_in: number;
  created_at: number;
}

function toMessage(r: MessageRow): StoredMessage {
  return {
    messageId: r.message_id,
    conversationId: r.conversation_id,
    userId: r.user_id,
    sessionId: r.session_id,
    category: r.category,
    payload: r.payload,
    representativeId: r.representative_id,
    quoteMessageId: r.quote_message_id,
    silent: r.silent === 1,
    expireIn: r.expire_in,
    createdAt: r.created_at,
  };
}

interface UserRow {
  user_id: string;
  identity_number: number;
  full_name: string;
  is_bot: number;
  owner_id: string;
  created_at: number;
  disabled: number;
}

function toUser(r: UserRow): User {
  return {
    userId: r.user_id,
    identityNumber: String(r.identity_number),
    fullName: r.full_name,
    isBot: r.is_bot === 1,
    ownerId: r.owner_id,
    createdAt: r.created_at,
    disabled: r.disabled === 1,
  };
}

function toSession(r: { user_id: string; session_id: string; public_key: Buffer; created_at: number }): Session {
  return { userId: r.user_id, sessionId: r.session_id, publicKey: r.public_key, createdAt: r.created_at };
}

function toConversation(r: Record<string, unknown>): Conversation {
  return {
    conversationId: r.conversation_id as string,
    category: r.category as ConversationCategory,
    creatorId: r.creator_id as string,
    name: r.name as string,
    announcement: r.announcement as string,
    codeId: r.code_id as string,
    createdAt: r.created_at as number,
  };
}

function toParticipant(r: Record<string, unknown>): Participant {
  return {
    conversationId: r.conversation_id as string,
    userId: r.user_id as string,
    role: r.role as ParticipantRole,
    createdAt: r.created_at as number,
  };
}

function toAttachment(r: Record<string, unknown>): Attachment {
  return {
    attachmentId: r.attachment_id as string,
    userId: r.user_id as string,
    uploadToken: r.upload_token as string,
    viewToken: r.view_token as string,
    size: r.size as number,
    uploaded: r.uploaded === 1,
    createdAt: r.created_at as number,
  };
}

/** SQLite WHERE-IN lists need one placeholder per value. */
function placeholders(n: number): string {
  return new Array(n).fill("?").join(",");
}

export interface SqliteStoreOptions {
  /** File path, or ":memory:". */
  path: string;
  /** `NORMAL` (default) loses at most the last commits on power loss, never on process crash. */
  synchronous?: "NORMAL" | "FULL";
  /**
   * Checkpoint the WAL on a worker thread instead of inside whichever COMMIT crosses SQLite's
   * threshold (the server turns this on; short-lived CLI connections keep SQLite's own).
   */
  backgroundCheckpoints?: boolean;
  /** Told when the background checkpointer fails; the store then falls back to SQLite's own. */
  onCheckpointFailure?: (err: Error) => void;
  /**
   * With background checkpoints: the WAL size in bytes past which message writes pause briefly
   * (milliseconds: the last frames and the fsyncs) so the WAL can start over from its
   * beginning. Default 256 MiB (64 MiB cost more per message in paired batch runs, BENCHMARKS.md step 21).
   */
  walSizeLimit?: number;
  /** Recent message ids held in memory before they go to the message_ids table (default 32,768). */
  recentIdsLimit?: number;
  /** Told when moving recent message ids to their table fails; they stay in memory and are tried again. */
  onIdIndexFailure?: (err: Error) => void;
}

/** The counter message rowids (and so mailbox seqs) are taken from. */
const MESSAGE_SEQ = "message_seq";
/** Every message with a rowid up to this counter has its id in message_ids. */
const IDS_INDEXED = "ids_indexed";
const DEFAULT_RECENT_IDS_LIMIT = 32_768;

/** How often the background checkpointer runs. */
const CHECKPOINT_INTERVAL_MS = 100;
const DEFAULT_WAL_SIZE_LIMIT = 256 * 1024 * 1024;
/** Memberships kept for the per-send lookup; the oldest goes when more are read. */
const MEMBERSHIP_CACHE_SIZE = 10_000;
/** A hold the checkpointer asked for ends by itself after this, whatever became of the worker. */
const MAX_WRITE_HOLD_MS = 500;

/** The embedded default store: better-sqlite3 in WAL mode, prepared statements, one writer. */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly stmts;
  /** Transaction functions, built once: db.transaction() per call was a measurable cost. */
  private readonly txs;
  private readonly checkpointer: WalCheckpointer | undefined;
  /**
   * Every send needs its conversation's membership, and reading it is a read transaction of its own
   * (~7 µs, more than the lookups in it). Writes through this store drop the entry; a commit by
   * another connection (seen through PRAGMA data_version, checked once per event-loop turn) drops
   * them all.
   */
  private readonly memberships = new Map<string, Membership>();
  /** Ids of messages newer than the ids_indexed counter (recent-ids.ts). */
  private readonly recentIds = new RecentIds();
  /** Ids stored by the accept transaction under way; recentIds takes them once it commits. */
  private readonly txIds = new Map<string, number>();
  /** message_seq as this store last saw it: a higher value means another connection stored messages. */
  private knownSeq = 0;
  private indexingIds = false;
  private readonly recentIdsLimit: number;
  private readonly onIdIndexFailure: ((err: Error) => void) | undefined;
  private dataVersion: number | undefined;
  private versionCheckedThisTurn = false;
  /** Set while the checkpointer rewinds the WAL: message writes wait for it. */
  private writeHold: { done: Promise<void>; release: () => void; timer: NodeJS.Timeout } | undefined;

  constructor(opts: SqliteStoreOptions) {
    if (opts.path !== ":memory:") mkdirSync(dirname(opts.path), { recursive: true });
    this.db = new Database(opts.path);
    // First, so every later statement (switching to WAL included) waits for another process's
    // lock instead of failing: the CLI creates users in the same file while a server runs.
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${opts.synchronous ?? "NORMAL"}`);
    this.db.pragma("foreign_keys = ON");
    // 64 MiB of page cache (default 2 MiB): the mailbox and message_ids are keyed by text UUIDs.
    this.db.pragma("cache_size = -65536");
    this.migrateSync();
    if (opts.backgroundCheckpoints && opts.path !== ":memory:") {
      const walSizeLimit = opts.walSizeLimit ?? DEFAULT_WAL_SIZE_LIMIT;
      this.db.pragma("wal_autocheckpoint = 0");
      // The WAL file is reused from its start after each complete checkpoint; this trims what a burst
      // added past the limit. Not further: the commit that starts the WAL over does the truncating,
      // and cutting a 256 MiB file back to 64 MiB stalled the event loop ~100 ms (BENCHMARKS.md step 21).
      this.db.pragma(`journal_size_limit = ${Math.floor(walSizeLimit)}`);
      const pageSize = this.db.pragma("page_size", { simple: true }) as number;
      this.checkpointer = new WalCheckpointer({
        path: opts.path,
        intervalMs: CHECKPOINT_INTERVAL_MS,
        limitFrames: Math.max(1, Math.floor(walSizeLimit / pageSize)),
        writes: { hold: () => this.holdWrites(), release: () => this.releaseWrites() },
        onFailure: (err) => {
          opts.onCheckpointFailure?.(err);
          if (this.db.open) this.db.pragma("wal_autocheckpoint = 1000");
        },
      });
    }
    this.recentIdsLimit = opts.recentIdsLimit ?? DEFAULT_RECENT_IDS_LIMIT;
    this.onIdIndexFailure = opts.onIdIndexFailure;
    const db = this.db;
    this.stmts = {
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      insertMeta: db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)"),
      nextIdentity: db.prepare<[], { n: number | null }>("SELECT MAX(identity_number) AS n FROM users"),
      insertUser: db.prepare("INSERT INTO users (user_id, identity_number, full_name, is_bot, owner_id, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
      insertSession: db.prepare("INSERT INTO sessions (session_id, user_id, public_key, created_at) VALUES (?, ?, ?, ?)"),
      getUser: db.prepare<[string], UserRow>("SELECT * FROM users WHERE user_id = ?"),
      getSession: db.prepare<[string, string], { user_id: string; session_id: string; public_key: Buffer; created_at: number }>(
        "SELECT * FROM sessions WHERE user_id = ? AND session_id = ?",
      ),
      insertConversation: db.prepare(
        "INSERT INTO conversations (conversation_id, category, creator_id, name, announcement, code_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      getConversation: db.prepare<[string], Record<string, unknown>>("SELECT * FROM conversations WHERE conversation_id = ?"),
      insertParticipant: db.prepare(
        "INSERT OR IGNORE INTO participants (conversation_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
      ),
      deleteParticipant: db.prepare("DELETE FROM participants WHERE conversation_id = ? AND user_id = ?"),
      setRole: db.prepare("UPDATE participants SET role = ? WHERE conversation_id = ? AND user_id = ?"),
      listParticipants: db.prepare<[string], Record<string, unknown>>(
        "SELECT * FROM participants WHERE conversation_id = ? ORDER BY created_at, user_id",
      ),
      getParticipant: db.prepare<[string, string], Record<string, unknown>>(
        "SELECT * FROM participants WHERE conversation_id = ? AND user_id = ?",
      ),
      // A message is found by its id through the recent ids in memory or message_ids, then read by
      // rowid (see findByMessageId).
      getMessageByRow: db.prepare<[number], MessageRow>("SELECT * FROM messages WHERE id = ?"),
      getSenderByRow: db.prepare<[number], { id: number; message_id: string; user_id: string; conversation_id: string }>(
        "SELECT id, message_id, user_id, conversation_id FROM messages WHERE id = ?",
      ),
      getMessageByIndexedId: db.prepare<[string], MessageRow>("SELECT m.* FROM message_ids i JOIN messages m ON m.id = i.row WHERE i.message_id = ?"),
      getSenderByIndexedId: db.prepare<[string], { id: number; message_id: string; user_id: string; conversation_id: string }>(
        "SELECT m.id, m.message_id, m.user_id, m.conversation_id FROM message_ids i JOIN messages m ON m.id = i.row WHERE i.message_id = ?",
      ),
      // Newest mapping wins: an id can come back after its message expired.
      indexId: db.prepare("INSERT OR REPLACE INTO message_ids (message_id, row) VALUES (?, ?)"),
      rowsAfter: db.prepare<[number, number], { id: number; message_id: string }>("SELECT id, message_id FROM messages WHERE id > ? AND id <= ? ORDER BY id"),
      // The rowid is given (from the message_seq counter, see acceptMessages): SQLite's own would be
      // reused once the newest row is deleted.
      insertMessage: db.prepare(
        `INSERT INTO messages (id, message_id, conversation_id, user_id, session_id, category, payload,
           representative_id, quote_message_id, silent, expire_in, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getCounter: db.prepare<[string], { value: number }>("SELECT value FROM counters WHERE name = ?"),
      setCounter: db.prepare("UPDATE counters SET value = ? WHERE name = ?"),
      insertMailbox: db.prepare<[number, string], { user_id: string; session_id: string }>(
        `INSERT OR IGNORE INTO mailbox (session_id, seq, user_id)
         SELECT session_id, ?, user_id FROM sessions WHERE user_id = ?
         RETURNING user_id, session_id`,
      ),
      insertStatus: db.prepare("INSERT OR IGNORE INTO message_status (message_row, user_id, status, updated_at) VALUES (?, ?, 0, ?)"),
      // Group fan-out: one statement per message for all recipients (a JSON array of user ids)
      // instead of two per recipient.
      insertMailboxAll: db.prepare<[number, string], { user_id: string; session_id: string }>(
        `INSERT OR IGNORE INTO mailbox (session_id, seq, user_id)
         SELECT session_id, ?, user_id FROM sessions WHERE user_id IN (SELECT value FROM json_each(?))
         RETURNING user_id, session_id`,
      ),
      insertStatusAll: db.prepare<[number, number, string]>(
        "INSERT OR IGNORE INTO message_status (message_row, user_id, status, updated_at) SELECT ?, value, 0, ? FROM json_each(?)",
      ),
      pending: db.prepare<[string, string, number, number, number], MessageRow & { seq: number }>(
        `SELECT mb.seq, m.* FROM mailbox mb JOIN messages m ON m.id = mb.seq
         WHERE mb.session_id = ? AND mb.user_id = ? AND mb.seq > ? AND m.created_at > ?
         ORDER BY mb.seq LIMIT ?`,
      ),
      getStatus: db.prepare<[number, string], { status: number }>("SELECT status FROM message_status WHERE message_row = ? AND user_id = ?"),
      raiseStatus: db.prepare("UPDATE message_status SET status = ?, updated_at = ? WHERE message_row = ? AND user_id = ? AND status < ?"),
      deleteMailbox: db.prepare("DELETE FROM mailbox WHERE session_id = ? AND seq = ?"),
      // Expiry walks each session's mailbox up to the newest expiring message (a range of its
      // primary key) and drops the rows whose message went.
      expiryHigh: db.prepare<[number], { id: number | null }>("SELECT max(id) AS id FROM messages WHERE created_at < ?"),
      allSessionIds: db.prepare<[], string>("SELECT session_id FROM sessions").pluck(),
      expireSessionMailbox: db.prepare(
        "DELETE FROM mailbox WHERE session_id = ? AND seq <= ? AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = mailbox.seq)",
      ),
      expireStatus: db.prepare("DELETE FROM message_status WHERE message_row IN (SELECT id FROM messages WHERE created_at < ?)"),
      expireMessages: db.prepare("DELETE FROM messages WHERE created_at < ?"),
      expireIds: db.prepare("DELETE FROM message_ids WHERE message_id IN (SELECT message_id FROM messages WHERE created_at < ?)"),
      insertAttachment: db.prepare(
        "INSERT INTO attachments (attachment_id, user_id, upload_token, view_token, size, uploaded, created_at) VALUES (?, ?, ?, ?, 0, 0, ?)",
      ),
      getAttachment: db.prepare<[string], Record<string, unknown>>("SELECT * FROM attachments WHERE attachment_id = ?"),
      getAttachmentByUpload: db.prepare<[string], Record<string, unknown>>("SELECT * FROM attachments WHERE upload_token = ?"),
      getAttachmentByView: db.prepare<[string], Record<string, unknown>>("SELECT * FROM attachments WHERE view_token = ?"),
      markUploaded: db.prepare("UPDATE attachments SET size = ?, uploaded = 1 WHERE attachment_id = ?"),
      ping: db.prepare("SELECT 1"),
      dataVersion: db.prepare<[], number>("PRAGMA data_version").pluck(),
      listUsers: db.prepare<[number, number], UserRow>("SELECT * FROM users ORDER BY identity_number LIMIT ? OFFSET ?"),
      getSessionById: db.prepare<[string], { user_id: string; session_id: string; public_key: Buffer; created_at: number }>(
        "SELECT * FROM sessions WHERE session_id = ?",
      ),
      deleteSession: db.prepare("DELETE FROM sessions WHERE session_id = ?"),
      deleteSessionMailbox: db.prepare("DELETE FROM mailbox WHERE session_id = ?"),
      setDisabled: db.prepare("UPDATE users SET disabled = ? WHERE user_id = ?"),
      insertRevocation: db.prepare("INSERT INTO revocations (user_id, session_id, created_at) VALUES (?, ?, ?)"),
      revocationsAfter: db.prepare<[number, number], { seq: number; user_id: string; session_id: string; created_at: number }>(
        "SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?",
      ),
      lastRevocationSeq: db.prepare<[], { seq: number | null }>("SELECT MAX(seq) AS seq FROM revocations"),
      pendingCount: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM mailbox"),
      pendingCountOfUser: db.prepare<[string], { n: number }>(
        "SELECT count(*) AS n FROM mailbox WHERE session_id IN (SELECT session_id FROM sessions WHERE user_id = ?)",
      ),
    };
    const stmts = this.stmts;
    this.txs = {
      createUser: db.transaction((user: Omit<User, "identityNumber" | "createdAt" | "disabled">, session: Omit<Session, "userId" | "createdAt">, createdAt: Micros) => {
        const n = (stmts.nextIdentity.get()?.n ?? FIRST_IDENTITY_NUMBER) + 1;
        stmts.insertUser.run(user.userId, n, user.fullName, user.isBot ? 1 : 0, user.ownerId, createdAt);
        stmts.insertSession.run(session.sessionId, user.userId, session.publicKey, createdAt);
        return n;
      }),
      createConversation: db.transaction(
        (c: Omit<Conversation, "createdAt">, participants: readonly { userId: string; role: ParticipantRole }[], createdAt: Micros) => {
          const existing = stmts.getConversation.get(c.conversationId);
          if (existing) return { conversation: toConversation(existing), created: false };
          stmts.insertConversation.run(c.conversationId, c.category, c.creatorId, c.name, c.announcement, c.codeId, createdAt);
          for (const p of participants) stmts.insertParticipant.run(c.conversationId, p.userId, p.role, createdAt);
          return { conversation: { ...c, createdAt }, created: true };
        },
      ),
      addParticipants: db.transaction((conversationId: string, participants: readonly { userId: string; role: ParticipantRole }[], createdAt: Micros) =>
        participants.filter((p) => stmts.insertParticipant.run(conversationId, p.userId, p.role, createdAt).changes > 0).map((p) => p.userId),
      ),
      removeParticipants: db.transaction((conversationId: string, userIds: readonly string[]) =>
        userIds.filter((u) => stmts.deleteParticipant.run(conversationId, u).changes > 0),
      ),
      // One read transaction for all the lookups: on a WAL file each statement outside a transaction
      // is its own read transaction, ~4 µs of locking here against ~0.5 µs for the lookup itself.
      messageOwners: db.transaction((messageIds: readonly string[]) => {
        this.syncRecentIds();
        const owners = new Map<string, MessageOwner>();
        for (const id of messageIds) {
          const owner = this.ownerOf(id);
          if (owner) owners.set(id, owner);
        }
        return owners;
      }),
      getMessage: db.transaction((messageId: string) => {
        this.syncRecentIds();
        return this.findByMessageId(messageId, stmts.getMessageByRow, stmts.getMessageByIndexedId);
      }),
      loadRecentIds: db.transaction(() => {
        this.catchUpRecentIds(stmts.getCounter.get(IDS_INDEXED)!.value, stmts.getCounter.get(MESSAGE_SEQ)!.value);
      }),
      indexIds: db.transaction((entries: readonly [string, number][], upTo: number | undefined) => {
        for (const [id, row] of entries) stmts.indexId.run(id, row);
        if (upTo !== undefined && upTo > stmts.getCounter.get(IDS_INDEXED)!.value) stmts.setCounter.run(upTo, IDS_INDEXED);
      }),
      getMembership: db.transaction((conversationId: string): Membership | undefined => {
        const c = stmts.getConversation.get(conversationId);
        return c && { conversation: toConversation(c), participants: stmts.listParticipants.all(conversationId).map(toParticipant) };
      }),
      acceptMessages: db.transaction((batch: readonly NewMessage[], createdAt: Micros, requestSizes: readonly number[] | undefined) => {
        const last = this.syncRecentIds();
        const seq = { next: last + 1 };
        let outcomes: AcceptOutcome[];
        if (!requestSizes) outcomes = batch.map((m) => this.acceptOne(m, createdAt, seq));
        else {
          outcomes = [];
          for (const { items } of splitRequests(batch, requestSizes)) {
            const refused = items.length > 1 ? refusal(takenIds(items, (id) => this.ownerOf(id))) : undefined;
            if (refused) outcomes.push(...refused);
            else for (const m of items) outcomes.push(this.acceptOne(m, createdAt, seq));
          }
        }
        if (seq.next !== last + 1) stmts.setCounter.run(seq.next - 1, MESSAGE_SEQ);
        return { outcomes, lastSeq: seq.next - 1 };
      }),
      acknowledgeMany: db.transaction((requests: readonly AckRequest[], updatedAt: Micros) => {
        this.syncRecentIds();
        return requests.map((r) => r.acks.map((a) => this.ackOne(r.userId, r.sessionId, a, updatedAt)));
      }),
      expire: db.transaction((before: Micros) => {
        const high = stmts.expiryHigh.get(before)?.id;
        if (high == null) return 0;
        stmts.expireStatus.run(before);
        stmts.expireIds.run(before);
        stmts.expireMessages.run(before);
        let removed = 0;
        for (const sessionId of stmts.allSessionIds.all()) removed += stmts.expireSessionMailbox.run(sessionId, high).changes;
        return removed;
      }),
      addSession: db.transaction((userId: string, session: Omit<Session, "userId" | "createdAt">, createdAt: Micros): Session | undefined => {
        if (!stmts.getUser.get(userId)) return undefined;
        stmts.insertSession.run(session.sessionId, userId, session.publicKey, createdAt);
        return { userId, sessionId: session.sessionId, publicKey: session.publicKey, createdAt };
      }),
      revokeSession: db.transaction((sessionId: string, createdAt: Micros): Session | undefined => {
        const r = stmts.getSessionById.get(sessionId);
        if (!r) return undefined;
        stmts.deleteSessionMailbox.run(sessionId);
        stmts.deleteSession.run(sessionId);
        stmts.insertRevocation.run(r.user_id, sessionId, createdAt);
        return toSession(r);
      }),
      setUserDisabled: db.transaction((userId: string, disabled: boolean, createdAt: Micros) => {
        if (stmts.setDisabled.run(disabled ? 1 : 0, userId).changes === 0) return false;
        if (disabled) stmts.insertRevocation.run(userId, "", createdAt);
        return true;
      }),
    };
    this.txs.loadRecentIds();
  }

  /**
   * Inside a transaction, before looking up message ids: messages stored by another connection
   * since this store last looked (the CLI beside a server, a second store in tests) have their ids
   * only in `messages` yet. Returns message_seq.
   */
  private syncRecentIds(): number {
    const last = this.stmts.getCounter.get(MESSAGE_SEQ)!.value;
    if (last !== this.knownSeq) this.catchUpRecentIds(this.knownSeq, last);
    return last;
  }

  /** Takes the ids of messages stored after rowid `after`, up to `upTo`, into memory. */
  private catchUpRecentIds(after: number, upTo: number): void {
    for (const r of this.stmts.rowsAfter.iterate(after, upTo)) this.recentIds.set(r.message_id, r.id);
    this.knownSeq = upTo;
  }

  /** Sender and conversation of the message with this id (this transaction's included). */
  private ownerOf(messageId: string): MessageOwner | undefined {
    const r = this.findByMessageId(messageId, this.stmts.getSenderByRow, this.stmts.getSenderByIndexedId);
    return r && { userId: r.user_id, conversationId: r.conversation_id };
  }

  /**
   * The row of the message with this id, read by `byRow`: the accept transaction under way, then
   * the recent ids, then message_ids. A row whose id differs is a message that expired (possibly
   * by another connection) and whose rowid a mapping still names: not a match.
   */
  private findByMessageId<T extends { message_id: string }>(
    messageId: string,
    byRow: Database.Statement<[number], T>,
    byIndexedId: Database.Statement<[string], T>,
  ): T | undefined {
    const inTx = this.txIds.get(messageId);
    if (inTx !== undefined) return byRow.get(inTx);
    const recent = this.recentIds.get(messageId);
    if (recent !== undefined) {
      const r = byRow.get(recent);
      if (r?.message_id === messageId) return r;
    }
    const r = byIndexedId.get(messageId);
    return r?.message_id === messageId ? r : undefined;
  }

  /**
   * Moves the recent ids to message_ids, a run of neighbouring keys per transaction between other
   * work (recent-ids.ts); the last advances ids_indexed to the newest message this store had seen
   * when it began.
   */
  private indexRecentIds(): void {
    this.indexingIds = true;
    const runs = this.recentIds.runs();
    const upTo = this.knownSeq;
    const run = async () => {
      for (let i = 0; i < runs.length; i++) {
        await new Promise((r) => setImmediate(r));
        if (this.writeHold) await this.writable();
        if (!this.db.open) return;
        const entries = runs[i]!();
        this.txs.indexIds.immediate(entries, i === runs.length - 1 ? upTo : undefined);
        for (const [id, row] of entries) this.recentIds.forget(id, row);
      }
    };
    run().then(
      () => {
        this.indexingIds = false;
        // Messages stored meanwhile may be past the limit again.
        if (this.db.open && this.recentIds.size >= this.recentIdsLimit) this.indexRecentIds();
      },
      (e: unknown) => {
        this.indexingIds = false;
        this.onIdIndexFailure?.(e instanceof Error ? e : new Error(String(e)));
      },
    );
  }

  private migrateSync(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        // Another process (the CLI, a second server) may have applied it since the read above.
        if (m.version <= (this.db.pragma("user_version", { simple: true }) as number)) return;
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      }).immediate();
    }
  }

  async migrate(): Promise<void> {
    this.migrateSync();
  }

  private holdWrites(): void {
    if (this.writeHold) return;
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const timer = setTimeout(() => this.releaseWrites(), MAX_WRITE_HOLD_MS);
    timer.unref();
    this.writeHold = { done, release, timer };
  }

  private releaseWrites(): void {
    const h = this.writeHold;
    if (!h) return;
    this.writeHold = undefined;
    clearTimeout(h.timer);
    h.release();
  }

  /** Waits out a hold; only the steady high-volume writes (messages, acks) wait, the rest need not. */
  private async writable(): Promise<void> {
    while (this.writeHold) await this.writeHold.done;
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    this.releaseWrites();
    if (this.db.open) this.db.close();
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.stmts.getMeta.get(key)?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    this.stmts.insertMeta.run(key, value);
    return this.stmts.getMeta.get(key)!.value;
  }

  async createUser(user: Omit<User, "identityNumber" | "createdAt" | "disabled">, session: Omit<Session, "userId" | "createdAt">): Promise<User> {
    const createdAt = nowMicros();
    const identity = this.txs.createUser.immediate(user, session, createdAt);
    return { ...user, identityNumber: String(identity), createdAt, disabled: false };
  }

  async getUser(userId: string): Promise<User | undefined> {
    const r = this.stmts.getUser.get(userId);
    return r && toUser(r);
  }

  async getUsers(userIds: readonly string[]): Promise<User[]> {
    if (userIds.length === 0) return [];
    const rows = this.db.prepare<string[], UserRow>(`SELECT * FROM users WHERE user_id IN (${placeholders(userIds.length)})`).all(...userIds);
    return rows.map(toUser);
  }

  async getSession(userId: string, sessionId: string): Promise<Session | undefined> {
    const r = this.stmts.getSession.get(userId, sessionId);
    return r && toSession(r);
  }

  async listSessions(userIds: readonly string[]): Promise<Session[]> {
    if (userIds.length === 0) return [];
    const rows = this.db
      .prepare<string[], { user_id: string; session_id: string; public_key: Buffer; created_at: number }>(
        `SELECT * FROM sessions WHERE user_id IN (${placeholders(userIds.length)}) ORDER BY user_id, created_at`,
      )
      .all(...userIds);
    return rows.map(toSession);
  }

  async createConversation(
    c: Omit<Conversation, "createdAt">,
    participants: readonly { userId: string; role: ParticipantRole }[],
  ): Promise<{ conversation: Conversation; created: boolean }> {
    const createdAt = nowMicros();
    const out = this.txs.createConversation.immediate(c, participants, createdAt);
    this.memberships.delete(c.conversationId);
    return out;
  }

  async getConversation(conversationId: string): Promise<Conversation | undefined> {
    const r = this.stmts.getConversation.get(conversationId);
    return r && toConversation(r);
  }

  async updateConversation(conversationId: string, fields: { name?: string; announcement?: string }): Promise<void> {
    this.memberships.delete(conversationId);
    if (fields.name !== undefined) this.db.prepare("UPDATE conversations SET name = ? WHERE conversation_id = ?").run(fields.name, conversationId);
    if (fields.announcement !== undefined) {
      this.db.prepare("UPDATE conversations SET announcement = ? WHERE conversation_id = ?").run(fields.announcement, conversationId);
    }
  }

  async listParticipants(conversationId: string): Promise<Participant[]> {
    return this.stmts.listParticipants.all(conversationId).map(toParticipant);
  }

  async getMembership(conversationId: string): Promise<Membership | undefined> {
    this.dropMembershipsIfChangedElsewhere();
    const cached = this.memberships.get(conversationId);
    if (cached) return cached;
    const m = this.txs.getMembership(conversationId);
    if (!m) return undefined;
    // Shared by every caller from now on: frozen so that a caller that edits it fails loudly.
    const frozen: Membership = Object.freeze({ conversation: Object.freeze(m.conversation), participants: Object.freeze(m.participants.map((p) => Object.freeze(p))) as Participant[] });
    if (this.memberships.size >= MEMBERSHIP_CACHE_SIZE) this.memberships.delete(this.memberships.keys().next().value!);
    this.memberships.set(conversationId, frozen);
    return frozen;
  }

  private dropMembershipsIfChangedElsewhere(): void {
    if (this.versionCheckedThisTurn) return;
    this.versionCheckedThisTurn = true;
    setImmediate(() => (this.versionCheckedThisTurn = false));
    const v = this.stmts.dataVersion.get()!;
    if (v !== this.dataVersion) this.memberships.clear();
    this.dataVersion = v;
  }

  async getParticipant(conversationId: string, userId: string): Promise<Participant | undefined> {
    const r = this.stmts.getParticipant.get(conversationId, userId);
    return r && toParticipant(r);
  }

  async addParticipants(conversationId: string, participants: readonly { userId: string; role: ParticipantRole }[]): Promise<string[]> {
    const createdAt = nowMicros();
    const added = this.txs.addParticipants.immediate(conversationId, participants, createdAt);
    this.memberships.delete(conversationId);
    return added;
  }

  async removeParticipants(conversationId: string, userIds: readonly string[]): Promise<string[]> {
    const removed = this.txs.removeParticipants.immediate(conversationId, userIds);
    this.memberships.delete(conversationId);
    return removed;
  }

  async setRole(conversationId: string, userId: string, role: ParticipantRole): Promise<boolean> {
    const changed = this.stmts.setRole.run(role, conversationId, userId).changes > 0;
    this.memberships.delete(conversationId);
    return changed;
  }

  async acceptMessages(batch: readonly NewMessage[], requestSizes?: readonly number[]): Promise<AcceptOutcome[]> {
    checkRequestSizes(batch, requestSizes);
    if (this.writeHold) await this.writable();
    const createdAt = nowMicros();
    let committed: { outcomes: AcceptOutcome[]; lastSeq: number };
    try {
      committed = this.txs.acceptMessages.immediate(batch, createdAt, requestSizes);
    } catch (e) {
      this.txIds.clear();
      throw e;
    }
    for (const [id, row] of this.txIds) this.recentIds.set(id, row);
    this.txIds.clear();
    this.knownSeq = committed.lastSeq;
    if (this.recentIds.size >= this.recentIdsLimit && !this.indexingIds) this.indexRecentIds();
    return committed.outcomes;
  }

  /** `seq.next` is the rowid the next new message takes; advanced only when one is stored. */
  private acceptOne(m: NewMessage, createdAt: Micros, seq: { next: number }): AcceptOutcome {
    const existing = this.findByMessageId(m.messageId, this.stmts.getMessageByRow, this.stmts.getMessageByIndexedId);
    if (existing) {
      return existing.user_id === m.userId && existing.conversation_id === m.conversationId
        ? { kind: "duplicate", message: toMessage(existing) }
        : { kind: "conflict" };
    }
    const row = seq.next;
    this.stmts.insertMessage.run(
      row,
      m.messageId,
      m.conversationId,
      m.userId,
      m.sessionId,
      m.category,
      m.payload,
      m.representativeId,
      m.quoteMessageId,
      m.silent ? 1 : 0,
      m.expireIn,
      createdAt,
    );
    this.txIds.set(m.messageId, row);
    seq.next++;
    const deliveredTo = [...new Set(m.recipientIds)];
    const mailbox: MailboxRow[] = [];
    if (deliveredTo.length === 1) {
      for (const r of this.stmts.insertMailbox.all(row, deliveredTo[0]!)) mailbox.push({ userId: r.user_id, sessionId: r.session_id, seq: row });
      this.stmts.insertStatus.run(row, deliveredTo[0]!, createdAt);
    } else if (deliveredTo.length > 1) {
      const recipients = JSON.stringify(deliveredTo);
      for (const r of this.stmts.insertMailboxAll.all(row, recipients)) mailbox.push({ userId: r.user_id, sessionId: r.session_id, seq: row });
      this.stmts.insertStatusAll.run(row, createdAt, recipients);
    }
    return { kind: "created", message: storedMessage(m, createdAt), deliveredTo, mailbox, seq: row };
  }

  async getMessage(messageId: string): Promise<StoredMessage | undefined> {
    const r = this.txs.getMessage(messageId);
    return r && toMessage(r);
  }

  async messageOwners(messageIds: readonly string[]): Promise<Map<string, MessageOwner>> {
    return this.txs.messageOwners(messageIds);
  }

  async pendingMessages(userId: string, sessionId: string, afterSeq: number, limit: number, createdAfter: Micros = -1): Promise<PendingMessage[]> {
    return this.stmts.pending.all(sessionId, userId, afterSeq, createdAfter, limit).map((r) => ({ seq: r.seq, message: toMessage(r) }));
  }

  async lastSeq(): Promise<number> {
    return this.stmts.getCounter.get(MESSAGE_SEQ)?.value ?? 0;
  }

  async acknowledge(userId: string, sessionId: string, acks: readonly AckInput[]): Promise<AckOutcome[]> {
    return (await this.acknowledgeMany([{ userId, sessionId, acks }]))[0]!;
  }

  async acknowledgeMany(requests: readonly AckRequest[]): Promise<AckOutcome[][]> {
    if (this.writeHold) await this.writable();
    const updatedAt = nowMicros();
    return this.txs.acknowledgeMany.immediate(requests, updatedAt);
  }

  private ackOne(userId: string, sessionId: string, a: AckInput, updatedAt: Micros): AckOutcome {
    const rank = STATUS_RANK[a.status];
    const message = this.findByMessageId(a.messageId, this.stmts.getSenderByRow, this.stmts.getSenderByIndexedId);
    if (!message) return { kind: "unknown", messageId: a.messageId };
    // The common case first: a raised status proves the message was sent to this user, so an
    // advancing ack costs three statements, not four.
    if (this.stmts.raiseStatus.run(rank, updatedAt, message.id, userId, rank).changes > 0) {
      this.stmts.deleteMailbox.run(sessionId, message.id);
      return {
        kind: "advanced",
        messageId: a.messageId,
        senderId: message.user_id,
        conversationId: message.conversation_id,
        status: STATUS_BY_RANK[rank]!,
        updatedAt,
      };
    }
    if (this.stmts.getStatus.get(message.id, userId)) {
      this.stmts.deleteMailbox.run(sessionId, message.id);
      return { kind: "unchanged", messageId: a.messageId };
    }
    return { kind: "forbidden", messageId: a.messageId };
  }

  async expire(before: Micros): Promise<number> {
    return this.txs.expire.immediate(before);
  }

  async createAttachment(a: Omit<Attachment, "size" | "uploaded" | "createdAt">): Promise<Attachment> {
    const createdAt = nowMicros();
    this.stmts.insertAttachment.run(a.attachmentId, a.userId, a.uploadToken, a.viewToken, createdAt);
    return { ...a, size: 0, uploaded: false, createdAt };
  }

  async getAttachment(attachmentId: string): Promise<Attachment | undefined> {
    const r = this.stmts.getAttachment.get(attachmentId);
    return r && toAttachment(r);
  }

  async getAttachmentByToken(kind: "upload" | "view", token: string): Promise<Attachment | undefined> {
    const r = (kind === "upload" ? this.stmts.getAttachmentByUpload : this.stmts.getAttachmentByView).get(token);
    return r && toAttachment(r);
  }

  async markUploaded(attachmentId: string, size: number): Promise<void> {
    this.stmts.markUploaded.run(size, attachmentId);
  }

  async ping(): Promise<void> {
    this.stmts.ping.get();
  }

  async listUsers(limit: number, offset = 0): Promise<User[]> {
    return this.stmts.listUsers.all(limit, offset).map(toUser);
  }

  async addSession(userId: string, session: Omit<Session, "userId" | "createdAt">): Promise<Session | undefined> {
    const createdAt = nowMicros();
    return this.txs.addSession.immediate(userId, session, createdAt);
  }

  async revokeSession(sessionId: string): Promise<Session | undefined> {
    const createdAt = nowMicros();
    return this.txs.revokeSession.immediate(sessionId, createdAt);
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<boolean> {
    const createdAt = nowMicros();
    return this.txs.setUserDisabled.immediate(userId, disabled, createdAt);
  }

  async revocationsAfter(afterSeq: number, limit: number): Promise<Revocation[]> {
    return this.stmts.revocationsAfter
      .all(afterSeq, limit)
      .map((r) => ({ seq: r.seq, userId: r.user_id, sessionId: r.session_id, createdAt: r.created_at }));
  }

  async lastRevocationSeq(): Promise<number> {
    return this.stmts.lastRevocationSeq.get()?.seq ?? 0;
  }

  async pendingCount(userId?: string): Promise<number> {
    return (userId === undefined ? this.stmts.pendingCount.get() : this.stmts.pendingCountOfUser.get(userId))?.n ?? 0;
  }
}

import { createHash } from "node:crypto";
import pg from "pg";
import { STATUS_RANK, isUuid, type ConversationCategory, type MessageStatus, type ParticipantRole } from "@openblaze/protocol";
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
  type BatchRequest,
  type Conversation,
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
import { boolArray, byteaArray, int2Array, int4Array, int8Array, textArray, uuidArray } from "./binary-arrays.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { ReadBatcher } from "./read-batcher.js";

const STATUS_BY_RANK: readonly MessageStatus[] = ["SENT", "DELIVERED", "READ"];
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Transactions retried on these (deadlock, serialization failure): they rolled back whole. */
const RETRYABLE = new Set(["40P01", "40001"]);
const INT8_OID = 20;

/** bigint columns hold microsecond times, seqs and sizes: all safe integers, so plain numbers. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db?...` (libpq-style parameters as the `pg` driver reads them). */
  connectionString: string;
  /** Tables live in this schema (created on migrate); default: the connection's search_path. */
  schema?: string;
  /** Pool size per node (default 10). */
  poolSize?: number;
  /** Errors of idle pooled connections (the database restarted, say); the pool replaces them. */
  onPoolError?: (err: Error) => void;
}

export interface ParsedPostgresUrl {
  connectionString: string;
  schema: string | undefined;
  poolSize: number | undefined;
}

/**
 * Splits our own parameters off a database URL: `?schema=NAME` puts every table in that schema
 * (created if missing) and `?pool=N` sizes the connection pool; the rest goes to the driver.
 */
export function parsePostgresUrl(url: string): ParsedPostgresUrl {
  const u = new URL(url);
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new Error(`not a postgres:// URL: ${url}`);
  const schema = u.searchParams.get("schema") ?? undefined;
  const pool = u.searchParams.get("pool");
  u.searchParams.delete("schema");
  u.searchParams.delete("pool");
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`schema must match ${SCHEMA_NAME}, got "${schema}"`);
  let poolSize: number | undefined;
  if (pool !== null) {
    poolSize = Number(pool);
    if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`pool must be a positive integer, got "${pool}"`);
  }
  return { connectionString: u.toString(), schema, poolSize };
}

/** A 64-bit advisory lock key, stable across nodes, distinct per schema and purpose. */
function lockKey(purpose: string, schema: string | undefined): string {
  return createHash("sha256").update(`openblaze:${purpose}:${schema ?? ""}`).digest().readBigInt64BE(0).toString();
}

/**
 * Splits the `options` parameter off a postgres:// URL: `pg` lets a URL's `options` replace the
 * `options` of the pool config, so ours are passed together with it instead.
 */
function splitOptions(connectionString: string): { connectionString: string; options: string[] } {
  try {
    const url = new URL(connectionString);
    const options = url.searchParams.get("options");
    if (options === null) return { connectionString, options: [] };
    url.searchParams.delete("options");
    return { connectionString: url.toString(), options: [options] };
  } catch {
    return { connectionString, options: [] };
  }
}

const orNull = (id: string): string | null => (id === "" ? null : id);
const orEmpty = (id: string | null): string => id ?? "";
/** Lookups by a string that is no canonical UUID find nothing (as in SQLite) instead of failing. */
const uuids = (ids: readonly string[]): string[] => [...new Set(ids.filter(isUuid))];

/** SQLSTATE ob_accept_messages_v2 raises when a several-item request holds an id already stored. */
const STRICT_CONFLICT = "OBC01";

/**
 * Walks the requests in order as one transaction would take them, given who holds which id in the
 * store (`owners`): settles in `outcomes` the several-item requests with an id held by another
 * sender or conversation (in the store, earlier in the batch, or earlier in the request) and
 * returns the rest. A refused request, or a lone item that conflicts, holds no id for later ones.
 */
function refuseUnstorable(requests: readonly BatchRequest[], owners: ReadonlyMap<string, MessageOwner>, outcomes: AcceptOutcome[]): BatchRequest[] {
  const held = new Map<string, MessageOwner>();
  const holderOf = (id: string) => held.get(id) ?? owners.get(id);
  return requests.filter((r) => {
    const refused = r.items.length > 1 ? refusal(takenIds(r.items, holderOf)) : undefined;
    if (refused) {
      refused.forEach((o, i) => (outcomes[r.at + i] = o));
      return false;
    }
    for (const m of r.items) if (!holderOf(m.messageId)) held.set(m.messageId, m);
    return true;
  });
}

interface PendingRead {
  userId: string;
  sessionId: string;
  afterSeq: number;
  limit: number;
  /** -1 for no bound. */
  createdAfter: Micros;
}

interface MessageRow {
  message_id: string;
  conversation_id: string;
  user_id: string;
  session_id: string;
  category: string;
  payload: Buffer;
  representative_id: string | null;
  quote_message_id: string | null;
  silent: boolean;
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
    representativeId: orEmpty(r.representative_id),
    quoteMessageId: orEmpty(r.quote_message_id),
    silent: r.silent,
    expireIn: r.expire_in,
    createdAt: r.created_at,
  };
}

function toUser(r: Record<string, any>): User {
  return {
    userId: r.user_id,
    identityNumber: String(r.identity_number),
    fullName: r.full_name,
    isBot: r.is_bot,
    ownerId: orEmpty(r.owner_id),
    createdAt: r.created_at,
    disabled: r.disabled,
  };
}

function toSession(r: Record<string, any>): Session {
  return { userId: r.user_id, sessionId: r.session_id, publicKey: r.public_key, createdAt: r.created_at };
}

function toConversation(r: Record<string, any>): Conversation {
  return {
    conversationId: r.conversation_id,
    category: r.category as ConversationCategory,
    creatorId: r.creator_id,
    name: r.name,
    announcement: r.announcement,
    codeId: r.code_id,
    createdAt: r.created_at,
  };
}

function toParticipant(r: Record<string, any>): Participant {
  return { conversationId: r.conversation_id, userId: r.user_id, role: r.role as ParticipantRole, createdAt: r.created_at };
}

function toAttachment(r: Record<string, any>): Attachment {
  return {
    attachmentId: r.attachment_id,
    userId: r.user_id,
    uploadToken: r.upload_token,
    viewToken: r.view_token,
    size: r.size,
    uploaded: r.uploaded,
    createdAt: r.created_at,
  };
}

const MESSAGE_COLUMNS = `message_id, conversation_id, user_id, session_id, category, payload, representative_id, quote_message_id, silent, expire_in, created_at`;

export const SQL = {
  acceptMessages: `SELECT * FROM ob_accept_messages_v2($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::bytea[], $7::uuid[], $8::uuid[],
    $9::boolean[], $10::bigint[], $11::bigint, $12::uuid[], $13::uuid[], $14::integer[], $15::integer[], $16::boolean[], $17::bigint)`,
  acknowledge: `SELECT * FROM ob_acknowledge($1::uuid[], $2::uuid[], $3::text[], $4::smallint[], $5::uuid[], $6::uuid[], $7::text[], $8::bigint)`,
  knownMessages: `SELECT message_id FROM messages WHERE message_id = ANY($1::uuid[])`,
  memberships: `
    SELECT c.*, p.user_id AS p_user_id, p.role AS p_role, p.created_at AS p_created_at
    FROM conversations c
    LEFT JOIN (SELECT * FROM participants WHERE conversation_id = ANY($1::uuid[])) p ON p.conversation_id = c.conversation_id
    WHERE c.conversation_id = ANY($1::uuid[])
    ORDER BY c.conversation_id, p.created_at, p.user_id`,
  messagesByIds: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE message_id = ANY($1::uuid[])`,
  ownersByIds: `SELECT message_id, user_id, conversation_id FROM messages WHERE message_id = ANY($1::uuid[])`,
  // Several sessions' pages at once (one per request, numbered by `i`). Each page is cut first, in
  // seq order from the (session_id, seq) index, then each row's message is fetched by key
  // (LATERAL; its LIMIT 1 keeps the planner from flattening that into a hash join over all
  // messages): O(page) however long the mailbox or the messages table. user_id is checked on the
  // rows (a session has one owner) rather than in SQL, where its correlation with session_id makes
  // the planner expect one row and sort the whole mailbox instead.
  pendingMany: `
    SELECT q.i, mb.seq, mb.user_id AS owner_id, m.message_id, m.conversation_id, m.user_id, m.session_id, m.category, m.payload,
           m.representative_id, m.quote_message_id, m.silent, m.expire_in, m.created_at
    FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::bigint[]) WITH ORDINALITY AS q(session_id, after_seq, lim, created_after, i)
    CROSS JOIN LATERAL (
      SELECT seq, user_id, message_id FROM mailbox
      WHERE session_id = q.session_id AND seq > q.after_seq AND created_at > q.created_after ORDER BY seq LIMIT q.lim) mb
    CROSS JOIN LATERAL (SELECT * FROM messages WHERE message_id = mb.message_id LIMIT 1) m
    ORDER BY q.i, mb.seq`,
} as const;

/**
 * The scale-out store: PostgreSQL through a `pg` connection pool, shared by every node.
 *
 * Writes are batched and take one round trip: `acceptMessages` and `acknowledgeMany` each call one
 * function (migration 3) that runs a fixed number of multi-row statements from `unnest` arrays,
 * whatever the batch size, in the call's own transaction. Mailbox seqs
 * come from an identity sequence that is never reused; writers draw them under a transaction-level
 * advisory lock held to commit, so a reader paging by seq never sees a row appear behind its
 * cursor (without it, two nodes' commits could land out of seq order and a connection would skip
 * the earlier row until its next LIST_PENDING_MESSAGES).
 */
export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  readonly schema: string | undefined;
  private readonly mailboxLock: string;
  private readonly memberships = new ReadBatcher((ids: readonly string[]) => this.readMemberships(ids));
  private readonly pendingReads = new ReadBatcher((reqs: readonly PendingRead[]) => this.readPending(reqs));
  private readonly migrateLock: string;
  private closed = false;

  constructor(opts: PostgresStoreOptions) {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) throw new Error(`schema must match ${SCHEMA_NAME}, got "${opts.schema}"`);
    this.schema = opts.schema;
    const url = splitOptions(opts.connectionString);
    this.pool = new pg.Pool({
      connectionString: url.connectionString,
      max: opts.poolSize ?? 10,
      types,
      application_name: "openblaze",
      // Custom plans only: a generic plan cached while the tables were small (a fresh database, its
      // first minute before autovacuum analyzes) keeps scanning them whole as they grow; on the
      // scale-out bench that was most of PostgreSQL's CPU (BENCHMARKS.md, step 18). Planning these
      // short statements each time costs less than one such scan.
      options: [`-c plan_cache_mode=force_custom_plan`, ...(opts.schema !== undefined ? [`-c search_path=${opts.schema}`] : []), ...url.options].join(" "),
    });
    this.pool.on("error", opts.onPoolError ?? (() => {}));
    this.mailboxLock = lockKey("mailbox", opts.schema);
    this.migrateLock = lockKey("migrate", opts.schema);
  }

  /** BEGIN … COMMIT on one pooled connection; retried whole on deadlock or serialization failure. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await c.query("BEGIN");
        const result = await fn(c);
        await c.query("COMMIT");
        return result;
      } catch (e) {
        await c.query("ROLLBACK").catch((err: Error) => (broken = err));
        if (attempt < 5 && RETRYABLE.has((e as { code?: string }).code ?? "")) continue;
        throw e;
      } finally {
        c.release(broken);
      }
    }
  }

  /** One statement in its own transaction, retried like `tx` on deadlock or serialization failure. */
  private async call<R extends pg.QueryResultRow>(q: pg.QueryConfig): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query<R>(q)).rows;
      } catch (e) {
        if (attempt < 5 && RETRYABLE.has((e as { code?: string }).code ?? "")) continue;
        throw e;
      }
    }
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1::bigint)", [this.migrateLock]);
      if (this.schema !== undefined) {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
        await c.query(`SET LOCAL search_path TO ${this.schema}`);
      }
      await c.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      const { rows } = await c.query<{ version: number }>("SELECT version FROM schema_migrations");
      const applied = new Set(rows.map((r) => r.version));
      for (const m of POSTGRES_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query("INSERT INTO schema_migrations (version) VALUES ($1)", [m.version]);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = $1", [key]);
    return rows[0]?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.pool.query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [key, value]);
    return (await this.getMeta(key))!;
  }

  async createUser(user: Omit<User, "identityNumber" | "createdAt" | "disabled">, session: Omit<Session, "userId" | "createdAt">): Promise<User> {
    const createdAt = nowMicros();
    // One statement, so one implicit transaction: the user never exists without its session.
    const { rows } = await this.pool.query<{ identity_number: number }>(
      `WITH u AS (
         INSERT INTO users (user_id, full_name, is_bot, owner_id, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING user_id, identity_number
       ), s AS (
         INSERT INTO sessions (session_id, user_id, public_key, created_at) SELECT $6, u.user_id, $7, $5 FROM u
       )
       SELECT identity_number FROM u`,
      [user.userId, user.fullName, user.isBot, orNull(user.ownerId), createdAt, session.sessionId, session.publicKey],
    );
    return { ...user, identityNumber: String(rows[0]!.identity_number), createdAt, disabled: false };
  }

  async getUser(userId: string): Promise<User | undefined> {
    if (!isUuid(userId)) return undefined;
    const { rows } = await this.pool.query("SELECT * FROM users WHERE user_id = $1", [userId]);
    return rows[0] && toUser(rows[0]);
  }

  async getUsers(userIds: readonly string[]): Promise<User[]> {
    const ids = uuids(userIds);
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query("SELECT * FROM users WHERE user_id = ANY($1::uuid[])", [ids]);
    return rows.map(toUser);
  }

  async getSession(userId: string, sessionId: string): Promise<Session | undefined> {
    if (!isUuid(userId) || !isUuid(sessionId)) return undefined;
    const { rows } = await this.pool.query("SELECT * FROM sessions WHERE user_id = $1 AND session_id = $2", [userId, sessionId]);
    return rows[0] && toSession(rows[0]);
  }

  async listSessions(userIds: readonly string[]): Promise<Session[]> {
    const ids = uuids(userIds);
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query("SELECT * FROM sessions WHERE user_id = ANY($1::uuid[]) ORDER BY user_id, created_at", [ids]);
    return rows.map(toSession);
  }

  async createConversation(
    c: Omit<Conversation, "createdAt">,
    participants: readonly { userId: string; role: ParticipantRole }[],
  ): Promise<{ conversation: Conversation; created: boolean }> {
    const createdAt = nowMicros();
    return this.tx(async (db) => {
      const inserted = await db.query(
        `INSERT INTO conversations (conversation_id, category, creator_id, name, announcement, code_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (conversation_id) DO NOTHING RETURNING conversation_id`,
        [c.conversationId, c.category, c.creatorId, c.name, c.announcement, c.codeId, createdAt],
      );
      if (inserted.rowCount === 0) {
        // Another transaction created it first (ON CONFLICT waited for it to commit).
        const { rows } = await db.query("SELECT * FROM conversations WHERE conversation_id = $1", [c.conversationId]);
        return { conversation: toConversation(rows[0]!), created: false };
      }
      await this.insertParticipants(db, c.conversationId, participants, createdAt);
      return { conversation: { ...c, createdAt }, created: true };
    });
  }

  /** First occurrence of a user wins, as with row-by-row INSERT OR IGNORE; returns who was added. */
  private async insertParticipants(
    db: pg.PoolClient | pg.Pool,
    conversationId: string,
    participants: readonly { userId: string; role: ParticipantRole }[],
    createdAt: Micros,
  ): Promise<string[]> {
    const first = new Map<string, ParticipantRole>();
    for (const p of participants) if (!first.has(p.userId)) first.set(p.userId, p.role);
    if (first.size === 0) return [];
    const { rows } = await db.query<{ user_id: string }>(
      `INSERT INTO participants (conversation_id, user_id, role, created_at)
       SELECT $1, t.user_id, t.role, $4 FROM unnest($2::uuid[], $3::text[]) AS t(user_id, role)
       ORDER BY t.user_id
       ON CONFLICT DO NOTHING RETURNING user_id`,
      [conversationId, [...first.keys()], [...first.values()], createdAt],
    );
    const added = new Set(rows.map((r) => r.user_id));
    return [...first.keys()].filter((u) => added.has(u));
  }

  async getConversation(conversationId: string): Promise<Conversation | undefined> {
    if (!isUuid(conversationId)) return undefined;
    const { rows } = await this.pool.query("SELECT * FROM conversations WHERE conversation_id = $1", [conversationId]);
    return rows[0] && toConversation(rows[0]);
  }

  async updateConversation(conversationId: string, fields: { name?: string; announcement?: string }): Promise<void> {
    if ((fields.name === undefined && fields.announcement === undefined) || !isUuid(conversationId)) return;
    await this.pool.query(
      "UPDATE conversations SET name = COALESCE($2, name), announcement = COALESCE($3, announcement) WHERE conversation_id = $1",
      [conversationId, fields.name ?? null, fields.announcement ?? null],
    );
  }

  async listParticipants(conversationId: string): Promise<Participant[]> {
    if (!isUuid(conversationId)) return [];
    const { rows } = await this.pool.query("SELECT * FROM participants WHERE conversation_id = $1 ORDER BY created_at, user_id", [conversationId]);
    return rows.map(toParticipant);
  }

  /** Every send asks: batched per event-loop turn (see ReadBatcher). */
  async getMembership(conversationId: string): Promise<Membership | undefined> {
    if (!isUuid(conversationId)) return undefined;
    return this.memberships.get(conversationId);
  }

  /** One query for a turn's lookups: each conversation's row repeated on each participant's. */
  private async readMemberships(conversationIds: readonly string[]): Promise<(Membership | undefined)[]> {
    const { rows } = await this.pool.query({ name: "ob_memberships", text: SQL.memberships, values: [uuidArray(conversationIds)] });
    const found = new Map<string, Membership>();
    for (const r of rows) {
      let m = found.get(r.conversation_id);
      if (!m) found.set(r.conversation_id, (m = { conversation: toConversation(r), participants: [] }));
      if (r.p_user_id !== null) m.participants.push(toParticipant({ conversation_id: r.conversation_id, user_id: r.p_user_id, role: r.p_role, created_at: r.p_created_at }));
    }
    return conversationIds.map((id) => found.get(id));
  }

  async getParticipant(conversationId: string, userId: string): Promise<Participant | undefined> {
    if (!isUuid(conversationId) || !isUuid(userId)) return undefined;
    const { rows } = await this.pool.query("SELECT * FROM participants WHERE conversation_id = $1 AND user_id = $2", [conversationId, userId]);
    return rows[0] && toParticipant(rows[0]);
  }

  async addParticipants(conversationId: string, participants: readonly { userId: string; role: ParticipantRole }[]): Promise<string[]> {
    return this.insertParticipants(this.pool, conversationId, participants, nowMicros());
  }

  async removeParticipants(conversationId: string, userIds: readonly string[]): Promise<string[]> {
    const ids = uuids(userIds);
    if (ids.length === 0 || !isUuid(conversationId)) return [];
    const { rows } = await this.pool.query<{ user_id: string }>(
      "DELETE FROM participants WHERE conversation_id = $1 AND user_id = ANY($2::uuid[]) RETURNING user_id",
      [conversationId, ids],
    );
    const removed = new Set(rows.map((r) => r.user_id));
    return ids.filter((u) => removed.has(u));
  }

  async setRole(conversationId: string, userId: string, role: ParticipantRole): Promise<boolean> {
    if (!isUuid(conversationId) || !isUuid(userId)) return false;
    const r = await this.pool.query("UPDATE participants SET role = $1 WHERE conversation_id = $2 AND user_id = $3", [role, conversationId, userId]);
    return (r.rowCount ?? 0) > 0;
  }

  /**
   * Requests of several items are all or nothing (see Store.acceptMessages). In the common case
   * (no id twice in the batch) one call does it: it fails (STRICT_CONFLICT, nothing written) if an
   * id of a several-item request was already stored. That is rare (a resent batch, a reused id);
   * then the ids' owners are read, the batch is walked in order as the database would take it, and
   * the requests that cannot be stored whole are left out of a second call.
   */
  async acceptMessages(batch: readonly NewMessage[], requestSizes?: readonly number[]): Promise<AcceptOutcome[]> {
    checkRequestSizes(batch, requestSizes);
    if (batch.length === 0) return [];
    const requests = splitRequests(batch, requestSizes);
    if (!requests.some((r) => r.items.length > 1)) return this.acceptItems(batch, undefined);
    if (new Set(batch.map((m) => m.messageId)).size === batch.length) {
      try {
        return await this.acceptItems(batch, requests);
      } catch (e) {
        if ((e as { code?: string }).code !== STRICT_CONFLICT) throw e;
      }
    }
    const owners = await this.messageOwners(batch.map((m) => m.messageId));
    const outcomes: AcceptOutcome[] = new Array(batch.length);
    const live = refuseUnstorable(requests, owners, outcomes);
    const settled = await this.acceptItems(live.flatMap((r) => r.items), undefined);
    let i = 0;
    for (const r of live) for (let k = 0; k < r.items.length; k++) outcomes[r.at + k] = settled[i++]!;
    return outcomes;
  }

  /** One database call; with `strict` (the batch's requests) it fails rather than store part of one. */
  private async acceptItems(batch: readonly NewMessage[], strict: readonly BatchRequest[] | undefined): Promise<AcceptOutcome[]> {
    if (batch.length === 0) return [];
    const createdAt = nowMicros();
    // The first occurrence of an id is the candidate; later ones in the batch resolve against it.
    const candidates = new Map<string, NewMessage>();
    for (const m of batch) if (!candidates.has(m.messageId)) candidates.set(m.messageId, m);
    const cands = [...candidates.values()];
    // Candidates of several-item requests: the call fails if one of them was not created.
    const atomic = new Set<string>();
    for (const r of strict ?? []) if (r.items.length > 1) for (const m of r.items) atomic.add(m.messageId);

    const mailMessages: string[] = [];
    const mailUsers: string[] = [];
    // Each candidate's recipients are mailUsers[from..to] (1-based, inclusive; from = to + 1 for none).
    const rcptFrom: number[] = [];
    const rcptTo: number[] = [];
    for (const m of cands) {
      rcptFrom.push(mailUsers.length + 1);
      for (const r of m.recipientIds.length === 1 ? m.recipientIds : new Set(m.recipientIds)) {
        mailMessages.push(m.messageId);
        mailUsers.push(r);
      }
      rcptTo.push(mailUsers.length);
    }
    // Arrays go in PostgreSQL's binary format (see binary-arrays.ts); ids were validated upstream.
    const rows = await this.call<MessageRow & { found: boolean }>({
      name: "ob_accept_messages_v2",
      text: SQL.acceptMessages,
      values: [
        uuidArray(cands.map((m) => m.messageId)),
        uuidArray(cands.map((m) => m.conversationId)),
        uuidArray(cands.map((m) => m.userId)),
        uuidArray(cands.map((m) => m.sessionId)),
        textArray(cands.map((m) => m.category)),
        byteaArray(cands.map((m) => m.payload)),
        uuidArray(cands.map((m) => orNull(m.representativeId))),
        uuidArray(cands.map((m) => orNull(m.quoteMessageId))),
        boolArray(cands.map((m) => m.silent)),
        int8Array(cands.map((m) => m.expireIn)),
        createdAt,
        uuidArray(mailMessages),
        uuidArray(mailUsers),
        int4Array(rcptFrom),
        int4Array(rcptTo),
        boolArray(cands.map((m) => atomic.has(m.messageId))),
        this.mailboxLock,
      ],
    });
    // Rows come back only for candidates that were not created.
    const notCreated = new Set<string>();
    const existing = new Map<string, StoredMessage>();
    for (const r of rows) {
      notCreated.add(r.message_id);
      if (r.found) existing.set(r.message_id, toMessage(r));
    }

    const firstOutcome = new Map<string, StoredMessage>();
    return batch.map((m): AcceptOutcome => {
      const isCandidate = candidates.get(m.messageId) === m && !firstOutcome.has(m.messageId);
      if (isCandidate && !notCreated.has(m.messageId)) {
        const message = storedMessage(m, createdAt);
        firstOutcome.set(m.messageId, message);
        return { kind: "created", message, deliveredTo: m.recipientIds.length === 1 ? [m.recipientIds[0]!] : [...new Set(m.recipientIds)] };
      }
      const stored = firstOutcome.get(m.messageId) ?? existing.get(m.messageId);
      // Neither created nor found: an expiry removed the holder of the id between the conflict and
      // the read. Refused like a taken id (the others are stored and announced); a resend succeeds.
      if (!stored) return { kind: "conflict" };
      return stored.userId === m.userId && stored.conversationId === m.conversationId ? { kind: "duplicate", message: stored } : { kind: "conflict" };
    });
  }

  async getMessage(messageId: string): Promise<StoredMessage | undefined> {
    if (!isUuid(messageId)) return undefined;
    const { rows } = await this.pool.query<MessageRow>({ name: "ob_messages_by_ids", text: SQL.messagesByIds, values: [[messageId]] });
    return rows[0] && toMessage(rows[0]);
  }

  async messageOwners(messageIds: readonly string[]): Promise<Map<string, MessageOwner>> {
    const ids = messageIds.filter(isUuid);
    const owners = new Map<string, MessageOwner>();
    if (ids.length === 0) return owners;
    const { rows } = await this.pool.query<{ message_id: string; user_id: string; conversation_id: string }>({
      name: "ob_owners_by_ids",
      text: SQL.ownersByIds,
      values: [uuidArray(ids)],
    });
    for (const r of rows) owners.set(r.message_id, { userId: r.user_id, conversationId: r.conversation_id });
    return owners;
  }

  /** Every wake-up asks: batched per event-loop turn (see ReadBatcher). */
  async pendingMessages(userId: string, sessionId: string, afterSeq: number, limit: number, createdAfter?: Micros): Promise<PendingMessage[]> {
    if (!isUuid(userId) || !isUuid(sessionId)) return [];
    return this.pendingReads.get({ userId, sessionId, afterSeq, limit, createdAfter: createdAfter ?? -1 });
  }

  private async readPending(reqs: readonly PendingRead[]): Promise<PendingMessage[][]> {
    const { rows } = await this.pool.query<MessageRow & { i: number; seq: number; owner_id: string }>({
      name: "ob_pending_many",
      text: SQL.pendingMany,
      values: [uuidArray(reqs.map((r) => r.sessionId)), int8Array(reqs.map((r) => r.afterSeq)), int4Array(reqs.map((r) => r.limit)), int8Array(reqs.map((r) => r.createdAfter))],
    });
    const pages: PendingMessage[][] = reqs.map(() => []);
    const owners: string[] = [];
    for (const r of rows) {
      pages[r.i - 1]!.push({ seq: r.seq, message: toMessage(r) });
      owners[r.i - 1] = r.owner_id;
    }
    // A session has one owner: rows of someone else's session are not this reader's.
    return pages.map((page, i) => (page.length > 0 && owners[i] !== reqs[i]!.userId ? [] : page));
  }

  async lastSeq(): Promise<number> {
    const { rows } = await this.pool.query<{ seq: number }>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS seq FROM mailbox_seq");
    return rows[0]?.seq ?? 0;
  }

  async acknowledge(userId: string, sessionId: string, acks: readonly AckInput[]): Promise<AckOutcome[]> {
    return (await this.acknowledgeMany([{ userId, sessionId, acks }]))[0]!;
  }

  /**
   * A fixed number of statements whatever the number of requests: the (user, message) status rows
   * are locked in one query, the requests walked in order over an in-memory copy (later items see
   * earlier ones, across requests too), then one mailbox delete and one status update.
   */
  async acknowledgeMany(requests: readonly AckRequest[]): Promise<AckOutcome[][]> {
    // Rows come back with lower-case uuids; the acker's id is matched like the uuid column would.
    const key = (userId: string, messageId: string) => `${userId.toLowerCase()} ${messageId}`;
    const pairs = new Map<string, [string, string]>();
    for (const r of requests) {
      if (!isUuid(r.userId)) continue;
      for (const a of r.acks) if (isUuid(a.messageId)) pairs.set(key(r.userId, a.messageId), [r.userId, a.messageId]);
    }
    // An acker that is not a user id: forbidden for well-formed ids, unknown otherwise (no query).
    const unqueried = (r: AckRequest) =>
      r.acks.map((a): AckOutcome => (isUuid(a.messageId) ? { kind: "forbidden", messageId: a.messageId } : { kind: "unknown", messageId: a.messageId }));
    if (pairs.size === 0) return requests.map(unqueried);
    const updatedAt = nowMicros();
    // Each pair's final status is the highest rank asked for it (statuses only rise), so the
    // store can apply every ack in the same call that reads the statuses they start from.
    const ranks = new Map<string, number>();
    const deletes = new Map<string, [string, string, string]>();
    for (const r of requests) {
      if (!isUuid(r.userId)) continue;
      for (const a of r.acks) {
        if (!isUuid(a.messageId)) continue;
        const k = key(r.userId, a.messageId);
        ranks.set(k, Math.max(ranks.get(k) ?? 0, STATUS_RANK[a.status]));
        if (isUuid(r.sessionId)) deletes.set(`${r.sessionId} ${k}`, [r.sessionId, r.userId, a.messageId]);
      }
    }
    const pairList = [...pairs];
    const d = [...deletes.values()];
    const rows = await this.call<{ user_id: string; message_id: string; status: number; sender_id: string; conversation_id: string }>({
      name: "ob_acknowledge",
      text: SQL.acknowledge,
      values: [
        uuidArray(uuids(pairList.map(([, [u]]) => u))),
        uuidArray(uuids(pairList.map(([, [, m]]) => m))),
        textArray(pairList.map(([k]) => k)),
        int2Array(pairList.map(([k]) => ranks.get(k)!)),
        uuidArray(uuids(d.map((t) => t[0]))),
        uuidArray(uuids(d.map((t) => t[2]))),
        textArray(d.map((t) => t.join(" ").toLowerCase())),
        updatedAt,
      ],
    });
    const mine = new Map(rows.map((r) => [key(r.user_id, r.message_id), r]));
    // Forbidden or unknown: only acks of someone else's or no message need this second read.
    const missing = uuids(pairList.filter(([k]) => !mine.has(k)).map(([, [, m]]) => m));
    const known = new Set<string>();
    if (missing.length > 0) {
      const r = await this.pool.query<{ message_id: string }>({ name: "ob_known_messages", text: SQL.knownMessages, values: [uuidArray(missing)] });
      for (const row of r.rows) known.add(row.message_id);
    }
    const status = new Map([...mine].map(([k, r]) => [k, r.status]));
    return requests.map((r) => {
      if (!isUuid(r.userId)) return unqueried(r);
      return r.acks.map((a): AckOutcome => {
        const k = key(r.userId, a.messageId);
        const row = mine.get(k);
        if (!row) return known.has(a.messageId) ? { kind: "forbidden", messageId: a.messageId } : { kind: "unknown", messageId: a.messageId };
        const rank = STATUS_RANK[a.status];
        if (status.get(k)! >= rank) return { kind: "unchanged", messageId: a.messageId };
        status.set(k, rank);
        return {
          kind: "advanced",
          messageId: a.messageId,
          senderId: row.sender_id,
          conversationId: row.conversation_id,
          status: STATUS_BY_RANK[rank]!,
          updatedAt,
        };
      });
    });
  }

  async expire(before: Micros): Promise<number> {
    return this.tx(async (db) => {
      // A mailbox row is created with its message (same created_at), so the message's time finds it.
      const removed = await db.query(
        "DELETE FROM mailbox mb USING messages m WHERE m.created_at < $1 AND mb.message_id = m.message_id AND mb.created_at < $1",
        [before],
      );
      await db.query("DELETE FROM message_status st USING messages m WHERE m.message_id = st.message_id AND m.created_at < $1", [before]);
      await db.query("DELETE FROM messages WHERE created_at < $1", [before]);
      return removed.rowCount ?? 0;
    });
  }

  async createAttachment(a: Omit<Attachment, "size" | "uploaded" | "createdAt">): Promise<Attachment> {
    const createdAt = nowMicros();
    await this.pool.query(
      "INSERT INTO attachments (attachment_id, user_id, upload_token, view_token, size, uploaded, created_at) VALUES ($1, $2, $3, $4, 0, false, $5)",
      [a.attachmentId, a.userId, a.uploadToken, a.viewToken, createdAt],
    );
    return { ...a, size: 0, uploaded: false, createdAt };
  }

  async getAttachment(attachmentId: string): Promise<Attachment | undefined> {
    if (!isUuid(attachmentId)) return undefined;
    const { rows } = await this.pool.query("SELECT * FROM attachments WHERE attachment_id = $1", [attachmentId]);
    return rows[0] && toAttachment(rows[0]);
  }

  async getAttachmentByToken(kind: "upload" | "view", token: string): Promise<Attachment | undefined> {
    const column = kind === "upload" ? "upload_token" : "view_token";
    const { rows } = await this.pool.query(`SELECT * FROM attachments WHERE ${column} = $1`, [token]);
    return rows[0] && toAttachment(rows[0]);
  }

  async markUploaded(attachmentId: string, size: number): Promise<void> {
    if (!isUuid(attachmentId)) return;
    await this.pool.query("UPDATE attachments SET size = $1, uploaded = true WHERE attachment_id = $2", [size, attachmentId]);
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async listUsers(limit: number, offset = 0): Promise<User[]> {
    const { rows } = await this.pool.query("SELECT * FROM users ORDER BY identity_number LIMIT $1 OFFSET $2", [limit, offset]);
    return rows.map(toUser);
  }

  async addSession(userId: string, session: Omit<Session, "userId" | "createdAt">): Promise<Session | undefined> {
    if (!isUuid(userId)) return undefined;
    const createdAt = nowMicros();
    const { rowCount } = await this.pool.query(
      "INSERT INTO sessions (session_id, user_id, public_key, created_at) SELECT $1, user_id, $3, $4 FROM users WHERE user_id = $2",
      [session.sessionId, userId, session.publicKey, createdAt],
    );
    return rowCount ? { userId, sessionId: session.sessionId, publicKey: session.publicKey, createdAt } : undefined;
  }

  /** Appends to the revocation log; the table lock makes entries visible in seq order. */
  private async logRevocation(db: pg.PoolClient, userId: string, sessionId: string | null, createdAt: Micros): Promise<void> {
    await db.query("LOCK TABLE revocations IN EXCLUSIVE MODE");
    await db.query("INSERT INTO revocations (user_id, session_id, created_at) VALUES ($1, $2, $3)", [userId, sessionId, createdAt]);
  }

  async revokeSession(sessionId: string): Promise<Session | undefined> {
    if (!isUuid(sessionId)) return undefined;
    const createdAt = nowMicros();
    return this.tx(async (db) => {
      const { rows } = await db.query("DELETE FROM sessions WHERE session_id = $1 RETURNING *", [sessionId]);
      if (!rows[0]) return undefined;
      const session = toSession(rows[0]);
      await db.query("DELETE FROM mailbox WHERE session_id = $1", [sessionId]);
      await this.logRevocation(db, session.userId, sessionId, createdAt);
      return session;
    });
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<boolean> {
    if (!isUuid(userId)) return false;
    const createdAt = nowMicros();
    return this.tx(async (db) => {
      const { rowCount } = await db.query("UPDATE users SET disabled = $2 WHERE user_id = $1", [userId, disabled]);
      if (!rowCount) return false;
      if (disabled) await this.logRevocation(db, userId, null, createdAt);
      return true;
    });
  }

  async revocationsAfter(afterSeq: number, limit: number): Promise<Revocation[]> {
    const { rows } = await this.pool.query({
      name: "ob_revocations_after",
      text: "SELECT seq, user_id, session_id, created_at FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2",
      values: [afterSeq, limit],
    });
    return rows.map((r) => ({ seq: r.seq, userId: r.user_id, sessionId: orEmpty(r.session_id), createdAt: r.created_at }));
  }

  async lastRevocationSeq(): Promise<number> {
    const { rows } = await this.pool.query<{ seq: number | null }>("SELECT max(seq) AS seq FROM revocations");
    return rows[0]?.seq ?? 0;
  }

  async pendingCount(userId?: string): Promise<number> {
    if (userId === undefined) {
      const { rows } = await this.pool.query<{ n: number }>("SELECT count(*) AS n FROM mailbox");
      return rows[0]?.n ?? 0;
    }
    if (!isUuid(userId)) return 0;
    const { rows } = await this.pool.query<{ n: number }>(
      "SELECT count(*) AS n FROM mailbox WHERE session_id IN (SELECT session_id FROM sessions WHERE user_id = $1)",
      [userId],
    );
    return rows[0]?.n ?? 0;
  }
}

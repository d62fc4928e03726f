import type { ConversationCategory, MessageStatus, ParticipantRole } from "@openblaze/protocol";

/** Time in the store is microseconds since the epoch (the precision the wire shows). */
export type Micros = number;

export interface User {
  userId: string;
  identityNumber: string;
  fullName: string;
  isBot: boolean;
  /** The bot (app) that created this network user via POST /users, or "" . */
  ownerId: string;
  createdAt: Micros;
  /** Set by an operator (`openblaze user disable`): the user's tokens are refused. */
  disabled: boolean;
}

export interface Session {
  userId: string;
  sessionId: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  createdAt: Micros;
}

export interface Conversation {
  conversationId: string;
  category: ConversationCategory;
  creatorId: string;
  name: string;
  announcement: string;
  codeId: string;
  createdAt: Micros;
}

export interface Participant {
  conversationId: string;
  userId: string;
  role: ParticipantRole;
  createdAt: Micros;
}

export interface NewMessage {
  messageId: string;
  conversationId: string;
  userId: string;
  sessionId: string;
  category: string;
  payload: Buffer;
  representativeId: string;
  quoteMessageId: string;
  silent: boolean;
  expireIn: number;
  /** Users whose sessions get a mailbox row. */
  recipientIds: readonly string[];
}

/** A message as stored: what was sent, stamped with the time it was accepted. */
export interface Membership {
  conversation: Conversation;
  participants: Participant[];
}

export interface MessageOwner {
  userId: string;
  conversationId: string;
}

export type StoredMessage = Omit<NewMessage, "recipientIds"> & { createdAt: Micros };

/** The stored form of an accepted message (field by field: an object rest copy cost ~5% of a busy batch commit). */
export function storedMessage(m: NewMessage, createdAt: Micros): StoredMessage {
  return {
    messageId: m.messageId,
    conversationId: m.conversationId,
    userId: m.userId,
    sessionId: m.sessionId,
    category: m.category,
    payload: m.payload,
    representativeId: m.representativeId,
    quoteMessageId: m.quoteMessageId,
    silent: m.silent,
    expireIn: m.expireIn,
    createdAt,
  };
}

export type AcceptOutcome =
  | {
      kind: "created";
      message: StoredMessage;
      deliveredTo: string[];
      /**
       * The mailbox rows this accept inserted, in seq order, when the store can say cheaply
       * (SQLite): they let the gateway push to caught-up sockets without reading them back.
       */
      mailbox?: MailboxRow[];
      /**
       * Set by stores whose mailbox seqs number messages, not rows (SQLite: every row of a message
       * has the message's seq, and each stored message takes the next seq, recipients or not). The
       * gateway uses it to tell that it saw every commit (see Gateway.inSequence).
       */
      seq?: number;
    }
  /** Same id, same sender and conversation: the stored message, nothing new delivered. */
  | { kind: "duplicate"; message: StoredMessage }
  /** Same id already used by another sender or conversation. */
  | { kind: "conflict" }
  /** Not stored: another item of the same request is a conflict (see `acceptMessages`). */
  | { kind: "refused" };

/**
 * One inserted mailbox row: `seq` in `sessionId`'s mailbox (of user `userId`). Seqs are unique
 * within a session and grow in acceptance order, never reused; rows of one message in different
 * sessions may share a seq.
 */
export interface MailboxRow {
  userId: string;
  sessionId: string;
  seq: number;
}

/** A mailbox row joined with its message: one thing to push to one session. */
export interface PendingMessage {
  seq: number;
  message: StoredMessage;
}

export interface AckInput {
  messageId: string;
  status: Exclude<MessageStatus, "SENT">;
}

/** One caller's acknowledge() call, for batching many callers into one transaction. */
export interface AckRequest {
  userId: string;
  sessionId: string;
  acks: readonly AckInput[];
}

export type AckOutcome =
  /** Status advanced: tell the sender. */
  | { kind: "advanced"; messageId: string; senderId: string; conversationId: string; status: MessageStatus; updatedAt: Micros }
  /** Known message, acker is a recipient, status already at or past this one. */
  | { kind: "unchanged"; messageId: string }
  /** Unknown or expired message: acking it is a silent success. */
  | { kind: "unknown"; messageId: string }
  /** The acker is not a recipient of this message. */
  | { kind: "forbidden"; messageId: string };

/**
 * One entry of the revocation log: a session revoked, or (sessionId "") a user disabled. Every node
 * follows the log, so a revocation written by any process (the CLI) reaches every node's caches
 * and open sockets.
 */
export interface Revocation {
  seq: number;
  userId: string;
  /** "" when the whole user was disabled. */
  sessionId: string;
  createdAt: Micros;
}

export interface Attachment {
  attachmentId: string;
  userId: string;
  uploadToken: string;
  viewToken: string;
  size: number;
  uploaded: boolean;
  createdAt: Micros;
}

/**
 * Durable state behind every openblaze node. Async throughout so that a networked database can
 * implement it; the contract suite in test/store-contract.ts is what an implementation must pass.
 */
export interface Store {
  migrate(): Promise<void>;
  close(): Promise<void>;

  getMeta(key: string): Promise<string | undefined>;
  setMetaIfAbsent(key: string, value: string): Promise<string>;

  createUser(user: Omit<User, "identityNumber" | "createdAt" | "disabled">, session: Omit<Session, "userId" | "createdAt">): Promise<User>;
  getUser(userId: string): Promise<User | undefined>;
  getUsers(userIds: readonly string[]): Promise<User[]>;
  getSession(userId: string, sessionId: string): Promise<Session | undefined>;
  listSessions(userIds: readonly string[]): Promise<Session[]>;

  /** Creates the conversation with its participants, or returns the existing one untouched. */
  createConversation(conversation: Omit<Conversation, "createdAt">, participants: readonly { userId: string; role: ParticipantRole }[]): Promise<{ conversation: Conversation; created: boolean }>;
  getConversation(conversationId: string): Promise<Conversation | undefined>;
  updateConversation(conversationId: string, fields: { name?: string; announcement?: string }): Promise<void>;
  listParticipants(conversationId: string): Promise<Participant[]>;
  /** The conversation and its participants as of one moment (one read on SQLite, where each costs). */
  getMembership(conversationId: string): Promise<Membership | undefined>;
  getParticipant(conversationId: string, userId: string): Promise<Participant | undefined>;
  /** Returns the users actually added (already-present ones are skipped). */
  addParticipants(conversationId: string, participants: readonly { userId: string; role: ParticipantRole }[]): Promise<string[]>;
  /** Returns the users actually removed. */
  removeParticipants(conversationId: string, userIds: readonly string[]): Promise<string[]>;
  setRole(conversationId: string, userId: string, role: ParticipantRole): Promise<boolean>;

  /**
   * One transaction for the whole batch (group commit); outcomes in input order.
   *
   * `requestSizes` splits the batch into the requests it joins (sizes in order, summing to its
   * length; default: every item alone). A request is stored all or nothing with respect to ids:
   * when one of its items is a conflict (its id held by another sender or conversation, whether
   * stored before or earlier in this batch, its own request included), none of its items is
   * stored; that item's outcome is "conflict" and the others' "refused". Duplicates (same id, sender
   * and conversation) are no conflict. (PostgreSQL, when a batch does hold a
   * conflict, checks before it writes: a request racing a concurrent transaction for one of its ids
   * can then still be partly stored, as it could before stores took requests.)
   */
  acceptMessages(batch: readonly NewMessage[], requestSizes?: readonly number[]): Promise<AcceptOutcome[]>;
  getMessage(messageId: string): Promise<StoredMessage | undefined>;
  /** Sender and conversation of those ids that are already taken (PostgresStore's all-or-nothing check when a batch holds a stored id). */
  messageOwners(messageIds: readonly string[]): Promise<Map<string, MessageOwner>>;
  /** Mailbox rows for one session after `afterSeq`, in acceptance order. */
  pendingMessages(userId: string, sessionId: string, afterSeq: number, limit: number, createdAfter?: Micros): Promise<PendingMessage[]>;
  /** Highest mailbox sequence number handed out so far. */
  lastSeq(): Promise<number>;
  /** Removes the acking session's mailbox rows and raises the per-recipient status (never lowers it). */
  acknowledge(userId: string, sessionId: string, acks: readonly AckInput[]): Promise<AckOutcome[]>;
  /**
   * Several acknowledge() calls in one transaction (group commit of acks): outcomes per request,
   * exactly as if the requests ran one after another in this order.
   */
  acknowledgeMany(requests: readonly AckRequest[]): Promise<AckOutcome[][]>;
  /** Deletes mailbox rows and messages created before `before`; returns mailbox rows removed. */
  expire(before: Micros): Promise<number>;

  createAttachment(attachment: Omit<Attachment, "size" | "uploaded" | "createdAt">): Promise<Attachment>;
  getAttachment(attachmentId: string): Promise<Attachment | undefined>;
  getAttachmentByToken(kind: "upload" | "view", token: string): Promise<Attachment | undefined>;
  markUploaded(attachmentId: string, size: number): Promise<void>;

  // Operations (admin CLI, metrics, health). Revocations take effect on every node: see Revocation.

  /** Throws when the database cannot be reached (readiness checks). */
  ping(): Promise<void>;
  /** Users in identity-number order (oldest first), `limit` from `offset`. */
  listUsers(limit: number, offset?: number): Promise<User[]>;
  /** A new session for an existing user (key rotation); undefined when the user does not exist. */
  addSession(userId: string, session: Omit<Session, "userId" | "createdAt">): Promise<Session | undefined>;
  /** Deletes the session and its mailbox rows and logs a revocation; undefined when unknown. */
  revokeSession(sessionId: string): Promise<Session | undefined>;
  /** Sets or clears `disabled`; disabling logs a revocation. False when the user does not exist. */
  setUserDisabled(userId: string, disabled: boolean): Promise<boolean>;
  /** Revocation log entries after `afterSeq`, oldest first, at most `limit`. */
  revocationsAfter(afterSeq: number, limit: number): Promise<Revocation[]>;
  /** Highest revocation seq so far (0 when none). */
  lastRevocationSeq(): Promise<number>;
  /** Mailbox rows waiting for an ack: all of them, or one user's (every session). */
  pendingCount(userId?: string): Promise<number>;
}

/**
 * Per item of one request (see Store.acceptMessages): is its id held by another sender or
 * conversation, according to `holderOf` (the store, earlier requests of the batch) or to an earlier
 * item of the same request?
 */
export function takenIds(request: readonly NewMessage[], holderOf: (messageId: string) => MessageOwner | undefined): boolean[] {
  const own = new Map<string, MessageOwner>();
  return request.map((m) => {
    const holder = holderOf(m.messageId) ?? own.get(m.messageId);
    if (!holder) own.set(m.messageId, m);
    return holder !== undefined && (holder.userId !== m.userId || holder.conversationId !== m.conversationId);
  });
}

/** The outcomes of a request with taken ids (those "conflict", the rest "refused"); undefined when none is. */
export function refusal(taken: readonly boolean[]): AcceptOutcome[] | undefined {
  if (!taken.includes(true)) return undefined;
  return taken.map((t): AcceptOutcome => (t ? { kind: "conflict" } : { kind: "refused" }));
}

/** One request of a batch (see Store.acceptMessages): its items, starting at `at`. */
export interface BatchRequest {
  at: number;
  items: readonly NewMessage[];
}

/** The batch cut into its requests by `sizes` (checked by checkRequestSizes); without sizes, one per item. */
export function splitRequests(batch: readonly NewMessage[], sizes: readonly number[] | undefined): BatchRequest[] {
  if (!sizes) return batch.map((m, at) => ({ at, items: [m] }));
  const out: BatchRequest[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push({ at, items: batch.slice(at, at + n) });
    at += n;
  }
  return out;
}

/** Throws unless `requestSizes` (when given) are positive integers summing to the batch's length. */
export function checkRequestSizes(batch: readonly unknown[], requestSizes: readonly number[] | undefined): void {
  if (requestSizes === undefined) return;
  let sum = 0;
  for (const n of requestSizes) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`request sizes must be positive integers, got ${n}`);
    sum += n;
  }
  if (sum !== batch.length) throw new RangeError(`request sizes sum to ${sum}, the batch has ${batch.length} items`);
}

export function nowMicros(): Micros {
  return Date.now() * 1000;
}

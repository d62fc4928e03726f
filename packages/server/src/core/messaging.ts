import {
  BlazeError,
  Categories,
  ConversationCategories,
  ErrorCodes,
  Limits,
  Sources,
  buildMessageView,
  formatMicros,
  invalidField,
  isPlainCategory,
  isUuid,
  uniqueConversationId,
  type MessageStatus,
  type PayloadRules,
} from "@openblaze/protocol";
import type { Bus, DeliveredRow } from "../bus/bus.js";
import type { Metrics } from "../metrics.js";
import type { AcceptOutcome, AckInput, Membership, NewMessage, StoredMessage, Store } from "../store/store.js";
import { AckCommitter } from "./ack-committer.js";
import type { GroupCommitter } from "./group-commit.js";
import type { Identity } from "./identity.js";
import type { RateLimiter } from "./rate-limit.js";
import { parseSendBatch, parseSendParams, type SendInput } from "./send-params.js";

export interface SendResult {
  message: StoredMessage;
  /** False when the message_id was already accepted (an idempotent retry). */
  created: boolean;
}

/** Accepting, delivering and acknowledging messages: the rules, none of the transport. */
export class MessagingService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly committer: GroupCommitter,
    private readonly limiter: RateLimiter,
    private readonly rules: PayloadRules,
    private readonly metrics?: Metrics,
    /** Group commit for acknowledgements (one transaction per tick across every socket). */
    private readonly acks: AckCommitter = new AckCommitter(store),
  ) {}

  /** CREATE_MESSAGE and single-object POST /messages. */
  async sendOne(who: Identity, params: unknown): Promise<SendResult> {
    const [result] = await this.send(who, [parseSendParams(params, this.rules)]);
    return result!;
  }

  /**
   * CREATE_PLAIN_MESSAGES (PLAIN_* only) and array POST /messages (PLAIN_*, APP_* and
   * MESSAGE_RECALL: the Node SDK's sendRecall posts its recall as a one-item array).
   */
  async sendBatch(who: Identity, items: unknown, allow: "plain" | "plain-and-app"): Promise<SendResult[]> {
    const accept =
      allow === "plain" ? isPlainCategory : (c: string) => isPlainCategory(c) || c.startsWith("APP_") || c === Categories.MESSAGE_RECALL;
    return this.send(who, parseSendBatch(items, this.rules, Limits.MAX_BATCH, accept));
  }

  private async send(who: Identity, inputs: readonly SendInput[]): Promise<SendResult[]> {
    const messages: NewMessage[] = [];
    // A batch mostly repeats a few conversations: each is read once per request, not once per item.
    const memberships = new Map<string, Promise<Membership>>();
    for (const input of inputs) messages.push(await this.admit(who, input, memberships));
    this.limiter.take(who.userId, messages.length);
    // A batch is all or nothing: the store refuses the whole request when one of its ids is taken
    // by another sender or conversation (Store.acceptMessages).
    const outcomes = await this.committer.submit(messages);
    // Whatever was stored is announced, even when another item then fails the request (a race with
    // another node for the same id, see Store.acceptMessages): stored rows must wake their recipients.
    this.announce(outcomes);
    const conflict = outcomes.findIndex((o) => o.kind === "conflict");
    if (conflict >= 0) throw idTaken(messages[conflict]!, conflict);
    return outcomes.map((o) => {
      if (o.kind === "conflict" || o.kind === "refused") throw new Error(`a ${o.kind} item in a request without a conflict`);
      return { message: o.message, created: o.kind === "created" };
    });
  }

  /**
   * One "mail" event per request, with the new rows and the seqs they took when the store reported
   * them. Sent even when no one is woken if it carries seqs: the gateway counts seqs to tell that
   * it saw every commit.
   */
  private announce(outcomes: readonly AcceptOutcome[]): void {
    const woken = new Set<string>();
    const rows: DeliveredRow[] = [];
    let complete = true;
    let first: number | undefined;
    let last: number | undefined;
    for (const o of outcomes) {
      if (o.kind !== "created") continue;
      for (const u of o.deliveredTo) woken.add(u);
      if (!o.mailbox || o.seq === undefined || (last !== undefined && o.seq !== last + 1)) complete = false;
      if (!complete) continue;
      for (const r of o.mailbox!) rows.push({ ...r, message: o.message });
      first ??= o.seq;
      last = o.seq;
    }
    const seqs = complete && first !== undefined && last !== undefined ? { first, last } : undefined;
    if (woken.size > 0 || seqs) this.bus.publish({ type: "mail", userIds: [...woken], ...(seqs && { rows, seqs }) });
  }

  /** Who may post where (protocol.md §6.5), and who receives it. */
  private async admit(who: Identity, input: SendInput, memberships: Map<string, Promise<Membership>>): Promise<NewMessage> {
    let membership = memberships.get(input.conversationId);
    if (!membership) {
      membership = this.membershipFor(who, input);
      memberships.set(input.conversationId, membership);
    }
    const { conversation, participants } = await membership;
    if (!participants.some((p) => p.userId === who.userId)) {
      throw new BlazeError(ErrorCodes.FORBIDDEN, { field: "conversation_id", reason: "you are not a participant of this conversation" });
    }
    if (input.representativeId !== "" && conversation.category !== ConversationCategories.CONTACT) {
      throw invalidField("representative_id", "representative_id is only allowed in CONTACT conversations");
    }
    let recipientIds: string[];
    if (input.recipientId !== "" && conversation.category === ConversationCategories.GROUP) {
      if (!participants.some((p) => p.userId === input.recipientId)) {
        throw invalidField("recipient_id", "recipient is not a participant of this conversation");
      }
      recipientIds = [input.recipientId];
    } else {
      recipientIds = participants.filter((p) => p.userId !== who.userId).map((p) => p.userId);
      if (input.recipientId !== "" && !recipientIds.includes(input.recipientId) && input.recipientId !== who.userId) {
        throw invalidField("recipient_id", "recipient is not the other party of this conversation");
      }
    }
    return {
      messageId: input.messageId,
      conversationId: conversation.conversationId,
      userId: who.userId,
      sessionId: who.sessionId,
      category: input.category,
      payload: input.payload,
      representativeId: input.representativeId,
      quoteMessageId: input.quoteMessageId,
      silent: input.silent,
      expireIn: input.expireIn,
      recipientIds,
    };
  }

  /**
   * The official SDKs message a user by the derived 1:1 id without creating the conversation first
   * (protocol.md decision 14), so that id creates it on first use.
   */
  private async membershipFor(who: Identity, input: SendInput): Promise<Membership> {
    const existing = await this.store.getMembership(input.conversationId);
    if (existing) return existing;
    if (input.recipientId !== "" && input.recipientId !== who.userId && uniqueConversationId(who.userId, input.recipientId) === input.conversationId) {
      if (!(await this.store.getUser(input.recipientId))) throw new BlazeError(ErrorCodes.USER_NOT_FOUND, { field: "recipient_id", reason: "recipient not found" });
      const { conversation } = await this.store.createConversation(
        { conversationId: input.conversationId, category: "CONTACT", creatorId: who.userId, name: "", announcement: "", codeId: input.conversationId },
        [
          { userId: who.userId, role: "" },
          { userId: input.recipientId, role: "" },
        ],
      );
      return { conversation, participants: await this.store.listParticipants(conversation.conversationId) };
    }
    throw new BlazeError(ErrorCodes.NOT_FOUND, { field: "conversation_id", reason: "conversation not found" });
  }

  /** Server-authored messages (SYSTEM_CONVERSATION) skip client rules but use the same delivery. */
  async sendSystem(message: Omit<NewMessage, "messageId"> & { messageId: string }): Promise<void> {
    this.announce(await this.committer.submit([message]));
  }

  /** WS ACKNOWLEDGE_MESSAGE_RECEIPT(S) and POST /acknowledgements: identical effect. */
  async acknowledge(who: Identity, items: unknown, max = Limits.MAX_BATCH): Promise<void> {
    const acks = parseAcks(items, max);
    const outcomes = await this.acks.submit(who.userId, who.sessionId, acks);
    this.metrics?.acked(outcomes, acks);
    for (const o of outcomes) {
      if (o.kind !== "advanced" || o.senderId === who.userId) continue;
      this.bus.publish({
        type: "receipt",
        userId: o.senderId,
        view: buildMessageView({
          message_id: o.messageId,
          status: o.status,
          source: Sources.ACKNOWLEDGE_MESSAGE_RECEIPT,
          created_at: formatMicros(o.updatedAt),
        }),
      });
    }
    // A sender acking its own message is a no-op, not an error: the Node SDK's syncAck acks the
    // message_id of every frame it handles, receipts for its own messages included.
    for (const o of outcomes) {
      if (o.kind !== "forbidden" || (await this.store.getMessage(o.messageId))?.userId === who.userId) continue;
      throw new BlazeError(ErrorCodes.FORBIDDEN, { field: "message_id", reason: `message ${o.messageId} was not sent to you` });
    }
  }
}

function idTaken(m: NewMessage, index: number): BlazeError {
  return new BlazeError(ErrorCodes.INVALID_FIELD, { field: "message_id", reason: `message_id ${m.messageId} is already used`, index });
}

const ACK_STATUSES: ReadonlySet<string> = new Set<MessageStatus>(["DELIVERED", "READ"]);

function parseAcks(items: unknown, max: number): AckInput[] {
  if (!Array.isArray(items)) throw invalidField("messages", "acknowledgements must be an array");
  if (items.length > max) throw invalidField("messages", `${items.length} acknowledgements, at most ${max}`);
  return items.map((item, index) => {
    const v = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
    if (!isUuid(v.message_id)) throw new BlazeError(ErrorCodes.INVALID_FIELD, { field: "message_id", reason: "message_id is not a valid uuid", index });
    if (typeof v.status !== "string" || !ACK_STATUSES.has(v.status)) {
      throw new BlazeError(ErrorCodes.INVALID_FIELD, { field: "status", reason: "status must be DELIVERED or READ", index });
    }
    return { messageId: v.message_id, status: v.status as AckInput["status"] };
  });
}

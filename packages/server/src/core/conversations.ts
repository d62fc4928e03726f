import {
  BlazeError,
  Categories,
  ConversationCategories,
  ErrorCodes,
  Limits,
  invalidField,
  isUuid,
  newUuid,
  uniqueConversationId,
  type ParticipantRole,
} from "@openblaze/protocol";
import type { Conversation, Participant, Session, Store } from "../store/store.js";
import type { Identity } from "./identity.js";
import type { MessagingService } from "./messaging.js";

export interface ConversationDetails {
  conversation: Conversation;
  participants: Participant[];
  sessions: Session[];
}

type SystemAction = "CREATE" | "ADD" | "REMOVE" | "EXIT" | "ROLE" | "UPDATE";

const MAX_NAME = 512;
const MAX_ANNOUNCEMENT = 1024;

function asObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidField(field, `${field} must be an object`);
  return v as Record<string, unknown>;
}

function parseParticipantList(v: unknown, withRole: boolean): { userId: string; role: ParticipantRole }[] {
  if (!Array.isArray(v)) throw invalidField("participants", "participants must be an array");
  if (v.length > Limits.MAX_GROUP_PARTICIPANTS) throw new BlazeError(ErrorCodes.GROUP_FULL);
  return v.map((item) => {
    const p = asObject(item, "participants");
    if (!isUuid(p.user_id)) throw invalidField("user_id", "participant user_id is not a valid uuid");
    const role = p.role ?? "";
    if (role !== "" && role !== "ADMIN" && !(withRole && role === "OWNER")) throw invalidField("role", "role must be ADMIN or empty");
    return { userId: p.user_id, role: role as ParticipantRole };
  });
}

function optionalText(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || [...v].length > max) throw invalidField(field, `${field} must be a string of at most ${max} characters`);
  return v;
}

/** CONTACT and GROUP conversations, membership and roles (protocol.md §5.3). */
export class ConversationService {
  constructor(
    private readonly store: Store,
    private readonly messaging: MessagingService,
  ) {}

  async create(who: Identity, body: unknown): Promise<ConversationDetails> {
    const b = asObject(body, "body");
    if (b.category === ConversationCategories.CONTACT) return this.createContact(who, b);
    if (b.category === ConversationCategories.GROUP) return this.createGroup(who, b);
    throw invalidField("category", "category must be CONTACT or GROUP");
  }

  private async createContact(who: Identity, b: Record<string, unknown>): Promise<ConversationDetails> {
    const participants = parseParticipantList(b.participants, false);
    if (participants.length !== 1) throw invalidField("participants", "a CONTACT conversation has exactly one other participant");
    const other = participants[0]!.userId;
    if (other === who.userId) throw invalidField("participants", "cannot start a conversation with yourself");
    const expected = uniqueConversationId(who.userId, other);
    if (b.conversation_id !== expected) throw invalidField("conversation_id", `conversation_id must be ${expected}`);
    await this.requireUsers([other]);
    await this.store.createConversation(
      { conversationId: expected, category: "CONTACT", creatorId: who.userId, name: "", announcement: "", codeId: expected },
      [
        { userId: who.userId, role: "" },
        { userId: other, role: "" },
      ],
    );
    return this.details(expected);
  }

  private async createGroup(who: Identity, b: Record<string, unknown>): Promise<ConversationDetails> {
    const conversationId = b.conversation_id === undefined || b.conversation_id === "" ? newUuid() : b.conversation_id;
    if (!isUuid(conversationId)) throw invalidField("conversation_id", "conversation_id is not a valid uuid");
    const name = optionalText(b.name, "name", MAX_NAME) ?? "";
    const announcement = optionalText(b.announcement, "announcement", MAX_ANNOUNCEMENT) ?? "";
    const others = parseParticipantList(b.participants, false).filter((p) => p.userId !== who.userId);
    if (others.length + 1 > Limits.MAX_GROUP_PARTICIPANTS) throw new BlazeError(ErrorCodes.GROUP_FULL);
    await this.requireUsers(others.map((p) => p.userId));
    const existing = await this.store.getConversation(conversationId);
    if (existing) {
      // Creating again is how apps make sure a conversation exists; it must not hijack someone else's.
      if (!(await this.store.getParticipant(conversationId, who.userId))) throw new BlazeError(ErrorCodes.FORBIDDEN);
      return this.details(conversationId);
    }
    const { created } = await this.store.createConversation(
      { conversationId, category: "GROUP", creatorId: who.userId, name, announcement, codeId: newUuid() },
      [{ userId: who.userId, role: "OWNER" }, ...others],
    );
    if (created) await this.announce(conversationId, who, "CREATE", "");
    return this.details(conversationId);
  }

  async get(who: Identity, conversationId: string): Promise<ConversationDetails> {
    if (!isUuid(conversationId)) throw invalidField("conversation_id", "conversation_id is not a valid uuid");
    const details = await this.details(conversationId);
    if (!details.participants.some((p) => p.userId === who.userId)) throw new BlazeError(ErrorCodes.FORBIDDEN);
    return details;
  }

  async update(who: Identity, conversationId: string, body: unknown): Promise<ConversationDetails> {
    const b = asObject(body, "body");
    await this.requireManager(who, conversationId);
    const name = optionalText(b.name, "name", MAX_NAME);
    const announcement = optionalText(b.announcement, "announcement", MAX_ANNOUNCEMENT);
    await this.store.updateConversation(conversationId, { ...(name !== undefined && { name }), ...(announcement !== undefined && { announcement }) });
    await this.announce(conversationId, who, "UPDATE", "");
    return this.details(conversationId);
  }

  async changeParticipants(who: Identity, conversationId: string, action: string, body: unknown): Promise<ConversationDetails> {
    const conversation = await this.requireGroup(conversationId);
    const me = await this.store.getParticipant(conversationId, who.userId);
    if (!me) throw new BlazeError(ErrorCodes.FORBIDDEN);
    const list = parseParticipantList(body, false);
    switch (action) {
      case "ADD": {
        if (me.role === "") throw new BlazeError(ErrorCodes.FORBIDDEN, { reason: "only the owner or an admin can add participants" });
        await this.requireUsers(list.map((p) => p.userId));
        const current = await this.store.listParticipants(conversationId);
        const fresh = list.filter((p) => !current.some((c) => c.userId === p.userId));
        if (current.length + fresh.length > Limits.MAX_GROUP_PARTICIPANTS) throw new BlazeError(ErrorCodes.GROUP_FULL);
        const added = await this.store.addParticipants(conversationId, fresh.map((p) => ({ userId: p.userId, role: "" })));
        for (const u of added) await this.announce(conversationId, who, "ADD", u);
        break;
      }
      case "REMOVE": {
        if (me.role === "") throw new BlazeError(ErrorCodes.FORBIDDEN, { reason: "only the owner or an admin can remove participants" });
        for (const p of list) {
          if (p.userId === conversation.creatorId) throw new BlazeError(ErrorCodes.FORBIDDEN, { reason: "the owner cannot be removed" });
        }
        for (const p of list) {
          // Announce first so the removed user hears it too.
          if (await this.store.getParticipant(conversationId, p.userId)) {
            await this.announce(conversationId, who, "REMOVE", p.userId);
            await this.store.removeParticipants(conversationId, [p.userId]);
          }
        }
        break;
      }
      case "ROLE": {
        if (me.role !== "OWNER") throw new BlazeError(ErrorCodes.FORBIDDEN, { reason: "only the owner can change roles" });
        const roles = parseParticipantList(body, false);
        for (const p of roles) {
          if (p.userId === who.userId) throw invalidField("user_id", "the owner's role cannot change");
          if (await this.store.setRole(conversationId, p.userId, p.role)) await this.announce(conversationId, who, "ROLE", p.userId, p.role);
        }
        break;
      }
      default:
        throw new BlazeError(ErrorCodes.NOT_FOUND, { reason: `unknown participants action ${action}` });
    }
    return this.details(conversationId);
  }

  async exit(who: Identity, conversationId: string): Promise<void> {
    await this.requireGroup(conversationId);
    if (!(await this.store.getParticipant(conversationId, who.userId))) throw new BlazeError(ErrorCodes.FORBIDDEN);
    await this.announce(conversationId, who, "EXIT", who.userId);
    await this.store.removeParticipants(conversationId, [who.userId]);
  }

  async details(conversationId: string): Promise<ConversationDetails> {
    const conversation = await this.store.getConversation(conversationId);
    if (!conversation) throw new BlazeError(ErrorCodes.NOT_FOUND, { field: "conversation_id", reason: "conversation not found" });
    const participants = await this.store.listParticipants(conversationId);
    const sessions = await this.store.listSessions(participants.map((p) => p.userId));
    return { conversation, participants, sessions };
  }

  private async requireGroup(conversationId: string): Promise<Conversation> {
    if (!isUuid(conversationId)) throw invalidField("conversation_id", "conversation_id is not a valid uuid");
    const c = await this.store.getConversation(conversationId);
    if (!c) throw new BlazeError(ErrorCodes.NOT_FOUND, { field: "conversation_id", reason: "conversation not found" });
    if (c.category !== "GROUP") throw invalidField("conversation_id", "not a GROUP conversation");
    return c;
  }

  private async requireManager(who: Identity, conversationId: string): Promise<void> {
    await this.requireGroup(conversationId);
    const me = await this.store.getParticipant(conversationId, who.userId);
    if (!me || me.role === "") throw new BlazeError(ErrorCodes.FORBIDDEN);
  }

  private async requireUsers(userIds: readonly string[]): Promise<void> {
    const found = new Set((await this.store.getUsers(userIds)).map((u) => u.userId));
    const missing = userIds.find((u) => !found.has(u));
    if (missing) throw new BlazeError(ErrorCodes.USER_NOT_FOUND, { field: "user_id", reason: `user ${missing} not found` });
  }

  /** Membership changes reach every participant, the affected user included (protocol.md §6.7). */
  private async announce(conversationId: string, who: Identity, action: SystemAction, participantId: string, role?: ParticipantRole): Promise<void> {
    const participants = await this.store.listParticipants(conversationId);
    const payload: Record<string, string> = { action, participant_id: participantId, user_id: who.userId };
    if (role !== undefined) payload.role = role;
    await this.messaging.sendSystem({
      messageId: newUuid(),
      conversationId,
      userId: who.userId,
      sessionId: who.sessionId,
      category: Categories.SYSTEM_CONVERSATION,
      payload: Buffer.from(JSON.stringify(payload)),
      representativeId: "",
      quoteMessageId: "",
      silent: false,
      expireIn: 0,
      recipientIds: participants.map((p) => p.userId),
    });
  }
}

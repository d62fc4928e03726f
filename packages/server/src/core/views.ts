import { buildMessageView, formatMicros, toBase64UrlRaw, type MessageView, type Source } from "@openblaze/protocol";
import type { Attachment, Conversation, Participant, Session, StoredMessage, User } from "../store/store.js";

const ZERO_TIME = "0001-01-01T00:00:00Z";

export function messageView(m: StoredMessage, source: Source | "", status = "SENT"): MessageView {
  return buildMessageView({
    conversation_id: m.conversationId,
    user_id: m.userId,
    session_id: m.sessionId,
    message_id: m.messageId,
    category: m.category,
    payload: m.payload,
    status,
    source,
    representative_id: m.representativeId,
    quote_message_id: m.quoteMessageId,
    silent: m.silent,
    expire_in: m.expireIn,
    created_at: formatMicros(m.createdAt),
  });
}

/**
 * The reply to the sender's CREATE_MESSAGE: apps recognise "own user_id with empty category and
 * conversation" as the send acknowledgement (protocol.md §3.3).
 */
export function sendAckView(m: StoredMessage): MessageView {
  return buildMessageView({
    user_id: m.userId,
    message_id: m.messageId,
    status: "SENT",
    source: "CREATE_MESSAGE",
    representative_id: m.representativeId,
    quote_message_id: m.quoteMessageId,
    silent: m.silent,
    expire_in: m.expireIn,
    created_at: formatMicros(m.createdAt),
  });
}

export interface UserView {
  type: "user";
  user_id: string;
  identity_number: string;
  full_name: string;
  biography: string;
  avatar_url: string;
  relationship: string;
  mute_until: string;
  created_at: string;
  is_verified: boolean;
  is_scam: boolean;
  is_deactivated: boolean;
  code_id: string;
  code_url: string;
  app_id: string;
  session_id?: string;
  has_pin?: boolean;
  receive_message_source?: string;
  accept_conversation_source?: string;
  accept_search_source?: string;
  fiat_currency?: string;
}

export function userView(u: User, viewerId: string): UserView {
  return {
    type: "user",
    user_id: u.userId,
    identity_number: u.identityNumber,
    full_name: u.fullName,
    biography: "",
    avatar_url: "",
    relationship: u.userId === viewerId ? "ME" : "STRANGER",
    mute_until: ZERO_TIME,
    created_at: formatMicros(u.createdAt),
    is_verified: false,
    is_scam: false,
    is_deactivated: false,
    code_id: "",
    code_url: "",
    app_id: u.isBot ? u.userId : "",
  };
}

/** GET /me adds the account fields of the calling session. */
export function meView(u: User, sessionId: string): UserView {
  return {
    ...userView(u, u.userId),
    session_id: sessionId,
    has_pin: false,
    receive_message_source: "EVERYBODY",
    accept_conversation_source: "EVERYBODY",
    accept_search_source: "EVERYBODY",
    fiat_currency: "USD",
  };
}

export function conversationView(c: Conversation, participants: readonly Participant[], sessions: readonly Session[], publicUrl: string) {
  return {
    type: "conversation",
    conversation_id: c.conversationId,
    creator_id: c.creatorId,
    category: c.category,
    name: c.name,
    icon_url: "",
    announcement: c.announcement,
    created_at: formatMicros(c.createdAt),
    code_id: c.codeId,
    code_url: `${publicUrl}/codes/${c.codeId}`,
    mute_until: ZERO_TIME,
    expire_in: 0,
    participants: participants.map((p) => ({ type: "participant", user_id: p.userId, role: p.role, created_at: formatMicros(p.createdAt) })),
    participant_sessions: sessions.map((s) => ({
      type: "participant",
      user_id: s.userId,
      session_id: s.sessionId,
      public_key: toBase64UrlRaw(s.publicKey),
    })),
    circles: [],
  };
}

export function attachmentView(a: Attachment, publicUrl: string, withUploadUrl: boolean) {
  return {
    type: "attachment",
    attachment_id: a.attachmentId,
    upload_url: withUploadUrl ? `${publicUrl}/uploads/${a.uploadToken}` : "",
    view_url: `${publicUrl}/blobs/${a.viewToken}`,
    created_at: formatMicros(a.createdAt),
  };
}

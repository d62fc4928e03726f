/** Every Blaze action name openblaze speaks or recognises (protocol.md §3.1). */
export const Actions = {
  LIST_PENDING_MESSAGES: "LIST_PENDING_MESSAGES",
  CREATE_MESSAGE: "CREATE_MESSAGE",
  CREATE_PLAIN_MESSAGES: "CREATE_PLAIN_MESSAGES",
  ACKNOWLEDGE_MESSAGE_RECEIPT: "ACKNOWLEDGE_MESSAGE_RECEIPT",
  ACKNOWLEDGE_MESSAGE_RECEIPTS: "ACKNOWLEDGE_MESSAGE_RECEIPTS",
  ERROR: "ERROR",
} as const;
export type Action = (typeof Actions)[keyof typeof Actions];

/** Message categories with a payload shape we validate (protocol.md §4). */
export const Categories = {
  PLAIN_TEXT: "PLAIN_TEXT",
  PLAIN_POST: "PLAIN_POST",
  PLAIN_IMAGE: "PLAIN_IMAGE",
  PLAIN_VIDEO: "PLAIN_VIDEO",
  PLAIN_AUDIO: "PLAIN_AUDIO",
  PLAIN_DATA: "PLAIN_DATA",
  PLAIN_STICKER: "PLAIN_STICKER",
  PLAIN_CONTACT: "PLAIN_CONTACT",
  PLAIN_LIVE: "PLAIN_LIVE",
  PLAIN_LOCATION: "PLAIN_LOCATION",
  PLAIN_TRANSCRIPT: "PLAIN_TRANSCRIPT",
  PLAIN_JSON: "PLAIN_JSON",
  APP_BUTTON_GROUP: "APP_BUTTON_GROUP",
  APP_CARD: "APP_CARD",
  MESSAGE_RECALL: "MESSAGE_RECALL",
  MESSAGE_PIN: "MESSAGE_PIN",
  SYSTEM_CONVERSATION: "SYSTEM_CONVERSATION",
} as const;
export type Category = (typeof Categories)[keyof typeof Categories];

export const MessageStatus = {
  SENT: "SENT",
  DELIVERED: "DELIVERED",
  READ: "READ",
} as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

/** Statuses only move forward (protocol.md §4.6); the rank orders them. */
export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = { SENT: 0, DELIVERED: 1, READ: 2 };

export const Sources = {
  LIST_PENDING_MESSAGES: "LIST_PENDING_MESSAGES",
  CREATE_MESSAGE: "CREATE_MESSAGE",
  ACKNOWLEDGE_MESSAGE_RECEIPT: "ACKNOWLEDGE_MESSAGE_RECEIPT",
} as const;
export type Source = (typeof Sources)[keyof typeof Sources];

export const ConversationCategories = { CONTACT: "CONTACT", GROUP: "GROUP" } as const;
export type ConversationCategory = (typeof ConversationCategories)[keyof typeof ConversationCategories];

export const ParticipantRoles = { OWNER: "OWNER", ADMIN: "ADMIN", MEMBER: "" } as const;
export type ParticipantRole = (typeof ParticipantRoles)[keyof typeof ParticipantRoles];

/** Author of server-generated messages (Android's SYSTEM_USER constant). */
export const SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000000";

/** Subprotocols official clients offer; the server echoes whichever it sees first. */
export const KNOWN_SUBPROTOCOLS = ["Mixin-Blaze-1", "MixinBot-Blaze-1", "Mixin-OAuth-1", "Mixin-Notification-Extension-1"] as const;

/**
 * openblaze extension for browsers, which cannot set `Authorization` on a WebSocket: the Bearer
 * token may ride as an extra `Sec-WebSocket-Protocol` value `openblaze.token.<jwt>` (offered beside
 * `Mixin-Blaze-1`, which is the one echoed) or as the `access_token` query parameter. The token is
 * signed exactly as for the header: `sig = sha256("GET/")`, whatever the query.
 */
export const BROWSER_TOKEN_SUBPROTOCOL_PREFIX = "openblaze.token.";
export const ACCESS_TOKEN_QUERY_PARAM = "access_token";

export const Limits = {
  /** Compressed WS frame cap, checked before inflating. */
  MAX_FRAME_BYTES: 128 * 1024,
  /** Decompressed cap, enforced while inflating (gzip bombs). */
  MAX_INFLATED_BYTES: 1024 * 1024,
  MAX_BATCH: 100,
  MAX_BUTTONS_DEFAULT: 6,
  MAX_BUTTONS_CEILING: 18,
  MAX_GROUP_PARTICIPANTS: 256,
  /** Decoded message body cap (docs: 128 KB). */
  MAX_PAYLOAD_BYTES: 128 * 1024,
} as const;

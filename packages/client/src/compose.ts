import {
  Categories,
  newUuid,
  uniqueConversationId,
  validatePayload,
  type AppCardPayload,
  type AudioPayload,
  type ButtonGroupPayload,
  type DataPayload,
  type ImagePayload,
  type LivePayload,
  type LocationPayload,
  type PayloadRules,
  type PinAction,
  type StickerPayload,
  type VideoPayload,
} from "@openblaze/protocol";

/** A message body ready to send: category plus decoded payload bytes, already validated. */
export interface Outgoing {
  category: string;
  payload: Buffer;
}

/** Whom a message goes to: a user (1:1, conversation derived) or a conversation. */
export type Target = { userId: string } | { conversationId: string; recipientId?: string };

export interface SendOptions {
  /** Reuse across retries: the server dedups on it. Generated when absent. */
  messageId?: string;
  quoteMessageId?: string;
  /** Send on behalf of this user (1:1 conversations only). */
  representativeId?: string;
  silent?: boolean;
  expireIn?: number;
}

/** The CREATE_MESSAGE params / POST /messages item the server expects. */
export interface MessageParams {
  conversation_id: string;
  recipient_id: string;
  message_id: string;
  category: string;
  data_base64: string;
  representative_id?: string;
  quote_message_id?: string;
  silent?: boolean;
  expire_in?: number;
}

function json(category: string, value: unknown, rules?: PayloadRules): Outgoing {
  return check(category, Buffer.from(JSON.stringify(value)), rules);
}

function check(category: string, payload: Buffer, rules?: PayloadRules): Outgoing {
  validatePayload(category, payload, rules);
  return { category, payload };
}

/** Builders for every category a bot may send; each validates before anything leaves the process. */
export const compose = {
  text: (text: string): Outgoing => check(Categories.PLAIN_TEXT, Buffer.from(text)),
  post: (markdown: string): Outgoing => check(Categories.PLAIN_POST, Buffer.from(markdown)),
  image: (p: ImagePayload): Outgoing => json(Categories.PLAIN_IMAGE, p),
  video: (p: VideoPayload): Outgoing => json(Categories.PLAIN_VIDEO, p),
  audio: (p: AudioPayload): Outgoing => json(Categories.PLAIN_AUDIO, p),
  data: (p: DataPayload): Outgoing => json(Categories.PLAIN_DATA, p),
  sticker: (p: StickerPayload): Outgoing => json(Categories.PLAIN_STICKER, p),
  contact: (userId: string): Outgoing => json(Categories.PLAIN_CONTACT, { user_id: userId }),
  buttons: (buttons: ButtonGroupPayload, rules?: PayloadRules): Outgoing => json(Categories.APP_BUTTON_GROUP, buttons, rules),
  card: (card: AppCardPayload, rules?: PayloadRules): Outgoing => json(Categories.APP_CARD, card, rules),
  live: (p: LivePayload): Outgoing => json(Categories.PLAIN_LIVE, p),
  location: (p: LocationPayload): Outgoing => json(Categories.PLAIN_LOCATION, p),
  recall: (messageId: string): Outgoing => json(Categories.MESSAGE_RECALL, { message_id: messageId }),
  pin: (action: PinAction, messageIds: string[]): Outgoing => json(Categories.MESSAGE_PIN, { action, message_ids: messageIds }),
};

/** Fills in ids: a user target becomes the derived 1:1 conversation, as the official SDKs do. */
export function toMessageParams(me: string, target: Target, out: Outgoing, opts: SendOptions = {}): MessageParams {
  const [conversationId, recipientId] =
    "userId" in target ? [uniqueConversationId(me, target.userId), target.userId] : [target.conversationId, target.recipientId ?? ""];
  const params: MessageParams = {
    conversation_id: conversationId,
    recipient_id: recipientId,
    message_id: opts.messageId ?? newUuid(),
    category: out.category,
    data_base64: out.payload.toString("base64url"),
  };
  if (opts.representativeId) params.representative_id = opts.representativeId;
  if (opts.quoteMessageId) params.quote_message_id = opts.quoteMessageId;
  if (opts.silent !== undefined) params.silent = opts.silent;
  if (opts.expireIn !== undefined) params.expire_in = opts.expireIn;
  return params;
}

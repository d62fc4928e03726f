import {
  Actions,
  Categories,
  Limits,
  Sources,
  decodeBase64Lenient,
  validatePayload,
  type AppCardPayload,
  type AudioPayload,
  type ButtonGroupPayload,
  type ContactPayload,
  type DataPayload,
  type ImagePayload,
  type JsonPayload,
  type LivePayload,
  type LocationPayload,
  type MessageView,
  type PayloadRules,
  type PinPayload,
  type RecallPayload,
  type StickerPayload,
  type SystemConversationPayload,
  type TranscriptPayload,
  type VideoPayload,
} from "@openblaze/protocol";

/** Envelope fields every received message carries, camel-cased, plus the view as it arrived. */
export interface ReceivedBase {
  messageId: string;
  conversationId: string;
  /** Who actually sent it (a bot, when it represents someone). */
  userId: string;
  /** The sender's session. */
  sessionId: string;
  /** When set, clients display the message as sent by this user. */
  representativeId: string;
  quoteMessageId: string;
  category: string;
  status: string;
  /** LIST_PENDING_MESSAGES (backlog) or CREATE_MESSAGE (live). */
  source: string;
  silent: boolean;
  expireIn: number;
  createdAt: string;
  updatedAt: string;
  /** The decoded payload bytes. */
  bytes: Buffer;
  /** The MessageView as the server sent it. */
  view: MessageView;
}

/**
 * What each category decodes to. The discriminant is `kind` rather than `category`: a union with
 * a `category: string` raw member would make every `category === "PLAIN_TEXT"` check include it,
 * and no payload type would narrow.
 */
export interface PayloadKinds {
  text: { category: "PLAIN_TEXT"; payload: string };
  post: { category: "PLAIN_POST"; payload: string };
  image: { category: "PLAIN_IMAGE"; payload: ImagePayload };
  video: { category: "PLAIN_VIDEO"; payload: VideoPayload };
  audio: { category: "PLAIN_AUDIO"; payload: AudioPayload };
  data: { category: "PLAIN_DATA"; payload: DataPayload };
  sticker: { category: "PLAIN_STICKER"; payload: StickerPayload };
  contact: { category: "PLAIN_CONTACT"; payload: ContactPayload };
  live: { category: "PLAIN_LIVE"; payload: LivePayload };
  location: { category: "PLAIN_LOCATION"; payload: LocationPayload };
  transcript: { category: "PLAIN_TRANSCRIPT"; payload: TranscriptPayload };
  json: { category: "PLAIN_JSON"; payload: JsonPayload };
  buttons: { category: "APP_BUTTON_GROUP"; payload: ButtonGroupPayload };
  card: { category: "APP_CARD"; payload: AppCardPayload };
  recall: { category: "MESSAGE_RECALL"; payload: RecallPayload };
  pin: { category: "MESSAGE_PIN"; payload: PinPayload };
  system_conversation: { category: "SYSTEM_CONVERSATION"; payload: SystemConversationPayload };
}

export type MessageKind = keyof PayloadKinds;

export type TypedMessage<K extends MessageKind = MessageKind> = K extends MessageKind ? ReceivedBase & { kind: K } & PayloadKinds[K] : never;

/**
 * Anything we cannot type: an unknown or encrypted category, or a payload that fails validation.
 * Surfaced, never thrown: one bad message must not stop a bot.
 */
export interface RawMessage extends ReceivedBase {
  kind: "raw";
  payload: undefined;
  /** Why it is raw. */
  reason: string;
  /** The payload parsed as JSON, when it is JSON (e.g. SYSTEM_*_SNAPSHOT, which we do not model). */
  json?: unknown;
}

export type ReceivedMessage = TypedMessage | RawMessage;
export type SystemConversationMessage = TypedMessage<"system_conversation">;

const KIND_BY_CATEGORY: Readonly<Record<string, MessageKind>> = {
  [Categories.PLAIN_TEXT]: "text",
  [Categories.PLAIN_POST]: "post",
  [Categories.PLAIN_IMAGE]: "image",
  [Categories.PLAIN_VIDEO]: "video",
  [Categories.PLAIN_AUDIO]: "audio",
  [Categories.PLAIN_DATA]: "data",
  [Categories.PLAIN_STICKER]: "sticker",
  [Categories.PLAIN_CONTACT]: "contact",
  [Categories.PLAIN_LIVE]: "live",
  [Categories.PLAIN_LOCATION]: "location",
  [Categories.PLAIN_TRANSCRIPT]: "transcript",
  [Categories.PLAIN_JSON]: "json",
  [Categories.APP_BUTTON_GROUP]: "buttons",
  [Categories.APP_CARD]: "card",
  [Categories.MESSAGE_RECALL]: "recall",
  [Categories.MESSAGE_PIN]: "pin",
  [Categories.SYSTEM_CONVERSATION]: "system_conversation",
};

// Be liberal in what we accept: a server configured for 18 buttons must not make our bot see raw.
const RECEIVE_RULES: PayloadRules = { maxButtons: Limits.MAX_BUTTONS_CEILING };

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Cheap shape check: is this a pushed message view at all (not a send reply, not junk)? */
export function isMessageView(v: unknown): v is MessageView {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return typeof o.message_id === "string" && o.message_id !== "" && typeof o.category === "string" && o.category !== "";
}

/** Decodes a pushed MessageView into the typed union. Never throws. */
export function decodeMessage(view: MessageView): ReceivedMessage {
  let bytes: Buffer;
  let bytesError: string | undefined;
  try {
    // data_base64 is what the Go SDK reads since 2024; data is the older, always-present twin.
    const encoded = str(view.data_base64) !== "" ? view.data_base64 : str(view.data);
    bytes = decodeBase64Lenient(encoded, "data");
  } catch {
    bytes = Buffer.alloc(0);
    bytesError = "data is not valid base64";
  }
  const base: ReceivedBase = {
    messageId: view.message_id,
    conversationId: str(view.conversation_id),
    userId: str(view.user_id),
    sessionId: str(view.session_id),
    representativeId: str(view.representative_id),
    quoteMessageId: str(view.quote_message_id),
    category: view.category,
    status: str(view.status),
    source: str(view.source),
    silent: view.silent === true,
    expireIn: typeof view.expire_in === "number" ? view.expire_in : 0,
    createdAt: str(view.created_at),
    updatedAt: str(view.updated_at),
    bytes,
    view,
  };
  const kind = Object.hasOwn(KIND_BY_CATEGORY, view.category) ? KIND_BY_CATEGORY[view.category] : undefined;
  if (bytesError) return raw(base, bytesError);
  if (!kind) return raw(base, `category ${view.category} is not one we decode`);
  try {
    validatePayload(view.category, bytes, RECEIVE_RULES);
  } catch (e) {
    return raw(base, (e as Error).message);
  }
  const payload = kind === "text" || kind === "post" ? bytes.toString("utf8") : (JSON.parse(bytes.toString("utf8")) as unknown);
  return { ...base, kind, payload } as TypedMessage;
}

function raw(base: ReceivedBase, reason: string): RawMessage {
  const message: RawMessage = { ...base, kind: "raw", payload: undefined, reason };
  try {
    if (base.bytes.length > 0) message.json = JSON.parse(base.bytes.toString("utf8"));
  } catch {
    // Not JSON: the bytes are all there is.
  }
  return message;
}

/** A status receipt: one of our messages was DELIVERED or READ. Best effort, never acked. */
export interface MessageReceipt {
  messageId: string;
  status: string;
  /** Often "" on receipts (Android notes an empty conversation id). */
  conversationId: string;
  updatedAt: string;
  view: MessageView;
}

/** Receipts are recognised by frame action (apps, fox-one) or by data.source (Go, Node): real frames may carry either. */
export function asReceipt(action: string, data: unknown): MessageReceipt | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const view = data as MessageView;
  if (action !== Actions.ACKNOWLEDGE_MESSAGE_RECEIPT && view.source !== Sources.ACKNOWLEDGE_MESSAGE_RECEIPT) return undefined;
  if (typeof view.message_id !== "string" || view.message_id === "") return undefined;
  return {
    messageId: view.message_id,
    status: str(view.status),
    conversationId: str(view.conversation_id),
    updatedAt: str(view.updated_at) || str(view.created_at),
    view,
  };
}

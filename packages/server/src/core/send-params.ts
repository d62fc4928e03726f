import {
  BlazeError,
  decodeBase64Lenient,
  invalidField,
  isClientSendable,
  isUuid,
  validatePayload,
  type PayloadRules,
} from "@openblaze/protocol";

/** One message a client asked to send, checked field by field. */
export interface SendInput {
  conversationId: string;
  recipientId: string;
  messageId: string;
  category: string;
  payload: Buffer;
  representativeId: string;
  quoteMessageId: string;
  silent: boolean;
  expireIn: number;
}

function optionalUuid(v: Record<string, unknown>, key: string): string {
  const value = v[key];
  if (value === undefined || value === null || value === "") return "";
  if (!isUuid(value)) throw invalidField(key, `${key} is not a valid uuid`);
  return value;
}

function requiredUuid(v: Record<string, unknown>, key: string): string {
  if (!isUuid(v[key])) throw invalidField(key, `${key} is not a valid uuid`);
  return v[key] as string;
}

/** CREATE_MESSAGE params and POST /messages items share this shape (protocol.md §3.3). */
export function parseSendParams(value: unknown, rules: PayloadRules): SendInput {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidField("params", "message is not an object");
  const v = value as Record<string, unknown>;
  const conversationId = requiredUuid(v, "conversation_id");
  const messageId = requiredUuid(v, "message_id");
  const recipientId = optionalUuid(v, "recipient_id");
  const representativeId = optionalUuid(v, "representative_id");
  const quoteMessageId = optionalUuid(v, "quote_message_id");
  if (typeof v.category !== "string" || v.category === "") throw invalidField("category", "category is required");
  if (!isClientSendable(v.category)) throw invalidField("category", `category ${v.category} cannot be sent`);
  // Go sends data_base64, the apps and older Node send data; either alphabet, padded or not.
  const field = typeof v.data_base64 === "string" && v.data_base64 !== "" ? "data_base64" : "data";
  const encoded = v[field];
  if (typeof encoded !== "string" || encoded === "") throw invalidField("data", "data is required");
  const payload = decodeBase64Lenient(encoded, field);
  validatePayload(v.category, payload, rules);
  if (v.silent !== undefined && v.silent !== null && typeof v.silent !== "boolean") throw invalidField("silent", "silent must be a boolean");
  const expireIn = v.expire_in ?? 0;
  if (typeof expireIn !== "number" || !Number.isSafeInteger(expireIn) || expireIn < 0) {
    throw invalidField("expire_in", "expire_in must be a non-negative integer");
  }
  return {
    conversationId,
    recipientId,
    messageId,
    category: v.category,
    payload,
    representativeId,
    quoteMessageId,
    silent: v.silent === true,
    expireIn,
  };
}

/** Batches validate atomically: the first bad item fails all, naming its index. */
export function parseSendBatch(items: unknown, rules: PayloadRules, max: number, allow: (category: string) => boolean): SendInput[] {
  if (!Array.isArray(items)) throw invalidField("messages", "messages must be an array");
  if (items.length === 0) throw invalidField("messages", "messages is empty");
  if (items.length > max) throw invalidField("messages", `${items.length} messages, at most ${max}`);
  const seen = new Set<string>();
  return items.map((item, index) => {
    let input: SendInput;
    try {
      input = parseSendParams(item, rules);
      if (!allow(input.category)) throw invalidField("category", `category ${input.category} is not allowed in a batch`);
    } catch (e) {
      if (e instanceof BlazeError && e.extra) throw new BlazeError(e.code as 10002, { ...e.extra, index });
      throw e;
    }
    if (seen.has(input.messageId)) throw new BlazeError(10002, { field: "message_id", reason: "duplicate message_id in batch", index });
    seen.add(input.messageId);
    return input;
  });
}

import { toBase64Std, toBase64UrlRaw } from "./base64.js";
import type { Source } from "./names.js";

/**
 * A message as the server shows it. Every string field is always present ("" when empty): iOS
 * and the Dart SDK decode them as required non-null strings (protocol.md §3.4).
 */
export interface MessageView {
  type: "message";
  conversation_id: string;
  user_id: string;
  session_id: string;
  message_id: string;
  category: string;
  data: string;
  data_base64: string;
  status: string;
  source: string;
  representative_id: string;
  quote_message_id: string;
  silent: boolean;
  expire_in: number;
  created_at: string;
  updated_at: string;
}

export interface MessageViewInput {
  conversation_id?: string;
  user_id?: string;
  session_id?: string;
  message_id: string;
  category?: string;
  payload?: Uint8Array;
  status: string;
  source?: Source | "";
  representative_id?: string;
  quote_message_id?: string;
  silent?: boolean;
  expire_in?: number;
  created_at: string;
  updated_at?: string;
}

export function buildMessageView(m: MessageViewInput): MessageView {
  const payload = m.payload ?? new Uint8Array(0);
  return {
    type: "message",
    conversation_id: m.conversation_id ?? "",
    user_id: m.user_id ?? "",
    session_id: m.session_id ?? "",
    message_id: m.message_id,
    category: m.category ?? "",
    data: toBase64Std(payload),
    data_base64: toBase64UrlRaw(payload),
    status: m.status,
    source: m.source ?? "",
    representative_id: m.representative_id ?? "",
    quote_message_id: m.quote_message_id ?? "",
    silent: m.silent ?? false,
    expire_in: m.expire_in ?? 0,
    created_at: m.created_at,
    updated_at: m.updated_at ?? m.created_at,
  };
}

/** RFC 3339 UTC with microseconds, the precision the real service shows. */
export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2024-05-01T08:30:00.123Z
  const sub = String(micros % 1000).padStart(3, "0");
  return `${iso.slice(0, 23)}${sub}Z`;
}

/**
 * Parses an RFC 3339 timestamp with optional fraction (up to ns) and optional zone (UTC when
 * absent, as Flutter may send) into microseconds. Returns undefined when unparseable.
 */
export function parseTimestampMicros(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (!m) return undefined;
  const zone = m[3] === undefined || m[3].toUpperCase() === "Z" ? "Z" : m[3];
  const ms = Date.parse(`${m[1]!.replace(" ", "T")}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return ms * 1000 + Number(frac);
}

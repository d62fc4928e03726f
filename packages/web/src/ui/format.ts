import type {
  AppCardPayload,
  ButtonPayload,
  ContactPayload,
  DataPayload,
  LocationPayload,
  SystemConversationPayload,
} from "@openblaze/protocol/browser";
import { payloadJson, payloadText, type Chat, type LocalMessage } from "../chat.js";

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" });
}

export function formatClock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Duration fields are milliseconds per the docs, though some senders use seconds. */
export function formatDuration(value: number): string {
  if (!Number.isFinite(value) || value <= 0) return "";
  const seconds = value > 1000 ? Math.round(value / 1000) : Math.round(value);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function isColor(c: unknown): c is string {
  return typeof c === "string" && /^#[0-9a-fA-F]{6}$/.test(c);
}

export function isButton(b: unknown): b is ButtonPayload {
  const x = b as ButtonPayload;
  return typeof x === "object" && x !== null && typeof x.label === "string" && typeof x.action === "string";
}

/** Only http(s) links become clickable; anything else (javascript:, data:) stays text. */
export function safeHttpUrl(u: unknown): string | undefined {
  if (typeof u !== "string") return undefined;
  try {
    const url = new URL(u);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function systemText(chat: Chat, m: LocalMessage): string {
  const p = payloadJson<SystemConversationPayload>(m);
  if (!p) return "Group updated";
  const actor = chat.userName(p.user_id || m.user_id);
  const who = p.participant_id ? chat.userName(p.participant_id) : "";
  switch (p.action) {
    case "CREATE":
      return `${actor} created the group`;
    case "ADD":
      return `${actor} added ${who}`;
    case "REMOVE":
      return `${actor} removed ${who}`;
    case "JOIN":
      return `${who || actor} joined`;
    case "EXIT":
      return `${who || actor} left`;
    case "ROLE":
      return p.role === "ADMIN" ? `${actor} made ${who} an admin` : `${actor} changed ${who}'s role`;
    case "UPDATE":
      return `${actor} updated the group`;
    case "EXPIRE":
      return `${actor} changed disappearing messages`;
    default:
      return "Group updated";
  }
}

/** One line for the conversation list. */
export function preview(chat: Chat, m: LocalMessage | undefined): string {
  if (!m) return "";
  if (m.recalled) return "Message deleted";
  switch (m.category) {
    case "PLAIN_TEXT":
    case "PLAIN_POST":
      return payloadText(m).replace(/\s+/g, " ").slice(0, 120);
    case "PLAIN_IMAGE":
      return "Photo";
    case "PLAIN_VIDEO":
      return "Video";
    case "PLAIN_AUDIO":
      return "Voice message";
    case "PLAIN_DATA":
      return `File: ${payloadJson<DataPayload>(m)?.name || "file"}`;
    case "PLAIN_STICKER":
      return "Sticker";
    case "PLAIN_CONTACT":
      return `Contact: ${chat.userName(payloadJson<ContactPayload>(m)?.user_id ?? "")}`;
    case "PLAIN_LIVE":
      return "Live stream";
    case "PLAIN_LOCATION":
      return `Location: ${payloadJson<LocationPayload>(m)?.name || "shared"}`;
    case "PLAIN_TRANSCRIPT":
      return "Transcript";
    case "APP_BUTTON_GROUP":
      return `Buttons: ${(payloadJson<ButtonPayload[]>(m) ?? []).map((b) => b.label).join(", ")}`.slice(0, 120);
    case "APP_CARD":
      return `Card: ${payloadJson<AppCardPayload>(m)?.title ?? ""}`;
    case "MESSAGE_PIN":
      return "Pinned a message";
    case "SYSTEM_CONVERSATION":
      return systemText(chat, m);
    default:
      return m.category;
  }
}

const PALETTE = ["#e57373", "#f06292", "#ba68c8", "#7986cb", "#4fc3f7", "#4db6ac", "#81c784", "#ffb74d", "#a1887f", "#90a4ae"];

export function avatarColor(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

export function initials(name: string): string {
  const parts = name.replace(/[^\p{L}\p{N} ]/gu, " ").trim().split(/\s+/).filter(Boolean);
  const first = [...(parts[0] ?? "?")][0]!;
  return (parts.length >= 2 ? first + [...parts[1]!][0]! : first).toUpperCase();
}

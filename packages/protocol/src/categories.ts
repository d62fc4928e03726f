import { invalidField } from "./errors.js";
import { Categories, Limits, ParticipantRoles } from "./names.js";
import type { ParticipantRole } from "./names.js";
import { decodeBase64Lenient } from "./base64.js";
import { isUuid } from "./uuid.js";

// ---------------------------------------------------------------------------------------------
// Decoded payload shapes (protocol.md §4). Optional fields may also arrive as `null`: Flutter's
// json_serializable writes nulls by default, so the validator treats null like absent.
// ---------------------------------------------------------------------------------------------

export type TextPayload = string;
/** Markdown text. */
export type PostPayload = string;

/** Fields shared by every attachment-bearing payload. */
export interface AttachmentPayloadBase {
  attachment_id: string;
  mime_type: string;
  size: number;
  /** Only set when the attachment bytes are encrypted (SIGNAL/ENCRYPTED variants). */
  key?: string;
  digest?: string;
  created_at?: string;
}

export interface ImagePayload extends AttachmentPayloadBase {
  width: number;
  height: number;
  /** Base64 of a small preview image. */
  thumbnail?: string;
  caption?: string;
}

export interface VideoPayload extends ImagePayload {
  /** Milliseconds. */
  duration: number;
}

export interface AudioPayload extends AttachmentPayloadBase {
  /** Milliseconds. */
  duration: number;
  /** Base64 of unsigned 8-bit samples; the docs and Android spell it `waveform`. */
  waveform?: string;
  /** The same, as the Node SDK and fox-one spell it. */
  wave_form?: string;
}

export interface DataPayload extends AttachmentPayloadBase {
  name: string;
}

export interface StickerIdPayload {
  sticker_id: string;
}
/** The older form, still understood by the apps. */
export interface StickerAlbumPayload {
  name: string;
  album_id: string;
}
export type StickerPayload = StickerIdPayload | StickerAlbumPayload;

export interface ContactPayload {
  user_id: string;
}

export interface LivePayload {
  width: number;
  height: number;
  thumb_url: string;
  url: string;
  /** `false` forbids forwarding. */
  shareable?: boolean;
}

export interface LocationPayload {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
  venue_type?: string;
}

/** One message quoted in a transcript; every field is optional on the wire. */
export interface TranscriptEntry {
  transcript_id?: string;
  message_id?: string;
  user_id?: string;
  user_full_name?: string;
  category?: string;
  content?: string;
  media_url?: string;
  media_name?: string;
  media_size?: number;
  media_width?: number;
  media_height?: number;
  media_duration?: number;
  media_mime_type?: string;
  media_status?: string;
  media_waveform?: string;
  media_key?: string;
  media_digest?: string;
  media_created_at?: string;
  thumb_image?: string;
  thumb_url?: string;
  sticker_id?: string;
  shared_user_id?: string;
  mentions?: string;
  quote_id?: string;
  quote_content?: string;
  caption?: string;
  created_at?: string;
  [key: string]: unknown;
}
export type TranscriptPayload = TranscriptEntry[];

/** Device-to-device control messages; the server only needs `action`. */
export interface JsonPayload {
  action: string;
  [key: string]: unknown;
}

export interface ButtonPayload {
  label: string;
  /** `#RRGGBB`. */
  color: string;
  /** A URL (https or mixin:// scheme) or an input action. */
  action: string;
}
export type ButtonGroupPayload = ButtonPayload[];

export interface AppCardCover {
  url: string;
  mime_type?: string;
  width?: number;
  height?: number;
  thumbnail?: string;
}

interface AppCardBase {
  app_id: string;
  title: string;
  description: string;
  icon_url?: string;
}

/** With `action` set, clients render the old style and ignore cover and actions. */
export interface LegacyAppCardPayload extends AppCardBase {
  action: string;
}

export interface CurrentAppCardPayload extends AppCardBase {
  cover_url?: string;
  cover?: AppCardCover;
  actions?: ButtonPayload[];
  shareable?: boolean;
  updated_at?: string;
}

export type AppCardPayload = LegacyAppCardPayload | CurrentAppCardPayload;

export interface RecallPayload {
  message_id: string;
}

export type PinAction = "PIN" | "UNPIN";
export interface PinPayload {
  action: PinAction;
  message_ids: string[];
}

export const SystemConversationActions = ["CREATE", "ADD", "REMOVE", "JOIN", "EXIT", "ROLE", "UPDATE", "EXPIRE"] as const;
export type SystemConversationAction = (typeof SystemConversationActions)[number];

export interface SystemConversationPayload {
  action: SystemConversationAction;
  /** The member the change is about; `""` for conversation-wide actions. */
  participant_id: string;
  /** The actor; clients default it to the message's `user_id`. */
  user_id?: string;
  role?: ParticipantRole;
  expire_in?: number;
}

// ---------------------------------------------------------------------------------------------
// Category sets
// ---------------------------------------------------------------------------------------------

export interface PayloadRules {
  /** Buttons allowed in APP_BUTTON_GROUP and APP_CARD `actions`; 6 per docs, up to 18 (Go SDK). */
  maxButtons: number;
}

export const DEFAULT_PAYLOAD_RULES: PayloadRules = Object.freeze({ maxButtons: Limits.MAX_BUTTONS_DEFAULT });

const KNOWN = new Set<string>(Object.values(Categories));

// The server cannot read these bodies (end-to-end encrypted), so it relays them opaquely.
const PASS_THROUGH = /^(?:ENCRYPTED|SIGNAL)_[A-Z0-9_]+$/;

function isPassThrough(category: string): boolean {
  return PASS_THROUGH.test(category);
}

/** Categories a client (user or bot) may send with CREATE_MESSAGE / POST /messages. */
export function isClientSendable(category: string): boolean {
  if (isPassThrough(category)) return true;
  // SYSTEM_* are authored by the server only; letting clients forge them would spoof membership changes.
  return KNOWN.has(category) && !category.startsWith("SYSTEM_");
}

/** CREATE_PLAIN_MESSAGES accepts PLAIN_* only. */
export function isPlainCategory(category: string): boolean {
  return KNOWN.has(category) && category.startsWith("PLAIN_");
}

// ---------------------------------------------------------------------------------------------
// Field helpers. All failures are 10002 on `data`, with the offending JSON path in the reason.
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function fail(reason: string): never {
  throw invalidField("data", reason);
}

function path(at: string, key: string): string {
  return at ? `${at}.${key}` : key;
}

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Own properties only, so a payload lacking `constructor` doesn't read Object.prototype's.
function get(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function isAbsent(v: unknown): boolean {
  return v === undefined || v === null;
}

/** Labels and titles are limited in characters as users see them, not UTF-16 units. */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function requireString(o: Obj, key: string, at = "", min = 0, max = Infinity): string {
  const v = get(o, key);
  const name = path(at, key);
  if (typeof v !== "string") fail(`${name} must be a string`);
  const n = codePoints(v);
  if (n < min) fail(min === 1 ? `${name} must not be empty` : `${name} has ${n} characters, at least ${min}`);
  if (n > max) fail(`${name} has ${n} characters, at most ${max}`);
  return v;
}

function requireNonEmptyString(o: Obj, key: string, at = ""): string {
  return requireString(o, key, at, 1);
}

function optionalString(o: Obj, key: string, at = ""): void {
  if (!isAbsent(get(o, key))) requireString(o, key, at);
}

function optionalBoolean(o: Obj, key: string, at = ""): void {
  const v = get(o, key);
  if (!isAbsent(v) && typeof v !== "boolean") fail(`${path(at, key)} must be a boolean`);
}

function requireUuid(o: Obj, key: string, at = ""): string {
  const v = get(o, key);
  if (!isUuid(v)) fail(`${path(at, key)} must be a lower-case UUID`);
  return v;
}

function requireInt(o: Obj, key: string, min: 0 | 1, at = ""): number {
  const v = get(o, key);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    fail(`${path(at, key)} must be a ${min === 1 ? "positive" : "non-negative"} integer`);
  }
  return v;
}

function optionalInt(o: Obj, key: string, min: 0 | 1, at = ""): void {
  if (!isAbsent(get(o, key))) requireInt(o, key, min, at);
}

function requireNumber(o: Obj, key: string, min: number, max: number, at = ""): number {
  const v = get(o, key);
  const name = path(at, key);
  if (typeof v !== "number" || !Number.isFinite(v)) fail(`${name} must be a number`);
  if (v < min || v > max) fail(`${name} ${v} is outside [${min}, ${max}]`);
  return v;
}

function requireBase64(o: Obj, key: string, at = ""): void {
  const v = requireString(o, key, at);
  try {
    decodeBase64Lenient(v, key);
  } catch {
    fail(`${path(at, key)} is not valid base64`);
  }
}

function optionalBase64(o: Obj, key: string, at = ""): void {
  if (!isAbsent(get(o, key))) requireBase64(o, key, at);
}

// ---------------------------------------------------------------------------------------------
// Payload decoding
// ---------------------------------------------------------------------------------------------

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function decodeText(payload: Buffer, what: string): string {
  try {
    return UTF8.decode(payload);
  } catch {
    return fail(`${what} is not valid UTF-8`);
  }
}

function parseJson(payload: Buffer): unknown {
  const text = decodeText(payload, "payload");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail("payload is not valid JSON");
  }
}

function parseObject(payload: Buffer): Obj {
  const v = parseJson(payload);
  if (!isObject(v)) fail("payload must be a JSON object");
  return v;
}

function parseArray(payload: Buffer): unknown[] {
  const v = parseJson(payload);
  if (!Array.isArray(v)) fail("payload must be a JSON array");
  return v;
}

// ---------------------------------------------------------------------------------------------
// Per-category validators
// ---------------------------------------------------------------------------------------------

function checkText(payload: Buffer): void {
  // A lone BOM decodes to "" and would render as an empty bubble.
  if (decodeText(payload, "text").length === 0) fail("text is empty");
}

function checkAttachment(o: Obj): void {
  requireUuid(o, "attachment_id");
  requireNonEmptyString(o, "mime_type");
  requireInt(o, "size", 0);
  optionalString(o, "key");
  optionalString(o, "digest");
  optionalString(o, "created_at");
}

function checkImage(o: Obj): void {
  checkAttachment(o);
  requireInt(o, "width", 1);
  requireInt(o, "height", 1);
  optionalString(o, "thumbnail");
  optionalString(o, "caption");
}

function checkVideo(o: Obj): void {
  checkImage(o);
  // Duration units differ between docs (ms) and examples (seconds), so any non-negative number.
  requireNumber(o, "duration", 0, Infinity);
}

function checkAudio(o: Obj): void {
  checkAttachment(o);
  requireNumber(o, "duration", 0, Infinity);
  // Both spellings circulate (protocol.md §8 q7); accept either, or both.
  optionalBase64(o, "waveform");
  optionalBase64(o, "wave_form");
}

function checkData(o: Obj): void {
  checkAttachment(o);
  // Some uploaders have no file name to give; the key must still be there for clients to read.
  requireString(o, "name");
}

function checkSticker(o: Obj): void {
  // Clients that serialise every field send `"sticker_id": ""` or null alongside the old form.
  const id = get(o, "sticker_id");
  if (!isAbsent(id) && id !== "") {
    requireUuid(o, "sticker_id");
    return;
  }
  if (isAbsent(get(o, "album_id")) && isAbsent(get(o, "name"))) fail("sticker needs sticker_id, or name and album_id");
  requireUuid(o, "album_id");
  requireNonEmptyString(o, "name");
}

function checkContact(o: Obj): void {
  requireUuid(o, "user_id");
}

function checkLive(o: Obj): void {
  requireInt(o, "width", 1);
  requireInt(o, "height", 1);
  requireNonEmptyString(o, "thumb_url");
  requireNonEmptyString(o, "url");
  optionalBoolean(o, "shareable");
}

function checkLocation(o: Obj): void {
  const lat = requireNumber(o, "latitude", -90, 90);
  const lon = requireNumber(o, "longitude", -180, 180);
  // Android treats (0,0) as "no fix" and refuses to show it, so it is never a real location here.
  if (lat === 0 && lon === 0) fail("location (0, 0) is not a valid position");
  optionalString(o, "name");
  optionalString(o, "address");
  optionalString(o, "venue_type");
}

function checkTranscript(entries: unknown[]): void {
  if (entries.length === 0) fail("transcript has no entries");
  entries.forEach((e, i) => {
    if (!isObject(e)) fail(`transcript[${i}] must be an object`);
  });
}

function checkJson(o: Obj): void {
  requireNonEmptyString(o, "action");
}

const COLOR = /^#[0-9A-Fa-f]{6}$/;
const MAX_LABEL_CHARS = 36;

function checkButton(b: unknown, at: string): void {
  if (!isObject(b)) fail(`${at} must be an object`);
  requireString(b, "label", at, 1, MAX_LABEL_CHARS);
  const color = requireString(b, "color", at);
  // Android parses every colour and drops the whole message on a bad one.
  if (!COLOR.test(color)) fail(`${at}.color ${JSON.stringify(color)} is not #RRGGBB`);
  requireNonEmptyString(b, "action", at);
}

function checkButtons(buttons: unknown[], name: string, min: number, max: number): void {
  if (buttons.length < min) fail(`${buttons.length} ${name}, at least ${min}`);
  if (buttons.length > max) fail(`${buttons.length} ${name}, at most ${max}`);
  buttons.forEach((b, i) => checkButton(b, `${name}[${i}]`));
}

function checkButtonGroup(buttons: unknown[], rules: PayloadRules): void {
  checkButtons(buttons, "buttons", 1, maxButtons(rules));
}

// The docs cap titles at 36, but Android (the strictest renderer) accepts up to 128 and real
// bots send longer titles than 36; refusing them would break cards that work on the real service.
const MAX_CARD_TITLE_CHARS = 128;
const MAX_CARD_DESCRIPTION_CHARS = 1024;

function checkCover(o: Obj): void {
  const cover = get(o, "cover");
  if (isAbsent(cover)) return;
  if (!isObject(cover)) fail("cover must be an object");
  requireNonEmptyString(cover, "url", "cover");
  optionalString(cover, "mime_type", "cover");
  optionalInt(cover, "width", 0, "cover");
  optionalInt(cover, "height", 0, "cover");
  optionalString(cover, "thumbnail", "cover");
}

function checkAppCard(o: Obj, rules: PayloadRules): void {
  requireUuid(o, "app_id");
  requireString(o, "title", "", 1, MAX_CARD_TITLE_CHARS);
  requireString(o, "description", "", 0, MAX_CARD_DESCRIPTION_CHARS);
  optionalString(o, "icon_url");
  // Neither `action` nor `actions` is fine: a card may be purely informational.
  if (!isAbsent(get(o, "action"))) requireNonEmptyString(o, "action");
  // Validated even beside a legacy `action`: clients that ignore it are not the only readers.
  optionalString(o, "cover_url");
  checkCover(o);
  const actions = get(o, "actions");
  if (!isAbsent(actions)) {
    if (!Array.isArray(actions)) fail("actions must be an array");
    checkButtons(actions, "actions", 0, maxButtons(rules));
  }
  optionalBoolean(o, "shareable");
  optionalString(o, "updated_at");
}

function checkRecall(o: Obj): void {
  requireUuid(o, "message_id");
}

function checkPin(o: Obj): void {
  const action = get(o, "action");
  if (action !== "PIN" && action !== "UNPIN") fail("action must be PIN or UNPIN");
  const ids = get(o, "message_ids");
  if (!Array.isArray(ids) || ids.length === 0) fail("message_ids must be a non-empty array");
  ids.forEach((id, i) => {
    if (!isUuid(id)) fail(`message_ids[${i}] must be a lower-case UUID`);
  });
}

const SYSTEM_ACTIONS = new Set<string>(SystemConversationActions);
const ROLES = new Set<unknown>(Object.values(ParticipantRoles));

function checkSystemConversation(o: Obj): void {
  const action = get(o, "action");
  if (typeof action !== "string" || !SYSTEM_ACTIONS.has(action)) {
    fail(`action must be one of ${SystemConversationActions.join(", ")}`);
  }
  // Conversation-wide actions (CREATE, UPDATE, EXPIRE) carry "" rather than omitting the key.
  if (get(o, "participant_id") !== "") requireUuid(o, "participant_id");
  if (!isAbsent(get(o, "user_id"))) requireUuid(o, "user_id");
  const role = get(o, "role");
  if (!isAbsent(role) && !ROLES.has(role)) fail('role must be OWNER, ADMIN or ""');
  optionalInt(o, "expire_in", 0);
}

function maxButtons(rules: PayloadRules): number {
  // Beyond the ceiling no official client renders the group; below 1 no group is sendable at all.
  return Math.min(Math.max(Math.trunc(rules.maxButtons), 1), Limits.MAX_BUTTONS_CEILING);
}

type Validator = (payload: Buffer, rules: PayloadRules) => void;

const object = (check: (o: Obj, rules: PayloadRules) => void): Validator => (p, r) => check(parseObject(p), r);
const array = (check: (a: unknown[], rules: PayloadRules) => void): Validator => (p, r) => check(parseArray(p), r);

const VALIDATORS: Readonly<Record<string, Validator>> = {
  [Categories.PLAIN_TEXT]: checkText,
  [Categories.PLAIN_POST]: checkText,
  [Categories.PLAIN_IMAGE]: object(checkImage),
  [Categories.PLAIN_VIDEO]: object(checkVideo),
  [Categories.PLAIN_AUDIO]: object(checkAudio),
  [Categories.PLAIN_DATA]: object(checkData),
  [Categories.PLAIN_STICKER]: object(checkSticker),
  [Categories.PLAIN_CONTACT]: object(checkContact),
  [Categories.PLAIN_LIVE]: object(checkLive),
  [Categories.PLAIN_LOCATION]: object(checkLocation),
  [Categories.PLAIN_TRANSCRIPT]: array(checkTranscript),
  [Categories.PLAIN_JSON]: object(checkJson),
  [Categories.APP_BUTTON_GROUP]: array(checkButtonGroup),
  [Categories.APP_CARD]: object(checkAppCard),
  [Categories.MESSAGE_RECALL]: object(checkRecall),
  [Categories.MESSAGE_PIN]: object(checkPin),
  [Categories.SYSTEM_CONVERSATION]: object(checkSystemConversation),
};

/**
 * Validates the DECODED payload bytes for the category. Throws invalidField("data", reason)
 * (10002) naming the offending field; an unknown category is invalidField("category", ...).
 */
export function validatePayload(category: string, payload: Buffer, rules: PayloadRules = DEFAULT_PAYLOAD_RULES): void {
  const validator = Object.hasOwn(VALIDATORS, category) ? VALIDATORS[category] : undefined;
  if (!validator && !isPassThrough(category)) throw invalidField("category", `unknown category ${category.slice(0, 64)}`);
  if (payload.length === 0) fail("payload is empty");
  if (payload.length > Limits.MAX_PAYLOAD_BYTES) {
    fail(`payload is ${payload.length} bytes, at most ${Limits.MAX_PAYLOAD_BYTES}`);
  }
  validator?.(payload, rules);
}

/**
 * A small seeded mutation fuzzer for Blaze frames (no dependencies): valid request envelopes are
 * generated from templates, then mutated at three levels (JSON structure, JSON bytes, gzip bytes),
 * plus bombs and raw junk. The same seed gives the same frames. No side effects on import.
 */
import { gzipSync } from "node:zlib";
import { Limits, storedGzip } from "@openblaze/protocol";

export type Rand = () => number;

export interface FuzzContext {
  /** CONTACT conversation between this fuzzer and the victim. */
  contact: string;
  victimId: string;
  group: string;
  /** Messages sent to the victim by someone else: acking them must fail (wrong-user acks). */
  victimMessageIds: readonly string[];
}

export interface FuzzFrame {
  /** Which mutation made it, for findings. */
  kind: string;
  data: Buffer | string;
  binary: boolean;
  /** Set when the envelope kept a usable id: the reply must carry it. */
  expectId: string | undefined;
}

const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)]!;

/** A v4-shaped UUID from the PRNG, so a seed replays the same ids. */
export function fuzzUuid(rand: Rand): string {
  const h = Array.from({ length: 32 }, () => int(rand, 16).toString(16));
  h[12] = "4";
  h[16] = "89ab"[int(rand, 4)]!;
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64");

/** Valid payloads per category (protocol.md §4), as JSON values or text. */
function payloads(rand: Rand): [string, unknown][] {
  const id = () => fuzzUuid(rand);
  return [
    ["PLAIN_TEXT", "héllo, 世界 👋"],
    ["PLAIN_POST", "# Title\n\n* item"],
    ["PLAIN_IMAGE", { attachment_id: id(), mime_type: "image/png", width: 10, height: 20, size: 123, thumbnail: "" }],
    ["PLAIN_VIDEO", { attachment_id: id(), mime_type: "video/mp4", width: 640, height: 480, size: 9999, duration: 1500 }],
    ["PLAIN_AUDIO", { attachment_id: id(), mime_type: "audio/ogg", size: 10, duration: 1000, wave_form: "AAEC" }],
    ["PLAIN_DATA", { attachment_id: id(), mime_type: "application/pdf", size: 10, name: "a.pdf" }],
    ["PLAIN_STICKER", { sticker_id: id() }],
    ["PLAIN_CONTACT", { user_id: id() }],
    ["PLAIN_LIVE", { width: 10, height: 10, thumb_url: "https://x/t.png", url: "https://x/live.m3u8", shareable: true }],
    ["PLAIN_LOCATION", { latitude: 31.2, longitude: 121.5, name: "Bund" }],
    ["APP_BUTTON_GROUP", [{ label: "Open", color: "#3D75E3", action: "https://example.org" }]],
    ["APP_CARD", { app_id: id(), title: "Weekly", description: "3 new", action: "https://example.org", icon_url: "https://x/i.png" }],
    ["MESSAGE_RECALL", { message_id: id() }],
  ];
}

/** Fresh valid envelopes, every id new. */
export function validEnvelope(rand: Rand, ctx: FuzzContext): Record<string, unknown> {
  const id = fuzzUuid(rand);
  const text = (conversation: string, recipient: string) => ({
    conversation_id: conversation,
    recipient_id: recipient,
    message_id: fuzzUuid(rand),
    category: "PLAIN_TEXT",
    data: b64(`fuzz ${id}`),
  });
  switch (int(rand, 9)) {
    case 0:
      return { id, action: "LIST_PENDING_MESSAGES", ...(rand() < 0.5 && { params: { offset: "2024-01-02T03:04:05.123456789Z" } }) };
    case 1:
    case 2: {
      const [category, payload] = pick(rand, payloads(rand));
      const conversation = rand() < 0.5 ? ctx.contact : ctx.group;
      return {
        id,
        action: "CREATE_MESSAGE",
        params: { conversation_id: conversation, recipient_id: conversation === ctx.contact ? ctx.victimId : "", message_id: fuzzUuid(rand), category, data: b64(payload) },
      };
    }
    case 3:
      return { id, action: "CREATE_PLAIN_MESSAGES", params: { messages: Array.from({ length: 1 + int(rand, 4) }, () => text(ctx.contact, ctx.victimId)) } };
    case 4:
    case 5:
      // Wrong-user acks: the victim's messages, acked by someone else.
      return { id, action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: pick(rand, ctx.victimMessageIds), status: pick(rand, ["READ", "DELIVERED"]) } };
    case 6:
      return {
        id,
        action: "ACKNOWLEDGE_MESSAGE_RECEIPTS",
        params: { messages: Array.from({ length: 1 + int(rand, 5) }, () => ({ message_id: pick(rand, ctx.victimMessageIds), status: "READ" })) },
      };
    case 7:
      return { id, action: "CREATE_MESSAGE", params: { ...text(ctx.contact, ctx.victimId), data_base64: Buffer.from("x").toString("base64url") } };
    default:
      return { id, action: pick(rand, ["LIST_PENDING_MESSAGES", "CREATE_MESSAGE", "SEND_DRAGONS", "ERROR", "", "list_pending_messages"]), params: {} };
  }
}

// Raw JSON text spliced in after stringify (things JSON.stringify cannot produce).
const RAW = "\u0001raw:";
const RAW_JSON = [
  "1e999",
  "-1e999",
  "-0",
  "123456789012345678901234567890",
  "0.0000000000000000000000000001",
  () => "[".repeat(20_000) + "]".repeat(20_000),
  () => '{"a":'.repeat(5_000) + "1" + "}".repeat(5_000),
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
  '{"a":1,"a":2,"a":[]}',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\\u0000\\u0000"',
  '"\\uffff\\ufffe"',
];

const EVIL_STRINGS = [
  "",
  " ",
  "\u0000",
  "\ud800",
  "\udc00x",
  "\uffff",
  "\ufeff",
  "\u202eevil",
  "e\u0301\u0301\u0301",
  "😀",
  "A".repeat(37),
  "x".repeat(70_000),
  "😀".repeat(20_000),
  "../../../../etc/passwd",
  "..%2f..%2fetc%2fpasswd",
  "'; DROP TABLE messages; --",
  "%00",
  "NaN",
  "null",
  "true",
  "-1",
  "__proto__",
  "constructor",
  "0F9A7C3E-5B1D-4E2A-9C8B-6D5E4F3A2B1C",
  " 0f9a7c3e-5b1d-4e2a-9c8b-6d5e4f3a2b1c",
  "0f9a7c3e5b1d4e2a9c8b6d5e4f3a2b1c",
  "00000000-0000-0000-0000-000000000000",
  "====",
  "AAAA====",
  "\r\n\t",
  "2024-13-45T99:99:99Z",
  "0001-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999999999+14:00",
  "SYSTEM_CONVERSATION",
  "ENCRYPTED_TEXT",
  "SIGNAL_KEY",
  "PLAIN_TEXT",
  "APP_BUTTON_GROUP",
  "READ",
  "SENT",
];

function evilValue(rand: Rand): unknown {
  switch (int(rand, 8)) {
    case 0:
      return pick(rand, [null, true, false, 0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e308, Number.MIN_VALUE]);
    case 1:
    case 2:
      return pick(rand, EVIL_STRINGS);
    case 3:
      return pick(rand, [[], {}, [null], [[]], [{}], { message_id: null }]);
    case 4: {
      const r = pick(rand, RAW_JSON);
      return RAW + (typeof r === "function" ? r() : r);
    }
    case 5:
      return Array.from({ length: pick(rand, [101, 1000, 3000]) }, () => pick(rand, [0, "x", null, {}]));
    case 6:
      return fuzzUuid(rand);
    default:
      return b64(pick(rand, ["{}", "[]", "null", "{", "\u0000", "x".repeat(1000), JSON.stringify({ label: 1, color: [], action: {} })]));
  }
}

type Path = (string | number)[];

function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (typeof v !== "object" || v === null) return out;
  for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
    const p = [...at, k];
    out.push(p);
    if (out.length < 200) paths((v as Record<string | number, unknown>)[k], p, out);
  }
  return out;
}

function setAt(root: Record<string, unknown>, p: Path, value: unknown, remove = false): void {
  let o = root as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = p[p.length - 1]!;
  if (remove) {
    if (Array.isArray(o)) o.splice(last as number, 1);
    else delete o[last];
  } else o[last] = value;
}

/** JSON-level: replace, delete or add fields anywhere (the payload inside `data` included). */
function mutateStructure(rand: Rand, env: Record<string, unknown>): string {
  const n = 1 + int(rand, 3);
  const kinds: string[] = [];
  for (let i = 0; i < n; i++) {
    const all = paths(env);
    const op = int(rand, 10);
    if (op < 5 && all.length > 0) {
      const p = pick(rand, all);
      setAt(env, p, evilValue(rand));
      kinds.push(`set ${p.join(".")}`);
    } else if (op < 7 && all.length > 0) {
      const p = pick(rand, all);
      setAt(env, p, undefined, true);
      kinds.push(`delete ${p.join(".")}`);
    } else if (op < 8) {
      const objects = [[], ...all].filter((p) => {
        let o: unknown = env;
        for (const k of p) o = (o as Record<string | number, unknown>)[k];
        return typeof o === "object" && o !== null && !Array.isArray(o);
      });
      const p = [...pick(rand, objects), pick(rand, ["__proto__", "constructor", "extra", "params", "data_base64", "recipient_id", "representative_id", "quote_message_id", "silent", "expire_in", "offset"])];
      setAt(env, p, evilValue(rand));
      kinds.push(`add ${p.join(".")}`);
    } else {
      // Mutate the payload carried in data: decode, mutate its JSON, re-encode.
      const params = env.params as Record<string, unknown> | undefined;
      if (params && typeof params.data === "string") {
        let inner: unknown;
        try {
          inner = JSON.parse(Buffer.from(params.data, "base64").toString("utf8"));
        } catch {
          inner = Buffer.from(params.data, "base64").toString("utf8");
        }
        const box = { v: inner } as Record<string, unknown>;
        const ps = paths(box);
        if (ps.length > 0) setAt(box, pick(rand, ps), evilValue(rand));
        try {
          params.data = b64(stringifyRaw(box.v));
        } catch {
          // A payload nested deeper than JSON.stringify's stack (an earlier splice): leave it.
        }
        if (rand() < 0.3) params.category = pick(rand, payloads(rand))[0];
        kinds.push("payload");
      }
    }
  }
  return kinds.join(", ");
}

function stringifyRaw(v: unknown): string {
  const text = JSON.stringify(v) ?? "null";
  // "\u0001raw:<json>" string literals become the raw JSON they carry.
  return text.replace(/"\\u0001raw:((?:[^"\\]|\\.)*)"/g, (_, body: string) => JSON.parse(`"${body}"`) as string);
}

const BAD_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0])];

/** Byte-level on the JSON text: flips, truncation, invalid UTF-8, slices moved around. */
function mutateBytes(rand: Rand, json: Buffer): [string, Buffer] {
  const b = Buffer.from(json);
  switch (int(rand, 5)) {
    case 0: {
      const n = 1 + int(rand, 8);
      for (let i = 0; i < n; i++) b[int(rand, b.length)]! ^= 1 << int(rand, 8);
      return ["json bit flips", b];
    }
    case 1:
      return ["json truncated", b.subarray(0, int(rand, b.length))];
    case 2: {
      const at = int(rand, b.length);
      return ["json invalid utf-8", Buffer.concat([b.subarray(0, at), pick(rand, BAD_UTF8), b.subarray(at)])];
    }
    case 3: {
      const at = int(rand, b.length);
      const len = int(rand, 64);
      return ["json slice duplicated", Buffer.concat([b.subarray(0, at + len), b.subarray(at)])];
    }
    default: {
      const at = int(rand, b.length);
      return ["json slice deleted", Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rand, 32))])];
    }
  }
}

/** Gzip-level: the container itself is broken. */
function mutateGzip(rand: Rand, gz: Buffer, raw: Buffer): [string, Buffer] {
  const b = Buffer.from(gz);
  switch (int(rand, 10)) {
    case 0:
      return ["gzip truncated", b.subarray(0, int(rand, b.length))];
    case 1: {
      const n = 1 + int(rand, 4);
      for (let i = 0; i < n; i++) b[int(rand, b.length)]! ^= 1 << int(rand, 8);
      return ["gzip bit flips", b];
    }
    case 2:
      b.writeUInt32LE((b.readUInt32LE(b.length - 8) ^ 0xdeadbeef) >>> 0, b.length - 8);
      return ["gzip bad crc", b];
    case 3:
      b.writeUInt32LE((b.readUInt32LE(b.length - 4) + 1 + int(rand, 1000)) >>> 0, b.length - 4);
      return ["gzip bad isize", b];
    case 4:
      return ["gzip trailing garbage", Buffer.concat([b, Buffer.from([int(rand, 256), int(rand, 256), int(rand, 256)])])];
    case 5:
      return ["gzip two members", Buffer.concat([b, rand() < 0.5 ? b : gzipSync(Buffer.from("{}"))])];
    case 6:
      b[2] = pick(rand, [0, 7, 9, 255]);
      return ["gzip method byte", b];
    case 7:
      // FEXTRA with a length running past the end, or an unterminated FNAME.
      b[3] = pick(rand, [0x04, 0x08, 0x10, 0x02, 0xff]);
      return ["gzip header flags", b];
    case 8: {
      const s = storedGzip(raw);
      s.writeUInt16LE(s.readUInt16LE(11) ^ 0x00ff, 11); // LEN no longer matches NLEN
      return ["stored block len/nlen", s];
    }
    default:
      return ["gzip of gzip", gzipSync(b)];
  }
}

// Bombs are built once: they are big to make.
let bombs: [string, Buffer][] | undefined;
function bombList(): [string, Buffer][] {
  bombs ??= [
    ["bomb zeros 8 MiB", gzipSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 })],
    ["bomb just over 1 MiB", gzipSync(Buffer.alloc(1024 * 1024 + 1, 0x20), { level: 9 })],
    ["bomb deep array 1 MiB", gzipSync(Buffer.from("[".repeat(512 * 1024 - 1) + "]".repeat(512 * 1024 - 1)), { level: 9 })],
    [
      "bomb huge id",
      gzipSync(Buffer.from(JSON.stringify({ id: "i".repeat(1000 * 1000), action: "LIST_PENDING_MESSAGES" })), { level: 9 }),
    ],
    [
      "bomb deep params",
      gzipSync(Buffer.from(`{"id":"deep","action":"CREATE_MESSAGE","params":{"x":${"[".repeat(400_000)}${"]".repeat(400_000)}}}`), { level: 9 }),
    ],
    ["bomb 4000 acks", gzipSync(Buffer.from(JSON.stringify({ id: "acks", action: "ACKNOWLEDGE_MESSAGE_RECEIPTS", params: { messages: Array.from({ length: 4000 }, () => ({ message_id: "x", status: "READ" })) } })))],
  ];
  return bombs;
}

export class FrameFuzzer {
  readonly rand: Rand;
  constructor(
    rand: Rand,
    private readonly ctx: FuzzContext,
  ) {
    this.rand = rand;
  }

  next(): FuzzFrame {
    const rand = this.rand;
    const env = validEnvelope(rand, this.ctx);
    const roll = rand();
    if (roll < 0.08) return this.frame("valid", JSON.stringify(env), env.id as string);
    if (roll < 0.5) {
      const kind = mutateStructure(rand, env);
      // A spliced raw value is not a string on the wire; an empty id is answered under a fresh one.
      const keptId = typeof env.id === "string" && env.id !== "" && !env.id.startsWith(RAW) ? env.id : undefined;
      return this.frame(`structure: ${kind}`, stringifyRaw(env), keptId);
    }
    if (roll < 0.56) return this.oversizedBatch(env);
    const json = Buffer.from(stringifyRaw(env));
    if (roll < 0.72) {
      const [kind, bytes] = mutateBytes(rand, json);
      return { kind, data: gzipSync(bytes, { level: 1 }), binary: true, expectId: undefined };
    }
    if (roll < 0.9) {
      const [kind, bytes] = mutateGzip(rand, gzipSync(json, { level: 1 }), json);
      return { kind, data: bytes, binary: true, expectId: undefined };
    }
    if (roll < 0.905) {
      const [kind, bytes] = pick(rand, bombList());
      return { kind, data: bytes, binary: true, expectId: undefined };
    }
    switch (int(rand, 5)) {
      case 0:
        return { kind: "text frame", data: JSON.stringify(env), binary: false, expectId: undefined };
      case 1:
        return { kind: "empty frame", data: Buffer.alloc(0), binary: true, expectId: undefined };
      case 2:
        return { kind: "plain json binary", data: json, binary: true, expectId: undefined };
      case 3:
        return { kind: "random bytes", data: Buffer.from(Array.from({ length: int(rand, 300) }, () => int(rand, 256))), binary: true, expectId: undefined };
      default:
        return { kind: "over 128 KiB", data: Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(129 * 1024 + int(rand, 1000), 7)]), binary: true, expectId: undefined };
    }
  }

  private oversizedBatch(env: Record<string, unknown>): FuzzFrame {
    const rand = this.rand;
    const id = env.id as string;
    const n = pick(rand, [0, 101, 500, 2000]);
    const action = pick(rand, ["CREATE_PLAIN_MESSAGES", "ACKNOWLEDGE_MESSAGE_RECEIPTS"]);
    const item: () => Record<string, unknown> =
      action === "CREATE_PLAIN_MESSAGES"
        ? () => ({ conversation_id: this.ctx.contact, recipient_id: this.ctx.victimId, message_id: fuzzUuid(rand), category: "PLAIN_TEXT", data: b64("x") })
        : () => ({ message_id: pick(rand, this.ctx.victimMessageIds), status: "READ" });
    return this.frame(`oversized ${action} x${n}`, JSON.stringify({ id, action, params: { messages: Array.from({ length: n }, item) } }), id);
  }

  private frame(kind: string, json: string, expectId: string | undefined): FuzzFrame {
    const raw = Buffer.from(json);
    const data = gzipSync(raw, { level: 1 });
    // Over the size caps the server cannot read the id back, so it answers a fresh one.
    const readable = raw.length <= Limits.MAX_INFLATED_BYTES && data.length <= Limits.MAX_FRAME_BYTES;
    return { kind, data, binary: true, expectId: readable ? expectId : undefined };
  }
}

/**
 * Load-generator side of the wire: cheap send frames and a cheap reader for what comes back.
 *
 * Send frames are real gzip members built from a per-socket template: the variable head (request
 * id, message id, payload with its timestamp) goes into one stored deflate block, the fixed tail
 * (conversation, recipient, category, action) into a deflate block compressed once per socket, then
 * the CRC-32 and length trailer. The server inflates a mixed stored/compressed stream of the usual
 * size, exactly as it would an SDK's frame, while the generator spends ~4 µs per frame instead of
 * ~15-18 µs for gzipSync.
 *
 * Reading reuses one zlib inflate context (gunzipSync allocates a context per call, which is most of
 * its cost) and skips zlib entirely for single stored-block members (the server's `stored` mode).
 */
import { crc32, constants, createGunzip, gunzipSync, deflateRawSync } from "node:zlib";

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);

/** Microseconds on CLOCK_MONOTONIC: one clock for every process on the box. */
export function monoMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

// The payload: ~70 bytes of text ending in a 15-digit timestamp. The prefix is a multiple of 3 bytes
// so base64(prefix + ts) = base64(prefix) + base64(ts), and a reader decodes only the last 20 chars.
const PAYLOAD_PREFIX = "openblaze bench message, a quick brown fox t=";
if (PAYLOAD_PREFIX.length % 3 !== 0) throw new Error("payload prefix must be a multiple of 3 bytes");
const PREFIX_B64 = Buffer.from(PAYLOAD_PREFIX).toString("base64");
const TS_DIGITS = 15;
const TS_B64_LEN = (TS_DIGITS / 3) * 4;

export function payloadBase64(tsMicros: number): string {
  return PREFIX_B64 + Buffer.from(String(tsMicros).padStart(TS_DIGITS, "0"), "latin1").toString("base64");
}

export function payloadText(tsMicros: number): string {
  return PAYLOAD_PREFIX + String(tsMicros).padStart(TS_DIGITS, "0");
}

const DATA_KEY = Buffer.from('"data":"');
const MESSAGE_ID_KEY = Buffer.from('"message_id":"');

/** The send timestamp a push carries in its payload, or -1. */
export function pushTimestamp(raw: Buffer, from: number): number {
  const at = raw.indexOf(DATA_KEY, from);
  if (at < 0) return -1;
  const start = at + DATA_KEY.length + PREFIX_B64.length;
  const digits = Buffer.from(raw.toString("latin1", start, start + TS_B64_LEN), "base64").toString("latin1");
  const n = Number(digits);
  return Number.isFinite(n) && digits.length === TS_DIGITS ? n : -1;
}

/** Offset just past `"message_id":"`, or -1. */
export function messageIdAt(raw: Buffer, from: number): number {
  const at = raw.indexOf(MESSAGE_ID_KEY, from);
  return at < 0 ? -1 : at + MESSAGE_ID_KEY.length;
}

/**
 * CREATE_MESSAGE frames for one socket: `{"id":"s<mid>","params":{"message_id":"<mid>","data":"…"`
 * stored, then `,"conversation_id":…,"category":"PLAIN_TEXT"},"action":"CREATE_MESSAGE"}` deflated.
 */
export class SendTemplate {
  private readonly tailRaw: Buffer;
  private readonly tailDeflated: Buffer;

  constructor(conversationId: string, recipientId: string | undefined) {
    const recipient = recipientId ? `,"recipient_id":"${recipientId}"` : "";
    this.tailRaw = Buffer.from(`,"conversation_id":"${conversationId}"${recipient},"category":"PLAIN_TEXT"},"action":"CREATE_MESSAGE"}`);
    this.tailDeflated = deflateRawSync(this.tailRaw, { level: 6 });
  }

  frame(messageId: string, tsMicros: number): Buffer {
    const head = `{"id":"s${messageId}","params":{"message_id":"${messageId}","data":"${payloadBase64(tsMicros)}"`;
    const headLen = head.length; // ASCII
    const out = Buffer.allocUnsafe(10 + 5 + headLen + this.tailDeflated.length + 8);
    GZIP_HEADER.copy(out, 0);
    out[10] = 0; // BFINAL=0, BTYPE=00 (stored)
    out.writeUInt16LE(headLen, 11);
    out.writeUInt16LE(~headLen & 0xffff, 13);
    out.write(head, 15, "latin1");
    let at = 15 + headLen;
    at += this.tailDeflated.copy(out, at);
    const crc = crc32(this.tailRaw, crc32(out.subarray(15, 15 + headLen)));
    out.writeUInt32LE(crc >>> 0, at);
    out.writeUInt32LE((headLen + this.tailRaw.length) >>> 0, at + 4);
    return out;
  }
}

/** A gzip member made of one stored block (what `serve --compression stored` emits too). */
export function storedGzipOf(json: string): Buffer {
  const len = Buffer.byteLength(json);
  if (len > 0xffff) throw new RangeError("storedGzipOf: one block only");
  const out = Buffer.allocUnsafe(10 + 5 + len + 8);
  GZIP_HEADER.copy(out, 0);
  out[10] = 1;
  out.writeUInt16LE(len, 11);
  out.writeUInt16LE(~len & 0xffff, 13);
  out.write(json, 15, "utf8");
  out.writeUInt32LE(crc32(out.subarray(15, 15 + len)) >>> 0, 15 + len);
  out.writeUInt32LE(len, 19 + len);
  return out;
}

/** Single ACKNOWLEDGE_MESSAGE_RECEIPT; id `k<mid>` so the reply names the message. ~160 B, which gzip cannot shrink anyway. */
export function ackFrame(messageId: string): Buffer {
  return storedGzipOf(`{"id":"k${messageId}","action":"ACKNOWLEDGE_MESSAGE_RECEIPT","params":{"message_id":"${messageId}","status":"DELIVERED"}}`);
}

interface ZlibInternals {
  _handle: { writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void; reset(): void };
  _writeState: Uint32Array;
}

/** Gunzip with one reused zlib context; falls back to gunzipSync whenever anything looks off. */
export class Inflater {
  private z: ZlibInternals | undefined;
  private readonly out = Buffer.allocUnsafe(1024 * 1024);
  fallbacks = 0;

  constructor() {
    this.z = this.open();
  }

  private open(): ZlibInternals | undefined {
    const z = createGunzip() as unknown as Partial<ZlibInternals>;
    return z._handle && z._writeState ? (z as ZlibInternals) : undefined;
  }

  /** The inflated bytes; valid until the next call (copy what you keep). */
  inflate(frame: Buffer): Buffer {
    // Single final stored block (BFINAL=1, BTYPE=00, zero padding): the bytes are right there.
    if (frame.length >= 23 && frame[3] === 0 && frame[10] === 1) {
      const len = frame[11]! | (frame[12]! << 8);
      if (len + 23 === frame.length) return frame.subarray(15, 15 + len);
    }
    const z = this.z;
    if (z) {
      try {
        z._handle.writeSync(constants.Z_FINISH, frame, 0, frame.length, this.out, 0, this.out.length);
        const availOut = z._writeState[0]!;
        const availIn = z._writeState[1]!;
        z._handle.reset();
        if (availIn === 0 && availOut > 0) return this.out.subarray(0, this.out.length - availOut);
      } catch {
        this.z = this.open();
      }
    }
    this.fallbacks++;
    return gunzipSync(frame);
  }
}

// Frames the generator receives all start with {"id":"<id>","action":"<ACTION>"... (JSON.stringify
// of the server's and the relay's envelopes keeps that key order). Our own request ids carry a
// non-hex prefix so a reply is told from a server-originated frame by one byte.
export const ID_AT = 7;
export const P_SEND = 0x73; // 's' CREATE_MESSAGE
export const P_ACK = 0x6b; // 'k' ACKNOWLEDGE_MESSAGE_RECEIPT(S)
export const P_BATCH = 0x70; // 'p' CREATE_PLAIN_MESSAGES
export const P_LIST = 0x6c; // 'l' LIST_PENDING_MESSAGES

const ERROR_KEY = Buffer.from('"error":{');

export const enum Act {
  CreateMessage,
  CreatePlain,
  Ack,
  List,
  Error,
  Other,
}

export function idEnd(raw: Buffer): number {
  return raw.indexOf(0x22, ID_AT);
}

/** The action of a frame whose id ends at `end` (the closing quote). */
export function actionOf(raw: Buffer, end: number): Act {
  const a = end + 12; // `","action":"`
  const c = raw[a];
  if (c === 0x43) return raw[a + 7] === 0x4d ? Act.CreateMessage : Act.CreatePlain; // CREATE_M / CREATE_P
  if (c === 0x41) return Act.Ack;
  if (c === 0x4c) return Act.List;
  if (c === 0x45) return Act.Error;
  return Act.Other;
}

export function hasError(raw: Buffer, from: number): boolean {
  return raw.indexOf(ERROR_KEY, from) >= 0;
}

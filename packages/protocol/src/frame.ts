import { crc32 } from "node:zlib";
import { BlazeError, ErrorCodes, badRequest } from "./errors.js";
import { Limits } from "./names.js";
import { ReusedGunzip, ReusedGzip } from "./zlib-context.js";

export interface FrameLimits {
  /** Largest compressed frame accepted; checked before any inflating. */
  maxFrameBytes: number;
  /** Largest inflated JSON accepted; enforced by zlib while inflating. */
  maxInflatedBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxFrameBytes: Limits.MAX_FRAME_BYTES,
  maxInflatedBytes: Limits.MAX_INFLATED_BYTES,
};

/**
 * How outbound frames are compressed. `stored` writes a valid gzip member without compressing
 * (server-anchors.md §3.1: ~25x cheaper CPU, ~1.7x bytes), for CPU-bound or loopback deployments.
 */
export type Compression = { mode: "gzip"; level: number } | { mode: "stored" };

export const DEFAULT_COMPRESSION: Compression = { mode: "gzip", level: 6 };

/** Gunzips and parses one frame. Throws BlazeError 400 with a reason for every way it can be bad. */
export function decodeFrame(frame: Buffer, limits: FrameLimits = DEFAULT_FRAME_LIMITS): unknown {
  if (frame.length > limits.maxFrameBytes) {
    throw badRequest(`frame of ${frame.length} bytes exceeds ${limits.maxFrameBytes}`);
  }
  if (frame.length < 18 || frame[0] !== 0x1f || frame[1] !== 0x8b) throw badRequest("frame is not gzip");
  let json: Buffer;
  try {
    json = gunzipFor(limits.maxInflatedBytes).inflate(frame);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw badRequest(`inflated frame exceeds ${limits.maxInflatedBytes} bytes`);
    }
    throw badRequest(`corrupt gzip: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(json.toString("utf8"));
  } catch {
    throw badRequest("frame is not valid JSON");
  }
}

const gunzips = new Map<number, ReusedGunzip>();

function gunzipFor(maxOutputLength: number): ReusedGunzip {
  let g = gunzips.get(maxOutputLength);
  if (!g) gunzips.set(maxOutputLength, (g = new ReusedGunzip(maxOutputLength)));
  return g;
}

export function encodeFrame(message: unknown, compression: Compression = DEFAULT_COMPRESSION): Buffer {
  const json = JSON.stringify(message);
  // A frame that is stored whole goes straight from the string into the gzip member: no
  // intermediate Buffer of the JSON (an allocation and a copy per frame). `json.length` counts
  // UTF-16 units, at most the UTF-8 byte count, so a short non-ASCII frame may be stored where its
  // byte count alone would have deflated it: valid either way, a few bytes at most.
  if (compression.mode === "stored" || json.length < SMALL_FRAME_BYTES) {
    const bytes = Buffer.byteLength(json, "utf8");
    if (bytes <= STORED_BLOCK_MAX) return storedGzipOneBlock(json, bytes);
  }
  return gzipBytes(Buffer.from(json, "utf8"), compression);
}

/**
 * Below this many JSON bytes gzip mode still writes stored gzip: deflate saves at most a few bytes
 * on a frame this small (an 87-byte ack reply: 105 bytes deflated, 110 stored), while each zlib
 * call costs ~25 µs of fixed setup on the event loop.
 */
export const SMALL_FRAME_BYTES = 256;

/**
 * Up to this many JSON bytes deflate runs with an 8 KiB window and a small hash table: a window
 * larger than the input finds no more matches, and zlib's default state (256 KiB, allocated and
 * reported to V8) cost ~8 µs of a ~36 µs gzipSync of an 800-byte push here, same output size.
 */
export const SMALL_WINDOW_BYTES = 8192;
const gzips = new Map<string, ReusedGzip>();

function gzipFor(level: number, small: boolean): ReusedGzip {
  const key = `${level}${small ? "s" : ""}`;
  let g = gzips.get(key);
  if (!g) gzips.set(key, (g = new ReusedGzip(small ? { level, windowBits: 13, memLevel: 5 } : { level })));
  return g;
}

export function gzipBytes(raw: Buffer, compression: Compression): Buffer {
  if (compression.mode === "stored" || raw.length < SMALL_FRAME_BYTES) return storedGzip(raw);
  return gzipFor(compression.level, raw.length <= SMALL_WINDOW_BYTES).deflate(raw);
}

const STORED_BLOCK_MAX = 0xffff;
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);

/** A gzip member whose deflate stream is only stored blocks (RFC 1951 §3.2.4). */
export function storedGzip(raw: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(raw.length / STORED_BLOCK_MAX));
  const out = Buffer.allocUnsafe(GZIP_HEADER.length + blocks * 5 + raw.length + 8);
  let at = GZIP_HEADER.copy(out, 0);
  for (let i = 0; i < blocks; i++) {
    const start = i * STORED_BLOCK_MAX;
    const len = Math.min(STORED_BLOCK_MAX, raw.length - start);
    out[at++] = i === blocks - 1 ? 1 : 0;
    out.writeUInt16LE(len, at);
    out.writeUInt16LE(~len & 0xffff, at + 2);
    at += 4;
    at += raw.copy(out, at, start, start + len);
  }
  out.writeUInt32LE(crc32(raw) >>> 0, at);
  out.writeUInt32LE(raw.length >>> 0, at + 4);
  return out;
}

/** `storedGzip` of a string whose UTF-8 form (`bytes` long) fits one stored block. */
function storedGzipOneBlock(text: string, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(GZIP_HEADER.length + 5 + bytes + 8);
  let at = GZIP_HEADER.copy(out, 0);
  out[at++] = 1;
  out.writeUInt16LE(bytes, at);
  out.writeUInt16LE(~bytes & 0xffff, at + 2);
  at += 4;
  at += out.write(text, at, "utf8");
  out.writeUInt32LE(crc32(out.subarray(at - bytes, at)) >>> 0, at);
  out.writeUInt32LE(bytes >>> 0, at + 4);
  return out;
}

/** Parses a compression setting as written in config: "stored", "gzip", or "gzip:1".."gzip:9". */
export function parseCompression(text: string): Compression {
  if (text === "stored") return { mode: "stored" };
  const m = /^gzip(?::([0-9]))?$/.exec(text);
  if (!m) throw new BlazeError(ErrorCodes.INVALID_FIELD, { field: "compression", reason: `unknown compression ${text}` });
  return { mode: "gzip", level: m[1] === undefined ? 6 : Number(m[1]) };
}

/**
 * PostgreSQL arrays in the binary wire format (what `array_recv` reads), for query parameters.
 *
 * `pg` sends a Buffer parameter in binary format and any JS array as array text
 * (`{"3f0c…","9a1e…"}`, bytea elements as hex), which costs the node a string build per call and
 * PostgreSQL an `array_in` parse of every element (BENCHMARKS.md, step 25). A parameter written
 * as `$n::uuid[]` takes either form, so the binary one is a drop-in replacement.
 *
 * Layout: int32 ndim (0 for an empty array, else 1), int32 has-nulls flag, uint32 element type
 * OID, then for one dimension int32 length and int32 lower bound (1); then per element int32 byte
 * length (-1 for NULL) and the element's binary form.
 */

const OID = { bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, text: 25, uuid: 2950 } as const;
const HEADER = 20;

function header(n: number, bodyBytes: number, hasNull: boolean, oid: number): Buffer {
  const buf = Buffer.allocUnsafe((n === 0 ? 12 : HEADER) + bodyBytes);
  buf.writeInt32BE(n === 0 ? 0 : 1, 0);
  buf.writeInt32BE(hasNull ? 1 : 0, 4);
  buf.writeUInt32BE(oid, 8);
  if (n > 0) {
    buf.writeInt32BE(n, 12);
    buf.writeInt32BE(1, 16);
  }
  return buf;
}

/** Hex digit values by char code; 255 for anything else. */
const HEX = new Uint8Array(128).fill(255);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

function writeUuid(buf: Buffer, at: number, id: string): void {
  if (id.length !== 36) throw new TypeError(`not a uuid: "${id}"`);
  let i = 0;
  for (let b = 0; b < 16; b++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== 45) throw new TypeError(`not a uuid: "${id}"`);
      i++;
    }
    const hi = HEX[id.charCodeAt(i)] ?? 255;
    const lo = HEX[id.charCodeAt(i + 1)] ?? 255;
    if (hi === 255 || lo === 255) throw new TypeError(`not a uuid: "${id}"`);
    buf[at + b] = (hi << 4) | lo;
    i += 2;
  }
}

/** `uuid[]`; null elements are SQL NULL. Throws TypeError on a string that is no UUID. */
export function uuidArray(ids: readonly (string | null)[]): Buffer {
  let nulls = 0;
  for (const id of ids) if (id === null) nulls++;
  const buf = header(ids.length, ids.length * 4 + (ids.length - nulls) * 16, nulls > 0, OID.uuid);
  let at = HEADER;
  for (const id of ids) {
    if (id === null) {
      buf.writeInt32BE(-1, at);
      at += 4;
      continue;
    }
    buf.writeInt32BE(16, at);
    writeUuid(buf, at + 4, id);
    at += 20;
  }
  return buf;
}

/** `text[]` (UTF-8). */
export function textArray(values: readonly string[]): Buffer {
  const lengths = values.map((v) => Buffer.byteLength(v));
  const buf = header(values.length, values.length * 4 + lengths.reduce((a, b) => a + b, 0), false, OID.text);
  let at = HEADER;
  values.forEach((v, i) => {
    buf.writeInt32BE(lengths[i]!, at);
    at += 4 + buf.write(v, at + 4, "utf8");
  });
  return buf;
}

/** `bytea[]`. */
export function byteaArray(values: readonly Uint8Array[]): Buffer {
  let body = values.length * 4;
  for (const v of values) body += v.length;
  const buf = header(values.length, body, false, OID.bytea);
  let at = HEADER;
  for (const v of values) {
    buf.writeInt32BE(v.length, at);
    buf.set(v, at + 4);
    at += 4 + v.length;
  }
  return buf;
}

/** An array of a fixed-width type: each element `width` bytes, written by `write` at `at`. */
function fixedWidth<T>(values: readonly T[], oid: number, width: number, write: (buf: Buffer, at: number, v: T) => void): Buffer {
  const buf = header(values.length, values.length * (4 + width), false, oid);
  let at = HEADER;
  for (const v of values) {
    buf.writeInt32BE(width, at);
    write(buf, at + 4, v);
    at += 4 + width;
  }
  return buf;
}

/** `boolean[]`. */
export function boolArray(values: readonly boolean[]): Buffer {
  return fixedWidth(values, OID.bool, 1, (buf, at, v) => void (buf[at] = v ? 1 : 0));
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/**
 * `bigint[]`. Safe integers go in exactly; a larger finite number (a timestamp offset in the far
 * future, say) is truncated and clamped to the int8 range rather than failing the whole call.
 */
export function int8Array(values: readonly number[]): Buffer {
  return fixedWidth(values, OID.int8, 8, (buf, at, v) => {
    if (Number.isSafeInteger(v)) {
      const hi = Math.floor(v / 0x1_0000_0000);
      buf.writeInt32BE(hi, at);
      buf.writeUInt32BE(v - hi * 0x1_0000_0000, at + 4);
      return;
    }
    if (!Number.isFinite(v)) throw new TypeError(`not a finite number: ${v}`);
    const big = BigInt(Math.trunc(v));
    buf.writeBigInt64BE(big < INT8_MIN ? INT8_MIN : big > INT8_MAX ? INT8_MAX : big, at);
  });
}

/** `smallint[]`. */
export function int2Array(values: readonly number[]): Buffer {
  return fixedWidth(values, OID.int2, 2, (buf, at, v) => void buf.writeInt16BE(v, at));
}

/** `integer[]`. */
export function int4Array(values: readonly number[]): Buffer {
  return fixedWidth(values, OID.int4, 4, (buf, at, v) => void buf.writeInt32BE(v, at));
}

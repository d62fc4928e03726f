import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  BlazeError,
  buildMessageView,
  decodeBase64Lenient,
  decodeFrame,
  decodeToken,
  encodeFrame,
  formatMicros,
  generateEd25519,
  parseKeystore,
  parseRequestEnvelope,
  parseTimestampMicros,
  publicKeyFromRaw,
  requestSignature,
  signToken,
  storedGzip,
  SMALL_FRAME_BYTES,
  uniqueConversationId,
  verifyToken,
} from "../src/index.js";

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BlazeError, `expected BlazeError, got ${String(e)}`);
    return e.code;
  }
  assert.fail("expected a throw");
}

describe("uniqueConversationId", () => {
  it("matches the protocol.md §5.4 vector in both orders", () => {
    const a = "773e5e77-4107-45c2-b648-8fc722ed77f5";
    const b = "06aed1e3-bd77-4a59-991a-5bb5ae6fbb09";
    assert.equal(uniqueConversationId(a, b), "313a185c-7322-35c9-8ef5-94ba03459001");
    assert.equal(uniqueConversationId(b, a), "313a185c-7322-35c9-8ef5-94ba03459001");
  });
});

describe("base64", () => {
  it("decodes all four alphabets/paddings and embedded newlines to the same bytes", () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xfe, 0x01, 0x02]);
    for (const s of ["+//+AQI=", "+//+AQI", "-__-AQI=", "-__-AQI", "+//+\nAQI=\n"]) {
      assert.deepEqual(decodeBase64Lenient(s), bytes, s);
    }
  });
  it("rejects junk with 10002 naming the field", () => {
    assert.equal(code(() => decodeBase64Lenient("a*b", "data_base64")), 10002);
    assert.equal(code(() => decodeBase64Lenient("abcde")), 10002);
  });
});

describe("MessageView", () => {
  it("emits every field, std-padded data and url-raw data_base64", () => {
    const v = buildMessageView({ message_id: "m", status: "SENT", payload: Buffer.from("Hello, world!"), created_at: "t" });
    assert.equal(v.data, "SGVsbG8sIHdvcmxkIQ==");
    assert.equal(v.data_base64, "SGVsbG8sIHdvcmxkIQ");
    for (const k of ["conversation_id", "user_id", "session_id", "category", "source", "representative_id", "quote_message_id", "updated_at"] as const) {
      assert.equal(typeof v[k], "string", k);
    }
    assert.equal(v.silent, false);
    assert.equal(v.expire_in, 0);
  });
  it("formats and parses microsecond timestamps", () => {
    const micros = Date.UTC(2024, 4, 1, 8, 30, 0, 123) * 1000 + 456;
    assert.equal(formatMicros(micros), "2024-05-01T08:30:00.123456Z");
    assert.equal(parseTimestampMicros("2024-05-01T08:30:00.123456Z"), micros);
    assert.equal(parseTimestampMicros("2024-05-01T08:30:00.123456789Z"), micros);
    assert.equal(parseTimestampMicros("2024-05-01T08:30:00.123456"), micros, "zone-less means UTC");
    assert.equal(parseTimestampMicros("2024-05-01T10:30:00.123456+02:00"), micros);
    assert.equal(parseTimestampMicros("yesterday"), undefined);
  });
});

describe("frames", () => {
  const msg = { id: "x", action: "LIST_PENDING_MESSAGES" };
  it("round-trips gzip and stored gzip", () => {
    assert.deepEqual(decodeFrame(encodeFrame(msg)), msg);
    assert.deepEqual(decodeFrame(encodeFrame(msg, { mode: "stored" })), msg);
  });
  it("stored frames are valid gzip for non-ASCII text, at the one-block limit and past it", () => {
    const text = (n: number) => ({ id: "x", action: "CREATE_MESSAGE", data: { text: "é😀ж".repeat(n) } });
    for (const m of [text(1), text(40), text(7000), text(30000)]) {
      for (const compression of [{ mode: "stored" } as const, { mode: "gzip", level: 6 } as const]) {
        const frame = encodeFrame(m, compression);
        assert.deepEqual(JSON.parse(gunzipSync(frame).toString("utf8")), m);
        assert.deepEqual(decodeFrame(frame, { maxFrameBytes: 1 << 22, maxInflatedBytes: 1 << 22 }), m);
      }
    }
    const exact = { t: "a".repeat(65535 - JSON.stringify({ t: "" }).length) };
    assert.equal(Buffer.byteLength(JSON.stringify(exact)), 65535);
    assert.deepEqual(gunzipSync(encodeFrame(exact, { mode: "stored" })).toString("utf8"), JSON.stringify(exact));
  });
  it("gzip mode stores frames under SMALL_FRAME_BYTES and deflates larger ones", () => {
    // Byte 10 is the first deflate block header: BTYPE 00 (stored) leaves bits 1-2 clear.
    const small = encodeFrame(msg, { mode: "gzip", level: 6 });
    assert.equal(small[10]! & 0b110, 0, "small frame is a stored block");
    assert.deepEqual(decodeFrame(small), msg);
    const big = { id: "x", action: "CREATE_MESSAGE", data: { text: "hello ".repeat(SMALL_FRAME_BYTES) } };
    const deflated = encodeFrame(big, { mode: "gzip", level: 6 });
    assert.notEqual(deflated[10]! & 0b110, 0, "larger frame is deflated");
    assert.ok(deflated.length < JSON.stringify(big).length / 4);
    assert.deepEqual(decodeFrame(deflated), big);
  });
  it("stored gzip is valid gzip for large multi-block input", () => {
    const raw = Buffer.alloc(200_000, 7);
    assert.deepEqual(gunzipSync(storedGzip(raw)), raw);
    assert.deepEqual(gunzipSync(storedGzip(Buffer.alloc(0))), Buffer.alloc(0));
  });
  it("rejects non-gzip, corrupt gzip, oversize, bombs and bad JSON with 400", () => {
    assert.equal(code(() => decodeFrame(Buffer.from(JSON.stringify(msg)))), 400);
    const good = encodeFrame(msg);
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 6] ^= 0xff;
    assert.equal(code(() => decodeFrame(corrupt)), 400);
    assert.equal(code(() => decodeFrame(Buffer.alloc(200 * 1024, 0x1f))), 400);
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 128 * 1024);
    assert.equal(code(() => decodeFrame(bomb)), 400);
    assert.equal(code(() => decodeFrame(gzipSync(Buffer.from("{nope")))), 400);
  });
});

describe("envelope", () => {
  it("requires an object with id and action", () => {
    assert.equal(code(() => parseRequestEnvelope([])), 400);
    assert.equal(code(() => parseRequestEnvelope({ action: "X" })), 400);
    assert.equal(code(() => parseRequestEnvelope({ id: "a" })), 400);
    assert.equal(code(() => parseRequestEnvelope({ id: "a", action: "X", params: 3 })), 400);
    assert.deepEqual(parseRequestEnvelope({ id: "a", action: "X" }), { id: "a", action: "X", params: undefined });
  });
});

describe("tokens", () => {
  const pair = generateEd25519();
  const creds = { userId: "773e5e77-4107-45c2-b648-8fc722ed77f5", sessionId: "06aed1e3-bd77-4a59-991a-5bb5ae6fbb09", seed: pair.seed };
  const pub = publicKeyFromRaw(pair.publicKey);
  const req = { method: "GET", uri: "/", body: "" };

  it("sig for the socket is sha256('GET/')", () => {
    assert.equal(requestSignature("GET", "/", ""), "f837ebeb4c2981ad9c64b70d0b0d18724c76c60781b9e4bf7a582510df7ada39");
  });
  it("signs and verifies", () => {
    const t = signToken(creds, { method: "GET", uri: "/" });
    const claims = verifyToken(decodeToken(`Bearer ${t}`), pub, req);
    assert.equal(claims.uid, creds.userId);
    assert.equal(claims.scp, "FULL");
  });
  it("rejects expired, future, forged, wrong sig and malformed with 401", () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signToken(creds, { method: "GET", uri: "/", nowSeconds: now - 7200, ttlSeconds: 60 });
    assert.equal(code(() => verifyToken(decodeToken(`Bearer ${expired}`), pub, req)), 401);
    const future = signToken(creds, { method: "GET", uri: "/", nowSeconds: now + 3600 });
    assert.equal(code(() => verifyToken(decodeToken(`Bearer ${future}`), pub, req)), 401);
    const other = generateEd25519();
    const forged = signToken({ ...creds, seed: other.seed }, { method: "GET", uri: "/" });
    assert.equal(code(() => verifyToken(decodeToken(`Bearer ${forged}`), pub, req)), 401);
    const wrongSig = signToken(creds, { method: "POST", uri: "/messages", body: "[]" });
    assert.equal(code(() => verifyToken(decodeToken(`Bearer ${wrongSig}`), pub, req)), 401);
    assert.equal(code(() => decodeToken(undefined)), 401);
    assert.equal(code(() => decodeToken("Bearer a.b")), 401);
    assert.equal(code(() => decodeToken("Basic abc")), 401);
  });
});

describe("keystore", () => {
  it("reads the official and the legacy form to the same credentials", () => {
    const pair = generateEd25519();
    const ids = { session_id: "06aed1e3-bd77-4a59-991a-5bb5ae6fbb09" };
    const official = parseKeystore({ app_id: "773e5e77-4107-45c2-b648-8fc722ed77f5", ...ids, session_private_key: pair.seed.toString("hex"), server_public_key: "" });
    const legacy = parseKeystore({ client_id: "773e5e77-4107-45c2-b648-8fc722ed77f5", ...ids, private_key: Buffer.concat([pair.seed, pair.publicKey]).toString("base64url") });
    assert.deepEqual(official, legacy);
    assert.throws(() => parseKeystore({ app_id: "nope", ...ids, session_private_key: "" }), TypeError);
  });
});

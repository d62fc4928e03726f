import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeFrame as nodeDecodeFrame,
  decodeToken,
  encodeFrame as nodeEncodeFrame,
  generateEd25519,
  publicKeyFromRaw,
  rawPublicKey,
  privateKeyFromSeed,
  requestSignature,
  uniqueConversationId as nodeUniqueConversationId,
  verifyToken,
} from "@openblaze/protocol";
// The browser modules below use only web-standard APIs, which Node 20 has too.
import { fromBase64, fromHex, toBase64, toBase64Url, toHex, utf8 } from "../src/lib/bytes.js";
import { isUuid, newUuid, publicKeyOf, sha256Hex, uniqueConversationId } from "../src/lib/crypto.js";
import { decodeFrame, encodeFrame } from "../src/lib/frame.js";
import { parseKeystore } from "../src/lib/keystore.js";
import { noteServerTime, signToken } from "../src/lib/token.js";

describe("web chat: browser crypto and wire helpers against the protocol package", () => {
  const keys = generateEd25519();
  const keystore = { app_id: newUuid(), session_id: newUuid(), session_private_key: keys.seed.toString("hex"), server_public_key: "" };

  it("signs tokens the server's verifier accepts, bound to method, uri and body", () => {
    const creds = parseKeystore(JSON.stringify(keystore));
    const body = '{"a":1}';
    const token = signToken(creds, "POST", "/messages", body);
    const claims = verifyToken(decodeToken(`Bearer ${token}`), publicKeyFromRaw(keys.publicKey), { method: "POST", uri: "/messages", body });
    assert.equal(claims.uid, keystore.app_id);
    assert.equal(claims.sid, keystore.session_id);
    assert.equal(claims.sig, requestSignature("POST", "/messages", body));
    assert.throws(() => verifyToken(decodeToken(`Bearer ${token}`), publicKeyFromRaw(keys.publicKey), { method: "GET", uri: "/", body: "" }), /sig/);
    assert.equal(sha256Hex("GET", "/"), "f837ebeb4c2981ad9c64b70d0b0d18724c76c60781b9e4bf7a582510df7ada39");
  });

  it("signs with the server's clock when ours is off", () => {
    const creds = parseKeystore(JSON.stringify(keystore));
    const serverNow = Math.floor(Date.now() / 1000) + 3600;
    noteServerTime(String(BigInt(serverNow) * 1_000_000_000n));
    try {
      const { claims } = decodeToken(`Bearer ${signToken(creds, "GET", "/")}`);
      assert.ok(Math.abs(claims.iat - serverNow) <= 2);
    } finally {
      noteServerTime(String(BigInt(Date.now()) * 1_000_000n));
    }
  });

  it("derives public keys and conversation ids like Node", () => {
    assert.deepEqual(Buffer.from(publicKeyOf(keys.seed)), rawPublicKey(privateKeyFromSeed(keys.seed)));
    const a = newUuid();
    const b = newUuid();
    assert.ok(isUuid(a) && a[14] === "4");
    assert.equal(uniqueConversationId(a, b), nodeUniqueConversationId(a, b));
    assert.equal(uniqueConversationId("773e5e77-4107-45c2-b648-8fc722ed77f5", "06aed1e3-bd77-4a59-991a-5bb5ae6fbb09"), "313a185c-7322-35c9-8ef5-94ba03459001");
  });

  it("gzips frames both ways compatibly with the server's codec", async () => {
    const message = { id: newUuid(), action: "CREATE_MESSAGE", params: { text: "héllo 世界" } };
    assert.deepEqual(nodeDecodeFrame(Buffer.from(await encodeFrame(message))), message);
    const frame = nodeEncodeFrame(message);
    assert.deepEqual(await decodeFrame(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer), message);
  });

  it("reads every base64 form and hex", () => {
    const bytes = Buffer.from([0xfb, 0xff, 0x00, 0x10, 0x3e]);
    for (const form of [bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("base64").replace(/=+$/, ""), " +/8AED4= \n"]) {
      assert.deepEqual(Buffer.from(fromBase64(form)), bytes, form);
    }
    assert.equal(toBase64(bytes), bytes.toString("base64"));
    assert.equal(toBase64Url(bytes), bytes.toString("base64url"));
    assert.equal(toHex(fromHex("00ff10")), "00ff10");
    assert.throws(() => fromBase64("a"));
    assert.throws(() => fromBase64("ab$d"));
    assert.equal(toBase64(utf8("x".repeat(100_000))).length, 133_336);
  });

  it("parses current and legacy keystores and explains bad ones", () => {
    const current = parseKeystore(JSON.stringify({ ...keystore, app_id: keystore.app_id.toUpperCase() }));
    assert.equal(current.userId, keystore.app_id);
    const legacy = parseKeystore(
      JSON.stringify({ client_id: keystore.app_id, session_id: keystore.session_id, private_key: Buffer.concat([keys.seed, keys.publicKey]).toString("base64url") }),
    );
    assert.deepEqual(Buffer.from(legacy.seed), keys.seed);
    assert.equal(legacy.keystore.session_private_key, keys.seed.toString("hex"));
    assert.throws(() => parseKeystore("{"), /not valid JSON/);
    assert.throws(() => parseKeystore(JSON.stringify({ ...keystore, app_id: "x" })), /app_id/);
    assert.throws(() => parseKeystore(JSON.stringify({ ...keystore, session_private_key: "abcd" })), /32-byte/);
    assert.throws(() => parseKeystore(JSON.stringify({ app_id: keystore.app_id, session_id: keystore.session_id, private_key: "-----BEGIN RSA" })), /base64|RSA/);
  });
});

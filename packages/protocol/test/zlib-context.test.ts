import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { ReusedGunzip, ReusedGzip } from "../src/zlib-context.js";

/** What gunzipSync makes of a frame: its bytes, or its error code and message. */
function reference(frame: Buffer, maxOutputLength: number): { ok: string } | { err: string } {
  try {
    return { ok: gunzipSync(frame, { maxOutputLength }).toString("base64") };
  } catch (e) {
    return { err: `${(e as NodeJS.ErrnoException).code} ${(e as Error).message}` };
  }
}

function reused(g: ReusedGunzip, frame: Buffer): { ok: string } | { err: string } {
  try {
    return { ok: g.inflate(frame).toString("base64") };
  } catch (e) {
    return { err: `${(e as NodeJS.ErrnoException).code} ${(e as Error).message}` };
  }
}

function pushJson(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: `6a0b8f4e-4f1c-4a43-9f0e-${String(i).padStart(12, "0")}`,
      action: "CREATE_MESSAGE",
      data: { category: "PLAIN_TEXT", data: randomBytes(40 + (i % 300)).toString("base64"), status: "SENT" },
    }),
  );
}

describe("reused zlib contexts", () => {
  it("gzip output inflates to the input, for small and large inputs alike, many times over one context", () => {
    const small = new ReusedGzip({ level: 6, windowBits: 13, memLevel: 5 });
    const large = new ReusedGzip({ level: 6 });
    for (let i = 0; i < 300; i++) {
      const raw = pushJson(i);
      assert.deepEqual(gunzipSync(small.deflate(raw)), raw);
      assert.deepEqual(gunzipSync(large.deflate(raw)), raw);
    }
    // Bigger than the context's 64 KiB output buffer even compressed: the public API takes over.
    assert.equal(small.fallbacks + large.fallbacks, 0, "every frame went through the reused contexts");
    const incompressible = randomBytes(100_000);
    assert.deepEqual(gunzipSync(large.deflate(incompressible)), incompressible);
    const after = pushJson(1);
    assert.deepEqual(gunzipSync(large.deflate(after)), after, "the context still works after a fallback");
    assert.equal(large.fallbacks, 1);
  });

  it("a deflated frame's buffer survives later calls (the caller keeps it)", () => {
    const g = new ReusedGzip({ level: 6, windowBits: 13, memLevel: 5 });
    const first = pushJson(7);
    const kept = g.deflate(first);
    for (let i = 0; i < 10; i++) g.deflate(pushJson(100 + i));
    assert.deepEqual(gunzipSync(kept), first);
  });

  it("gunzip agrees with gunzipSync on valid, truncated, corrupted, concatenated and oversized frames, and recovers after each bad one", () => {
    const limit = 4096;
    const g = new ReusedGunzip(limit);
    const cases: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const good = gzipSync(pushJson(i));
      cases.push(good);
      cases.push(good.subarray(0, good.length - 1 - (i % 9))); // truncated trailer or stream
      const flipped = Buffer.from(good);
      flipped[10 + (i * 7) % (good.length - 10)]! ^= 1 << (i % 8); // a flipped bit anywhere past the header
      cases.push(flipped);
      cases.push(Buffer.concat([good, gzipSync(pushJson(i + 1))])); // two members
      cases.push(Buffer.concat([good, Buffer.from("garbage after the member")]));
      cases.push(good); // and a good one right after the bad ones
    }
    cases.push(gzipSync(Buffer.alloc(limit, 0x61))); // exactly at the limit
    cases.push(gzipSync(Buffer.alloc(limit + 1, 0x61))); // one byte over
    cases.push(gzipSync(Buffer.alloc(1_000_000, 0x61))); // a small bomb
    let bad = 0;
    let good = 0;
    for (const [i, frame] of cases.entries()) {
      const want = reference(frame, limit);
      if ("err" in want) bad++;
      const before = g.fallbacks;
      assert.deepEqual(reused(g, frame), want, `case ${i}`);
      // A single valid member within the limit never needs the public API.
      if (i % 6 === 0 && i < 240) {
        good++;
        assert.equal(g.fallbacks, before, `case ${i} (valid) went through the reused context`);
      }
    }
    assert.ok(bad > 60 && good === 40, `the cases include bad frames (${bad}) and good ones (${good})`);
  });

  it("random mutations of a valid frame: same bytes or same error as gunzipSync", () => {
    const g = new ReusedGunzip(1024 * 1024);
    const base = gzipSync(pushJson(3));
    for (let i = 0; i < 2000; i++) {
      const m = Buffer.from(base);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
      assert.deepEqual(reused(g, m), reference(m, 1024 * 1024), `mutation ${i}: ${m.toString("hex")}`);
    }
  });
});

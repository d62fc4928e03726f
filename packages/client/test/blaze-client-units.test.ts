import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlazeError } from "@openblaze/protocol";
import { AckManager, type BlazeAck } from "../src/blaze/acks.js";
import { Backoff } from "../src/blaze/backoff.js";
import { Dispatcher } from "../src/blaze/dispatcher.js";
import { Emitter } from "../src/blaze/events.js";
import { OffsetTracker } from "../src/blaze/offset.js";
import { LruDedup, TimeoutError, decodeMessage } from "../src/index.js";
import { delay, fakeView, waitFor } from "./blaze-support.js";

describe("BlazeClient building blocks", () => {
  it("Backoff: exponential, capped, jittered within bounds, resettable", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 3, jitter: 0 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [[1, 100], [2, 300], [3, 900], [4, 1000]]);
    b.reset();
    assert.deepEqual(b.next(), [1, 100]);
    const j = new Backoff({ initialMs: 100, maxMs: 100, jitter: 1 }, () => 0.25);
    assert.equal(j.next()[1], 75);
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
  });

  it("LruDedup forgets the least recently seen id first", () => {
    const d = new LruDedup(2);
    d.add("a");
    d.add("b");
    assert.equal(d.has("a"), true); // refreshes a
    d.add("c"); // evicts b
    assert.equal(d.has("b"), false);
    assert.equal(d.has("a"), true);
    assert.equal(d.has("c"), true);
    d.delete("a");
    assert.equal(d.has("a"), false);
  });

  it("OffsetTracker stays below every unfinished message", () => {
    const t = new OffsetTracker();
    assert.equal(t.offset, undefined);
    t.received("1", "2024-05-01T00:00:01Z");
    t.received("2", "2024-05-01T00:00:02Z");
    t.received("3", "2024-05-01T00:00:03Z");
    t.handled("1", "2024-05-01T00:00:01Z");
    t.handled("3", "2024-05-01T00:00:03Z");
    assert.equal(t.offset, "2024-05-01T00:00:01.999999Z"); // 2 still open
    t.handled("2", "2024-05-01T00:00:02Z");
    assert.equal(t.offset, "2024-05-01T00:00:02.999999Z");
    assert.throws(() => new OffsetTracker("yesterday"), TypeError);
  });

  it("Dispatcher: serial per key, parallel across keys, pressure at the limit", async () => {
    const log: string[] = [];
    const pressure: boolean[] = [];
    let running = 0;
    let max = 0;
    const d = new Dispatcher<string>({
      maxInFlight: 3,
      run: async (item) => {
        running++;
        max = Math.max(max, running);
        await delay(5);
        log.push(item);
        running--;
        if (item === "b1") throw new Error("ignored by the dispatcher");
      },
      pressure: (p) => pressure.push(p),
    });
    for (const item of ["a1", "a2", "b1", "a3", "b2", "c1"]) d.push(item[0]!, item);
    assert.equal(d.inFlight, 6);
    await d.idle();
    assert.deepEqual(log.filter((x) => x.startsWith("a")), ["a1", "a2", "a3"]);
    assert.deepEqual(log.filter((x) => x.startsWith("b")), ["b1", "b2"]);
    assert.ok(max >= 2 && max <= 3);
    assert.deepEqual(pressure, [true, false]);
  });

  it("AckManager: batches, keeps the highest status, retries transient failures, drops permanent ones", async () => {
    const sent: BlazeAck[][] = [];
    const errors: Error[] = [];
    let fail: Error | undefined = new TimeoutError("ACK", 1);
    const m = new AckManager({
      send: async (batch) => {
        sent.push(batch);
        if (fail) {
          const e = fail;
          fail = undefined;
          throw e;
        }
      },
      batchSize: 2,
      flushMs: 10,
      concurrency: 1,
      onError: (e) => errors.push(e),
    });
    m.add("x", "DELIVERED");
    m.add("x", "READ");
    m.add("x", "DELIVERED"); // never lowered
    await m.flush();
    assert.deepEqual(sent, [[{ message_id: "x", status: "READ" }], [{ message_id: "x", status: "READ" }]]);
    assert.equal(errors.length, 1);

    fail = new BlazeError(10002, { field: "message_id", reason: "bad" });
    m.add("y", "READ");
    m.add("z", "READ"); // a full batch goes at once
    await waitFor(() => sent.length === 3, "the full batch");
    await m.flush();
    assert.deepEqual(sent[2], [
      { message_id: "y", status: "READ" },
      { message_id: "z", status: "READ" },
    ]);
    assert.equal(sent.length, 3, "10002 is not retried");
    assert.equal(m.pending, 0);
    m.stop();
  });

  it("Emitter: a throwing listener is reported, the others still run", () => {
    const reported: string[] = [];
    const e = new Emitter<{ error: [Error]; tick: [n: number] }>((err) => reported.push(err.message));
    const got: number[] = [];
    e.on("tick", () => {
      throw new Error("listener bug");
    });
    const off = e.on("tick", (n) => got.push(n));
    e.emit("tick", 1);
    off();
    e.emit("tick", 2);
    assert.deepEqual(got, [1]);
    assert.deepEqual(reported, ["listener bug", "listener bug"]);
  });

  it("decodeMessage never throws: bad base64 and unknown categories become raw", () => {
    const bad = decodeMessage(fakeView({ category: "PLAIN_TEXT", data_base64: "!!!" }) as never);
    assert.equal(bad.kind, "raw");
    const unknown = decodeMessage(fakeView({ category: "SOMETHING_NEW", data_base64: Buffer.from("[1]").toString("base64url") }) as never);
    assert.equal(unknown.kind === "raw" && JSON.stringify(unknown.json), "[1]");
    const empty = decodeMessage(fakeView({ category: "PLAIN_TEXT", data_base64: "" }) as never);
    assert.equal(empty.kind, "raw");
    const text = decodeMessage(fakeView({ category: "PLAIN_TEXT", data_base64: Buffer.from("hé").toString("base64url") }) as never);
    assert.equal(text.kind === "text" && text.payload, "hé");
  });
});

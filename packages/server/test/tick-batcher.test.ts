import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TickBatcher } from "../src/core/tick-batcher.js";

/** A batcher whose commits record which requests they carried. */
function recording(minIntervalMs: number) {
  const commits: number[][] = [];
  const batcher = new TickBatcher<number, number>({
    size: () => 1,
    maxBatch: 100,
    minIntervalMs,
    commit: async (requests) => {
      commits.push([...requests]);
      return requests.map((r) => r * 10);
    },
  });
  return { batcher, commits };
}

describe("TickBatcher pacing (minIntervalMs)", () => {
  it("a request after a quiet spell commits at once, not after the interval", async () => {
    const { batcher, commits } = recording(10_000);
    const started = performance.now();
    assert.equal(await batcher.submit(1), 10);
    assert.ok(performance.now() - started < 5_000, "did not wait for the 10 s interval");
    assert.deepEqual(commits, [[1]]);
  });

  it("requests arriving within the interval after a commit wait for it and share one commit", async () => {
    const { batcher, commits } = recording(300);
    await batcher.submit(1);
    const firstEnd = performance.now();
    const later = [batcher.submit(2), new Promise((r) => setTimeout(r, 50)).then(() => batcher.submit(3))];
    assert.deepEqual(await Promise.all(later), [20, 30]);
    assert.deepEqual(commits, [[1], [2, 3]], "2 and 3 in one commit");
    assert.ok(performance.now() - firstEnd >= 250, "the second commit waited for the interval");
  });

  it("0 paces nothing: a request right after a commit commits on the next tick", async () => {
    const { batcher, commits } = recording(0);
    await batcher.submit(1);
    const started = performance.now();
    const both = Promise.all([batcher.submit(2), batcher.submit(3)]);
    assert.deepEqual(await both, [20, 30]);
    assert.ok(performance.now() - started < 100, "no pacing delay");
    assert.deepEqual(commits, [[1], [2, 3]], "requests of one tick still share a commit");
  });
});

import type { Metrics } from "../metrics.js";
import type { AcceptOutcome, NewMessage, Store } from "../store/store.js";
import { TickBatcher } from "./tick-batcher.js";

/**
 * Many senders' messages in one `acceptMessages` transaction per tick.
 *
 * With `lanes` > 1 up to that many transactions run at once, each lane a group committer of its
 * own (PostgreSQL: one transaction's inserts overlap another's round trip and commit, BENCHMARKS.md
 * step 25). A sender's requests (same user and session) always take the same lane, so they commit,
 * and are answered and delivered, in the order they were sent; across lanes order is whatever the
 * store's commits give (on PostgreSQL the mailbox lock still hands out seqs in commit order).
 */
export class GroupCommitter {
  private readonly lanes: TickBatcher<readonly NewMessage[], AcceptOutcome[]>[];

  constructor(store: Store, maxBatch: number, metrics?: Metrics, minIntervalMs = 0, lanes = 1) {
    if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`lanes must be a positive integer, got ${lanes}`);
    this.lanes = Array.from(
      { length: lanes },
      () =>
        new TickBatcher<readonly NewMessage[], AcceptOutcome[]>({
          size: (items) => items.length,
          maxBatch,
          minIntervalMs,
          commit: async (requests) => {
            const started = performance.now();
            let outcomes: AcceptOutcome[];
            try {
              outcomes = await store.acceptMessages(
                requests.flat(),
                requests.map((items) => items.length),
              );
            } catch (e) {
              metrics?.commitFailed();
              throw e;
            }
            metrics?.committed((performance.now() - started) / 1000, outcomes);
            let at = 0;
            return requests.map((items) => outcomes.slice(at, (at += items.length)));
          },
        }),
    );
  }

  /** `items` come from one sender (one socket or HTTP request) and are stored all or nothing (Store.acceptMessages). */
  submit(items: readonly NewMessage[]): Promise<AcceptOutcome[]> {
    const first = items[0];
    if (first === undefined) return Promise.resolve([]);
    const lane = this.lanes.length === 1 ? 0 : laneOf(first.userId, first.sessionId, this.lanes.length);
    return this.lanes[lane]!.submit(items);
  }

  async drain(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.drain()));
  }
}

/** FNV-1a over the sender's ids: stable, so one sender's requests queue behind each other. */
function laneOf(userId: string, sessionId: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (const s of [userId, sessionId]) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return (h >>> 0) % lanes;
}

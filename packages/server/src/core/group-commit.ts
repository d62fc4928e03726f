import type { Metrics } from "../metrics.js";
import type { AcceptOutcome, NewMessage, Store } from "../store/store.js";
import { TickBatcher } from "./tick-batcher.js";

/**
 * Many senders' messages in one `acceptMessages` transaction per tick.
 *
 * With `lanes` > 1 up to that many transactions run at once, each lane a group committer of its
 * own (PostgreSQL: one transaction's inserts overlap another's round trip and commit, BENCHMARKS.md
 * step 25). Extra lanes open only under a backlog: a sender goes to the first lane while what waits
 * there fits one commit, else to the lane with the least waiting, since several small transactions
 * cost more than one bigger one (p2p on PostgreSQL lost a quarter of its rate in one of two paired
 * runs with four lanes always in use). A sender (same user and session) with requests pending stays on their lane, so its
 * messages commit, are answered and are delivered in the order it sent them; across lanes order is
 * whatever the store's commits give (on PostgreSQL the mailbox lock still hands out seqs in commit
 * order).
 */
export class GroupCommitter {
  private readonly lanes: TickBatcher<readonly NewMessage[], AcceptOutcome[]>[];
  /** Senders with requests pending (lanes > 1 only): their lane and how many. */
  private readonly senders = new Map<string, { lane: number; pending: number }>();

  constructor(
    store: Store,
    private readonly maxBatch: number,
    metrics?: Metrics,
    minIntervalMs = 0,
    lanes = 1,
  ) {
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
              outcomes = await store.acceptMessages(requests.flat(), requests.map((items) => items.length));
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
    if (this.lanes.length === 1) return this.lanes[0]!.submit(items);
    const key = `${first.userId} ${first.sessionId}`;
    let sender = this.senders.get(key);
    if (!sender) this.senders.set(key, (sender = { lane: this.pickLane(), pending: 0 }));
    sender.pending++;
    const settled = this.lanes[sender.lane]!.submit(items);
    const done = () => {
      if (--sender.pending === 0) this.senders.delete(key);
    };
    settled.then(done, done);
    return settled;
  }

  /** The first lane while its backlog fits one commit, else the lane with the least waiting. */
  private pickLane(): number {
    if (this.lanes[0]!.queued() < this.maxBatch) return 0;
    let best = 0;
    for (let i = 1; i < this.lanes.length; i++) if (this.lanes[i]!.queued() < this.lanes[best]!.queued()) best = i;
    return best;
  }

  async drain(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.drain()));
  }
}

import type { Metrics } from "../metrics.js";
import type { AcceptOutcome, NewMessage, Store } from "../store/store.js";
import { TickBatcher } from "./tick-batcher.js";

/** Many senders' messages in one `acceptMessages` transaction per tick. */
export class GroupCommitter {
  private readonly batcher: TickBatcher<readonly NewMessage[], AcceptOutcome[]>;

  constructor(store: Store, maxBatch: number, metrics?: Metrics, minIntervalMs = 0) {
    this.batcher = new TickBatcher({
      size: (items) => items.length,
      maxBatch,
      minIntervalMs,
      commit: async (requests) => {
        const started = performance.now();
        let outcomes: AcceptOutcome[];
        try {
          outcomes = await store.acceptMessages(requests.flat());
        } catch (e) {
          metrics?.commitFailed();
          throw e;
        }
        metrics?.committed((performance.now() - started) / 1000, outcomes);
        let at = 0;
        return requests.map((items) => outcomes.slice(at, (at += items.length)));
      },
    });
  }

  submit(items: readonly NewMessage[]): Promise<AcceptOutcome[]> {
    return this.batcher.submit(items);
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }
}

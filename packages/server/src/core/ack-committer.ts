import type { AckInput, AckOutcome, AckRequest, Store } from "../store/store.js";
import { TickBatcher } from "./tick-batcher.js";

/**
 * Acknowledgements in one `store.acknowledgeMany` transaction per tick. Each caller gets its own
 * outcomes, computed as if the requests ran one after another in arrival order (a caller's later
 * items see its earlier ones); a failed batch is retried request by request.
 */
export class AckCommitter {
  private readonly batcher: TickBatcher<AckRequest, AckOutcome[]>;

  /** `maxBatch`: acks per transaction; one request is never split. */
  constructor(store: Store, maxBatch = 1024, minIntervalMs = 0) {
    this.batcher = new TickBatcher({
      size: (r) => r.acks.length,
      maxBatch,
      minIntervalMs,
      commit: (requests) => store.acknowledgeMany(requests),
      retryOne: (r) => store.acknowledge(r.userId, r.sessionId, r.acks),
    });
  }

  submit(userId: string, sessionId: string, acks: readonly AckInput[]): Promise<AckOutcome[]> {
    if (acks.length === 0) return Promise.resolve([]);
    return this.batcher.submit({ userId, sessionId, acks });
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }
}

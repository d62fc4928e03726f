import type { Metrics } from "../metrics.js";
import type { AcceptOutcome, NewMessage, Store } from "../store/store.js";

interface Waiter {
  items: readonly NewMessage[];
  resolve: (outcomes: AcceptOutcome[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Many senders' messages go into one transaction (DESIGN.md "Delivery model"): writes queue up
 * while a commit runs, then the next commit takes them all. Callers hear back only after commit.
 */
export class GroupCommitter {
  private queue: Waiter[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch: number,
    private readonly metrics?: Metrics,
  ) {}

  submit(items: readonly NewMessage[]): Promise<AcceptOutcome[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every request already read from the sockets join this commit.
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.commitLoop().finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async commitLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const take: Waiter[] = [];
      let n = 0;
      while (this.queue.length > 0 && (n === 0 || n + this.queue[0]!.items.length <= this.maxBatch)) {
        const w = this.queue.shift()!;
        take.push(w);
        n += w.items.length;
      }
      const started = performance.now();
      try {
        const outcomes = await this.store.acceptMessages(take.flatMap((w) => w.items));
        this.metrics?.committed((performance.now() - started) / 1000, outcomes);
        let at = 0;
        for (const w of take) {
          w.resolve(outcomes.slice(at, at + w.items.length));
          at += w.items.length;
        }
      } catch (e) {
        this.metrics?.commitFailed();
        for (const w of take) w.reject(e);
      }
    }
  }

  /** Resolves once everything submitted so far is committed (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running || this.scheduled) {
      await (this.running ?? new Promise((r) => setImmediate(r)));
    }
  }
}

import type { AckInput, AckOutcome, AckRequest, Store } from "../store/store.js";

interface Waiter {
  request: AckRequest;
  resolve: (outcomes: AckOutcome[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for acknowledgements, like GroupCommitter for sends: every ack request read from
 * the sockets in one tick goes into one `store.acknowledgeMany` transaction instead of one
 * transaction each. Each caller gets its own outcomes, computed as if the requests ran one after
 * another in arrival order (so a caller's later items see its earlier ones), and only after commit.
 */
export class AckCommitter {
  private queue: Waiter[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly store: Store,
    /** Acks per transaction; one request is never split. */
    private readonly maxBatch = 1024,
  ) {}

  submit(userId: string, sessionId: string, acks: readonly AckInput[]): Promise<AckOutcome[]> {
    if (acks.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { userId, sessionId, acks }, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every ack frame already read from the sockets join this commit.
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
      while (this.queue.length > 0 && (n === 0 || n + this.queue[0]!.request.acks.length <= this.maxBatch)) {
        const w = this.queue.shift()!;
        take.push(w);
        n += w.request.acks.length;
      }
      try {
        const outcomes = await this.store.acknowledgeMany(take.map((w) => w.request));
        take.forEach((w, i) => w.resolve(outcomes[i]!));
      } catch (e) {
        if (take.length === 1) {
          take[0]!.reject(e);
          continue;
        }
        // The transaction rolled back whole: run each request on its own so that one failing
        // request (or a transient error) fails only its caller, exactly as before batching.
        for (const w of take) {
          try {
            w.resolve(await this.store.acknowledge(w.request.userId, w.request.sessionId, w.request.acks));
          } catch (err) {
            w.reject(err);
          }
        }
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

interface Waiter<R, O> {
  request: R;
  resolve: (outcome: O) => void;
  reject: (e: unknown) => void;
}

export interface TickBatcherOptions<R, O> {
  /** Work units in one request; a request is never split across two commits. */
  size: (request: R) => number;
  /** Most units per commit (one oversized request still goes alone). */
  maxBatch: number;
  /** Commits several requests as one; resolves with one outcome per request, in order. */
  commit: (requests: R[]) => Promise<O[]>;
  /** When a multi-request commit fails: settle each request on its own. Default: reject them all. */
  retryOne?: (request: R) => Promise<O>;
  /**
   * At most one commit per this many ms while requests keep coming: a request arriving within the
   * interval after the last commit waits for the rest of it, so commits under a steady trickle carry
   * several requests; a request after a quiet spell commits at once. 0: every tick.
   */
  minIntervalMs?: number;
}

/**
 * Group commit (DESIGN.md "Delivery model"): requests queue up while a commit runs, then the next
 * commit takes them all, so many sockets' writes share one transaction. setImmediate lets every
 * request already read from the sockets join the first commit. Callers hear back only after commit.
 */
export class TickBatcher<R, O> {
  private queue: Waiter<R, O>[] = [];
  /** Units waiting for a commit (not counting the one under way). */
  private waiting = 0;
  private running: Promise<void> | undefined;
  private scheduled = false;
  private lastCommitEnd = -Infinity;

  constructor(private readonly opts: TickBatcherOptions<R, O>) {}

  submit(request: R): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.waiting += this.opts.size(request);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    const wait = (this.opts.minIntervalMs ?? 0) - (performance.now() - this.lastCommitEnd);
    if (wait > 0) setTimeout(this.start, wait);
    else setImmediate(this.start);
  }

  private readonly start = (): void => {
    this.scheduled = false;
    this.running = this.commitLoop().finally(() => {
      this.running = undefined;
      this.lastCommitEnd = performance.now();
      if (this.queue.length > 0) this.schedule();
    });
  };

  private async commitLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const take: Waiter<R, O>[] = [];
      let n = 0;
      while (this.queue.length > 0 && (n === 0 || n + this.opts.size(this.queue[0]!.request) <= this.opts.maxBatch)) {
        const w = this.queue.shift()!;
        take.push(w);
        n += this.opts.size(w.request);
      }
      this.waiting -= n;
      try {
        const outcomes = await this.opts.commit(take.map((w) => w.request));
        take.forEach((w, i) => w.resolve(outcomes[i]!));
      } catch (e) {
        const retryOne = this.opts.retryOne;
        if (!retryOne || take.length === 1) {
          for (const w of take) w.reject(e);
          continue;
        }
        // The transaction rolled back whole: one failing request must fail only its own caller.
        for (const w of take) await retryOne(w.request).then(w.resolve, w.reject);
      }
    }
  }

  /** Units submitted and not yet taken into a commit. */
  queued(): number {
    return this.waiting;
  }

  /** Resolves once everything submitted so far is committed (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running || this.scheduled) {
      await (this.running ?? new Promise((r) => setImmediate(r)));
    }
  }
}

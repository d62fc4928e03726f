/**
 * Runs the reads asked for in one turn of the event loop as one query. On the scale-out path a
 * round trip to PostgreSQL costs far more than the lookup it carries (BENCHMARKS.md, step 17), and
 * every send and every wake-up asks for one.
 *
 * A read is only ever answered by a query sent after it was asked for, so it sees every write that
 * completed before it: joining a query already on the wire could return older state.
 */
export class ReadBatcher<Req, Res> {
  private queue: { req: Req; resolve: (v: Res) => void; reject: (e: unknown) => void }[] = [];

  /** `run` answers every request of a batch, in order. */
  constructor(private readonly run: (reqs: readonly Req[]) => Promise<Res[]>) {}

  get(req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      if (this.queue.push({ req, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.run(batch.map((b) => b.req)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}

/**
 * Runs handlers serially per conversation and in parallel across conversations, at most
 * `maxInFlight` messages held at once (queued + running). At the limit it asks its owner to stop
 * reading the socket, so a slow bot is slowed by TCP and the server's flow control, instead of
 * buffering without bound (NODE) or dropping the connection (GO's full buffer).
 */
export interface DispatcherOptions<T> {
  maxInFlight: number;
  /** Must not reject; the dispatcher still guards against it. */
  run(item: T): Promise<void>;
  /** Called with true when the limit is reached, false once there is room again. */
  pressure(saturated: boolean): void;
}

export class Dispatcher<T> {
  private readonly queues = new Map<string, T[]>();
  /** Keys with queued work and no running task, oldest first (fair across conversations). */
  private readonly ready: string[] = [];
  private readonly active = new Set<string>();
  private running = 0;
  private queued = 0;
  private saturated = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: DispatcherOptions<T>) {
    if (!(opts.maxInFlight >= 1)) throw new RangeError("maxInFlight must be at least 1");
  }

  /** Messages accepted and not yet finished. */
  get inFlight(): number {
    return this.running + this.queued;
  }

  push(key: string, item: T): void {
    if (this.stopped) return;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = []));
    q.push(item);
    this.queued++;
    if (!this.active.has(key) && q.length === 1) this.ready.push(key);
    this.pump();
    this.updatePressure();
  }

  /** Drops queued work (it was never acked, so the server redelivers it) and waits for running handlers. */
  stop(): Promise<void> {
    this.stopped = true;
    this.queues.clear();
    this.ready.length = 0;
    this.queued = 0;
    return this.idle();
  }

  /** Resolves when no handler is running and nothing is queued. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.opts.maxInFlight && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const q = this.queues.get(key);
      const item = q?.shift();
      if (item === undefined) continue;
      this.queued--;
      this.running++;
      this.active.add(key);
      void this.execute(key, item);
    }
  }

  private async execute(key: string, item: T): Promise<void> {
    try {
      await this.opts.run(item);
    } catch {
      // run() reports its own failures; nothing may escape as an unhandled rejection.
    }
    this.running--;
    this.active.delete(key);
    const q = this.queues.get(key);
    if (q && q.length > 0) this.ready.push(key);
    else this.queues.delete(key);
    this.pump();
    this.updatePressure();
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private updatePressure(): void {
    const saturated = !this.stopped && this.inFlight >= this.opts.maxInFlight;
    if (saturated === this.saturated) return;
    this.saturated = saturated;
    this.opts.pressure(saturated);
  }
}

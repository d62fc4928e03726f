import { Worker } from "node:worker_threads";

/** The background WAL checkpointer (checkpoint-worker.ts) for one database file. */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;

  /** `onFailure` is told when the worker cannot run: the caller falls back to SQLite's own checkpoints. */
  constructor(path: string, intervalMs: number, onFailure: (err: Error) => void) {
    this.worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), { workerData: { path, intervalMs } });
    // The worker must not keep a finished process alive.
    this.worker.unref();
    this.worker.on("message", (m: { error?: string }) => {
      if (m.error !== undefined) onFailure(new Error(`wal checkpoint failed: ${m.error}`));
    });
    this.worker.on("error", (err) => onFailure(err));
  }

  /** Runs a last checkpoint and closes the worker's connection. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      const done = () => resolve();
      this.worker.once("exit", done);
      // Unreferenced, the worker would let the event loop end while this waits for it.
      this.worker.ref();
      this.worker.postMessage({ op: "stop" });
      // A worker stuck in a busy checkpoint must not hold up shutdown.
      setTimeout(() => void this.worker.terminate(), 5000).unref();
    });
    return this.stopped;
  }
}

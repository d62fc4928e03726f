import { Worker } from "node:worker_threads";

/** Messages between the store's thread and the checkpoint worker (checkpoint-worker.ts). */
export type ToCheckpointer = { op: "held" } | { op: "stop" };
export type FromCheckpointer = { op: "hold" } | { op: "release" } | { op: "error"; error: string } | { op: "stopped" };

/** What the checkpointer asks of the store: pause its writes briefly so the WAL can start over. */
export interface WriteHold {
  /** Stop starting write transactions until `release` (or a timeout of the store's own). */
  hold(): void;
  release(): void;
}

export interface WalCheckpointerOptions {
  path: string;
  intervalMs: number;
  /** WAL size, in frames, past which the worker asks for a hold to rewind it. */
  limitFrames: number;
  writes: WriteHold;
  /** Told when the worker cannot run: the caller falls back to SQLite's own checkpoints. */
  onFailure: (err: Error) => void;
}

/** The background WAL checkpointer for one database file. */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;

  constructor(opts: WalCheckpointerOptions) {
    const { path, intervalMs, limitFrames, writes, onFailure } = opts;
    this.worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), { workerData: { path, intervalMs, limitFrames } });
    // The worker must not keep a finished process alive.
    this.worker.unref();
    this.worker.on("message", (m: FromCheckpointer) => {
      if (m.op === "hold") {
        // Write transactions are synchronous on this thread, so none is open while this runs.
        writes.hold();
        this.post({ op: "held" });
      } else if (m.op === "release") {
        writes.release();
      } else if (m.op === "error") {
        onFailure(new Error(`wal checkpoint failed: ${m.error}`));
      }
    });
    this.worker.on("error", (err) => {
      writes.release();
      onFailure(err);
    });
  }

  private post(m: ToCheckpointer): void {
    this.worker.postMessage(m);
  }

  /** Runs a last checkpoint and closes the worker's connection. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      const done = () => resolve();
      this.worker.once("exit", done);
      // Unreferenced, the worker would let the event loop end while this waits for it.
      this.worker.ref();
      this.post({ op: "stop" });
      // A worker stuck in a busy checkpoint must not hold up shutdown.
      setTimeout(() => void this.worker.terminate(), 5000).unref();
    });
    return this.stopped;
  }
}

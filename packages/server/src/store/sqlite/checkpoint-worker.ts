import { setTimeout as sleep } from "node:timers/promises";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { FromCheckpointer, ToCheckpointer } from "./checkpointer.js";

/**
 * Runs WAL checkpoints on its own connection and thread, so the server's event loop never copies
 * WAL pages into the database file or waits on their fsync (BENCHMARKS.md "Profile": COMMIT, with
 * the checkpoints inside it, was the largest single cost of the batch and drain workloads).
 *
 * A PASSIVE checkpoint never blocks the writer, but under a steady stream of commits it never
 * finishes either: the writer appends while it copies, SQLite only rewinds the WAL to its start
 * when everything in it has been copied, and so the file grew by ~8 KiB per message without end
 * (3.2 GB in 28 s of `batch`), every page lookup slowing with it. So once the WAL passes the limit,
 * the worker copies until little is left, asks the store to hold its writes for the moment one
 * more pass takes (the last frames and the fsyncs), and lets go.
 */
interface Options {
  path: string;
  intervalMs: number;
  limitFrames: number;
}

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const { path, intervalMs, limitFrames } = workerData as Options;
const port = parentPort!;
const db = new Database(path);
db.pragma("busy_timeout = 5000");

/** Passes after the limit is crossed before asking for the hold, whatever is left. */
const MAX_CATCH_UP_PASSES = 4;
/** A pass that found fewer new frames than this leaves little for the held one. */
const SMALL_PASS_FRAMES = 1024;
/** The store lets go of a hold on its own after this; the worker gives up waiting sooner. */
const HOLD_WAIT_MS = 200;

let stopping = false;
let held: (() => void) | undefined;

port.on("message", (m: ToCheckpointer) => {
  if (m.op === "held") held?.();
  else if (m.op === "stop") stopping = true;
});

const post = (m: FromCheckpointer) => port.postMessage(m);

function passive(): CheckpointResult | undefined {
  try {
    return (db.pragma("wal_checkpoint(PASSIVE)") as CheckpointResult[])[0];
  } catch (e) {
    post({ op: "error", error: e instanceof Error ? e.message : String(e) });
    return undefined;
  }
}

async function holdAndFinish(): Promise<void> {
  const granted = new Promise<boolean>((resolve) => {
    held = () => resolve(true);
    setTimeout(() => resolve(false), HOLD_WAIT_MS);
  });
  post({ op: "hold" });
  const ok = await granted;
  held = undefined;
  try {
    if (ok) passive();
  } finally {
    post({ op: "release" });
  }
}

async function run(): Promise<void> {
  while (!stopping) {
    let r = passive();
    if (r && r.log > limitFrames) {
      for (let i = 0; i < MAX_CATCH_UP_PASSES && !stopping; i++) {
        const before = r.log;
        const next = passive();
        if (!next) break;
        r = next;
        if (r.log - before < SMALL_PASS_FRAMES) break;
      }
      if (!stopping) await holdAndFinish();
    }
    if (!stopping) await sleep(intervalMs);
  }
  passive();
  db.close();
  post({ op: "stopped" });
  port.close();
}

void run();

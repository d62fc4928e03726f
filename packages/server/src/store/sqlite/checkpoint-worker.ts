import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

/**
 * Runs WAL checkpoints on its own connection and thread, so the server's event loop never copies
 * WAL pages into the database file or waits on their fsync (BENCHMARKS.md "Profile": COMMIT, with
 * the checkpoints inside it, was the largest single cost of the batch and drain workloads).
 */
interface Options {
  path: string;
  intervalMs: number;
}

const { path, intervalMs } = workerData as Options;
const db = new Database(path);
db.pragma("busy_timeout = 5000");

// PASSIVE never blocks the writer: it copies what no reader still needs and returns.
const checkpoint = () => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (e) {
    parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
};
const timer = setInterval(checkpoint, intervalMs);

parentPort!.on("message", (m: { op: "stop" }) => {
  if (m.op !== "stop") return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort!.postMessage({ stopped: true });
  parentPort!.close();
});

/**
 * What one transaction costs: SqliteStore alone (no server, no sockets) with the pattern of the
 * `latency` workload at moderate load, where group commit has little to group. Each step stores
 * k 1:1 messages in one transaction, then acks them in a second, with a turn of the event loop
 * after each (background work runs there, as in a server). CPU is the whole process's, so the
 * background checkpoint thread's share is in it.
 *
 *   node bench/dist/store-commit-size.js [--sizes 1,2,4,16] [--messages N]
 *
 * Reported per k: CPU µs per message (user/system) and wall µs per message, on a fresh file each.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteStore, type NewMessage } from "@openblaze/server";
import { contactPairs, plainMessage, type ContactPair } from "./store-messages.js";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1,2,4,16" },
    messages: { type: "string", default: "20000" },
  },
});

const PAIRS = 500;
const WARM_MESSAGES = 2000;

const turn = () => new Promise((r) => setImmediate(r));

async function steps(store: SqliteStore, pairs: ContactPair[], k: number, messages: number): Promise<void> {
  for (let i = 0; i < messages / k; i++) {
    const ps = Array.from({ length: k }, (_, j) => pairs[(i * k + j) % pairs.length]!);
    const batch: NewMessage[] = ps.map((p) => plainMessage(p.from, p.conversationId, [p.to.userId]));
    await store.acceptMessages(batch);
    await turn();
    await store.acknowledgeMany(ps.map((p, j) => ({ userId: p.to.userId, sessionId: p.to.sessionId, acks: [{ messageId: batch[j]!.messageId, status: "DELIVERED" as const }] })));
    await turn();
  }
}

const messages = Number(values.messages);
for (const k of values.sizes!.split(",").map(Number)) {
  const dir = mkdtempSync(join(tmpdir(), "openblaze-commit-size-"));
  const store = new SqliteStore({ path: join(dir, "openblaze.db"), backgroundCheckpoints: true });
  try {
    const pairs = await contactPairs(store, PAIRS);
    await steps(store, pairs, k, WARM_MESSAGES);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await steps(store, pairs, k, messages);
    const cpu = process.cpuUsage(cpu0);
    const wallUs = ((performance.now() - t0) * 1000) / messages;
    console.log(
      `${k} message(s) per transaction (+ a transaction for their acks): CPU ${((cpu.user + cpu.system) / messages).toFixed(1)} µs/msg ` +
        `(user ${(cpu.user / messages).toFixed(1)}, system ${(cpu.system / messages).toFixed(1)}), wall ${wallUs.toFixed(1)} µs/msg`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

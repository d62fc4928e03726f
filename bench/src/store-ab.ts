/**
 * SqliteStore alone (no server, no sockets), with the write patterns of `batch`/`drain` and of
 * `group`, for before/after comparisons of store changes: the store module can be loaded from
 * another checkout's build.
 *
 *   node bench/dist/store-ab.js [--repo DIR] [--messages N] [--group-messages N]
 *
 * 1:1 ingest: N messages from 50 senders to 50 offline recipients, 200 per transaction; then
 * acks of every tenth batch's first 100 messages, 100 per transaction (as the ack committer
 * does). Group: messages from one sender to 100 members, 8 per transaction (window 8).
 * Reported: wall µs per message, per ack and per delivery on a fresh file (WAL, NORMAL,
 * background checkpoints as `serve` runs it).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { NewMessage, SqliteStore as SqliteStoreType } from "@openblaze/server";
import { REPO } from "./procs.js";
import { contactPairs, people, plainMessage, type Person } from "./store-messages.js";

const { values } = parseArgs({
  options: {
    repo: { type: "string", default: REPO },
    messages: { type: "string", default: "300000" },
    "group-messages": { type: "string", default: "2400" },
  },
});

const repo = resolve(values.repo!);
const { SqliteStore } = (await import(pathToFileURL(join(repo, "packages/server/dist/src/store/sqlite/sqlite-store.js")).href)) as {
  SqliteStore: typeof SqliteStoreType;
};


async function withStore<T>(fn: (store: SqliteStoreType) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "openblaze-store-ab-"));
  const store = new SqliteStore({ path: join(dir, "openblaze.db"), backgroundCheckpoints: true });
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}


function message(from: Person, conversationId: string, recipients: readonly Person[]): NewMessage {
  return plainMessage(from, conversationId, recipients.map((r) => r.userId));
}

function usSince(t0: bigint, n: number): number {
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

async function oneToOne(total: number): Promise<{ acceptUs: number; ackUs: number }> {
  return withStore(async (store) => {
    const pairs = await contactPairs(store, 50);
    const toAck: { to: Person; ids: string[] }[] = [];
    const batches = Math.ceil(total / 200);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batches; i++) {
      const a = pairs[i % 50]!;
      const b = pairs[(i + 1) % 50]!;
      const first = Array.from({ length: 100 }, () => message(a.from, a.conversationId, [a.to]));
      await store.acceptMessages([...first, ...Array.from({ length: 100 }, () => message(b.from, b.conversationId, [b.to]))]);
      if (i % 10 === 0) toAck.push({ to: a.to, ids: first.map((m) => m.messageId) });
      // A turn of the event loop between commits, as a server has: background work (moving recent
      // message ids to their table) runs in those turns.
      await new Promise((r) => setImmediate(r));
    }
    const acceptUs = usSince(t0, batches * 200);
    const t1 = process.hrtime.bigint();
    for (const { to, ids } of toAck) {
      await store.acknowledgeMany([{ userId: to.userId, sessionId: to.sessionId, acks: ids.map((messageId) => ({ messageId, status: "DELIVERED" as const })) }]);
    }
    return { acceptUs, ackUs: usSince(t1, toAck.length * 100) };
  });
}

async function group(total: number): Promise<{ deliveryUs: number }> {
  return withStore(async (store) => {
    const [sender, ...members] = await people(store, 101);
    const conversationId = randomUUID();
    await store.createConversation(
      { conversationId, category: "GROUP", creatorId: sender!.userId, name: "", announcement: "", codeId: "" },
      [sender!, ...members].map((p) => ({ userId: p.userId, role: "" as const })),
    );
    const commits = Math.ceil(total / 8);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < commits; i++) await store.acceptMessages(Array.from({ length: 8 }, () => message(sender!, conversationId, members)));
    return { deliveryUs: usSince(t0, commits * 8 * members.length) };
  });
}

const o = await oneToOne(Number(values.messages));
const g = await group(Number(values["group-messages"]));
console.log(
  `${repo}: 1:1 accept ${o.acceptUs.toFixed(1)} µs/msg, ack ${o.ackUs.toFixed(1)} µs/ack; group fan-out ${g.deliveryUs.toFixed(1)} µs/delivery`,
);

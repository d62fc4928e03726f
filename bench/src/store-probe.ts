/**
 * Store probe: drives the real SqliteStore (no server, no sockets) with the write pattern of the
 * benchmark workloads under different SQLite settings, to test what the profile suggests without
 * touching server code. Each variant runs in its own fresh database file.
 *
 *   node bench/dist/store-probe.js [seconds-per-variant]
 *
 * Reported per variant: stored+acked messages per second and CPU µs per message, split user/system.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uniqueConversationId } from "@openblaze/protocol";
import { SqliteStore, UserService, type NewMessage } from "@openblaze/server";
import { plainMessage } from "./store-messages.js";

interface Variant {
  name: string;
  pragmas: string[];
  /** Acks per transaction: 1 = today's one transaction per ACKNOWLEDGE_MESSAGE_RECEIPT frame. */
  ackBatch: number;
  /** Skip the per-message getConversation/listParticipants reads (an in-memory cache). */
  cachedLookups: boolean;
  /** 0: no acks (batch ingest, recipients offline). */
  ackEvery?: number;
  batch?: number;
}

const VARIANTS: Variant[] = [
  { name: "as shipped (NORMAL, 2 MB cache, autocheckpoint 1000), acks 1/txn", pragmas: [], ackBatch: 1, cachedLookups: false },
  { name: "acks group-committed (64/txn)", pragmas: [], ackBatch: 64, cachedLookups: false },
  { name: "+ conversation/participant lookups cached", pragmas: [], ackBatch: 64, cachedLookups: true },
  { name: "+ cache_size 64 MB", pragmas: ["cache_size = -65536"], ackBatch: 64, cachedLookups: true },
  { name: "+ wal_autocheckpoint 10000", pragmas: ["cache_size = -65536", "wal_autocheckpoint = 10000"], ackBatch: 64, cachedLookups: true },
  { name: "+ mmap_size 256 MB", pragmas: ["cache_size = -65536", "wal_autocheckpoint = 10000", "mmap_size = 268435456"], ackBatch: 64, cachedLookups: true },
  { name: "+ locking_mode EXCLUSIVE (no fcntl per txn; breaks CLI writes while serving)", pragmas: ["cache_size = -65536", "wal_autocheckpoint = 10000", "locking_mode = EXCLUSIVE"], ackBatch: 64, cachedLookups: true },
  { name: "as shipped but synchronous=FULL, acks 1/txn (durability reference)", pragmas: ["synchronous = FULL"], ackBatch: 1, cachedLookups: false },
  { name: "ingest only (batch workload: 256/txn, no acks), as shipped", pragmas: [], ackBatch: 1, cachedLookups: false, ackEvery: 0, batch: 256 },
  { name: "ingest only, lookups cached", pragmas: [], ackBatch: 1, cachedLookups: true, ackEvery: 0, batch: 256 },
  { name: "ingest only, lookups cached + cache_size 64 MB + wal_autocheckpoint 10000", pragmas: ["cache_size = -65536", "wal_autocheckpoint = 10000"], ackBatch: 1, cachedLookups: true, ackEvery: 0, batch: 256 },
];


async function run(v: Variant, seconds: number): Promise<{ rate: number; userUs: number; sysUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "openblaze-probe-"));
  const store = new SqliteStore({ path: join(dir, "openblaze.db") });
  try {
    for (const p of v.pragmas) store.db.pragma(p);
    const users = new UserService(store);
    const people: { userId: string; sessionId: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const a = await users.createAccount(`u${i}`, false);
      people.push({ userId: a.user.userId, sessionId: a.sessionId });
    }
    const convs = people.map((p, i) => {
      const peer = people[i ^ 1]!;
      return { from: p, to: peer, conv: uniqueConversationId(p.userId, peer.userId) };
    });
    for (const c of convs.filter((_, i) => i % 2 === 0)) {
      await store.createConversation({ conversationId: c.conv, category: "CONTACT", creatorId: c.from.userId, name: "", announcement: "", codeId: c.conv }, [
        { userId: c.from.userId, role: "" },
        { userId: c.to.userId, role: "" },
      ]);
    }
    const sessionOf = new Map(people.map((p) => [p.userId, p]));
    const deadline = performance.now() + seconds * 1000;
    const cpu0 = process.cpuUsage();
    let n = 0;
    let k = 0;
    while (performance.now() < deadline) {
      // One group commit of 128 messages, like p2p at ~100 sockets x window 8 under load.
      const batch: NewMessage[] = [];
      for (let i = 0; i < (v.batch ?? 128); i++) {
        const c = convs[k++ % convs.length]!;
        if (!v.cachedLookups) {
          await store.getConversation(c.conv);
          await store.listParticipants(c.conv);
        }
        batch.push(plainMessage(c.from, c.conv, [c.to.userId]));
      }
      await store.acceptMessages(batch);
      // The pushes are read back (pendingMessages), then every recipient acks.
      for (let i = 0; v.ackEvery !== 0 && i < batch.length; i += v.ackBatch) {
        const part = batch.slice(i, i + v.ackBatch);
        if (v.ackBatch === 1) {
          const m = part[0]!;
          const to = sessionOf.get(m.recipientIds[0]!)!;
          await store.acknowledge(to.userId, to.sessionId, [{ messageId: m.messageId, status: "DELIVERED" }]);
        } else {
          // A batched ack path would group by session; here every ack goes through one transaction.
          store.db.transaction(() => {
            for (const m of part) {
              const to = sessionOf.get(m.recipientIds[0]!)!;
              void store.acknowledge(to.userId, to.sessionId, [{ messageId: m.messageId, status: "DELIVERED" }]);
            }
          })();
        }
      }
      n += batch.length;
    }
    const cpu = process.cpuUsage(cpu0);
    return { rate: n / seconds, userUs: cpu.user / n, sysUs: cpu.system / n };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const seconds = Number(process.argv[2] ?? 5);
process.stdout.write(`store probe: SqliteStore.acceptMessages (128/txn, 1 recipient) + acknowledge, ${seconds} s per variant, fresh db each; rate is wall-clock (checkpoint fsyncs block), µs/msg is CPU\n`);
for (const v of VARIANTS) {
  const r = await run(v, seconds);
  process.stdout.write(
    `${Math.round(r.rate).toLocaleString("en-US").padStart(8)} msgs/s  ${(r.userUs + r.sysUs).toFixed(1).padStart(6)} µs/msg (user ${r.userUs.toFixed(1)}, sys ${r.sysUs.toFixed(1)})  ${v.name}\n`,
  );
}

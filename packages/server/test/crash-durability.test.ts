import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { newUuid, uniqueConversationId } from "@openblaze/protocol";
import { sqlitePath } from "../src/config.js";
import { b64, type Frame, type TestUser } from "./harness.js";
import { ChildServer, SKIP_NO_CLI, cliUser, prng, signedHttp, sleep } from "./support/child-server.js";
import { RawClient } from "./support/raw-client.js";

/**
 * Crash durability (RELIABILITY.md §1). The server runs as its own process (`openblaze serve`)
 * under steady load from several clients and is killed at random points, SIGKILL and SIGTERM,
 * round after round, restarting each time on the same data directory. After every kill:
 *   - every message whose CREATE_MESSAGE / CREATE_PLAIN_MESSAGES reply or POST /messages 200 the
 *     sender got is delivered to every recipient (lost = 0);
 *   - no recipient gets a message again after the server confirmed its ack, nor twice on one socket
 *     (duplicates = 0);
 *   - a message in flight at the kill is all there or not there: every recipient or none, a whole
 *     batch or none of it; checked through the protocol and in the SQLite file itself (opened
 *     read-only while the server is down): mailbox and status rows for every stored message;
 *   - a sender retrying its unanswered sends with the same message_id gets success and causes no
 *     second delivery.
 * OPENBLAZE_CRASH_KILLS / OPENBLAZE_CRASH_TERMS / OPENBLAZE_SEED scale and replay the run.
 */

const KILLS = Number(process.env.OPENBLAZE_CRASH_KILLS ?? 5);
const TERMS = Number(process.env.OPENBLAZE_CRASH_TERMS ?? 2);
const SEED = Number(process.env.OPENBLAZE_SEED ?? 0x5eed);

type Kind = "group" | "contact";
interface Sent {
  kind: Kind;
  batch: string | undefined;
  params: Record<string, unknown>;
  confirmed: boolean;
  via: "ws" | "http" | "batch";
}

describe("crash durability (server as a child process)", { skip: SKIP_NO_CLI }, () => {
  it(`${KILLS} SIGKILL and ${TERMS} SIGTERM rounds under load: nothing acknowledged lost, nothing twice, nothing half-stored`, { timeout: 600_000 }, async (t) => {
    const rand = prng(SEED);
    const dataDir = await mkdtemp(join(tmpdir(), "openblaze-crash-"));
    let server: ChildServer | undefined;
    try {
      // Users come from the CLI, straight into the data directory, before the first start.
      const s1 = await cliUser(dataDir, "sender one", true);
      const [s2, s3, r1, r2] = await Promise.all([cliUser(dataDir, "sender two"), cliUser(dataDir, "http sender"), cliUser(dataDir, "live reader"), cliUser(dataDir, "offline reader")]);
      const recipients = [r1!, r2!];
      const sent = new Map<string, Sent>();
      const batches = new Map<string, string[]>();
      const contact = uniqueConversationId(s2!.userId, r2!.userId);
      let group = "";

      const received = new Map<string, Set<string>>(recipients.map((r) => [r.userId, new Set()]));
      const ackSent = new Map<string, Set<string>>(recipients.map((r) => [r.userId, new Set()]));
      const ackConfirmed = new Map<string, Set<string>>(recipients.map((r) => [r.userId, new Set()]));
      const duplicates: string[] = [];
      const lost: string[] = [];
      const badReplies: string[] = [];
      const refused = new Set<string>();
      const stats = { rounds: 0, kills: 0, terms: 0, inFlightAtKill: 0, inFlightCommitted: 0, retried: 0, termInFlight: 0, termAnswered: 0, termRefused: 0, termUnanswered: 0 };

      const recipientsOf = (m: Sent): TestUser[] => (m.kind === "group" ? recipients : [r2!]);

      /** A push arrived for `r` on one socket: count it, flag a duplicate. */
      const onPushFor = (r: TestUser, seenOnSocket: Set<string>, acks: string[]) => (f: Frame) => {
        if (f.action !== "CREATE_MESSAGE" || !f.data?.message_id || f.data.category === "") return;
        const id = f.data.message_id as string;
        if (f.data.category === "SYSTEM_CONVERSATION") {
          acks.push(id);
          return;
        }
        if (ackConfirmed.get(r.userId)!.has(id)) duplicates.push(`${id} again for ${r.userId} after its ack was confirmed`);
        if (seenOnSocket.has(id)) duplicates.push(`${id} twice on one socket for ${r.userId}`);
        seenOnSocket.add(id);
        received.get(r.userId)!.add(id);
        acks.push(id);
      };

      async function flushAcks(c: RawClient, r: TestUser, acks: string[]): Promise<void> {
        while (acks.length > 0 && c.open) {
          const ids = acks.splice(0, 100);
          for (const id of ids) ackSent.get(r.userId)!.add(id);
          const reply = await c.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", { messages: ids.map((message_id) => ({ message_id, status: "READ" })) });
          if (reply.error) badReplies.push(`ack: ${JSON.stringify(reply.error)}`);
          else for (const id of ids) ackConfirmed.get(r.userId)!.add(id);
        }
      }

      /** After a restart: read `r`'s whole mailbox, check every confirmed message arrives, ack all. */
      async function drain(url: string, r: TestUser): Promise<void> {
        const c = await RawClient.open(url, r);
        const seen = new Set<string>();
        const acks: string[] = [];
        c.onPush = onPushFor(r, seen, acks);
        const list = await c.request("LIST_PENDING_MESSAGES");
        assert.equal(list.error, undefined);
        // Must come: acknowledged to its sender and never acked by this reader. (An ack sent but
        // unanswered at a kill may or may not have committed: that message may come or not.)
        const expected = [...sent].filter(([id, m]) => m.confirmed && recipientsOf(m).includes(r) && !ackSent.get(r.userId)!.has(id)).map(([id]) => id);
        const deadline = Date.now() + 20_000;
        while (expected.some((id) => !seen.has(id)) && Date.now() < deadline) await sleep(20);
        await sleep(300); // anything extra (a duplicate) shows up now
        for (const id of expected) if (!seen.has(id)) lost.push(`${id} for ${r.userId}`);
        await flushAcks(c, r, acks);
        c.close();
        await c.closed;
      }

      /** During a graceful stop, requests read after it began are refused with 7000 (not processed). */
      function refusedAtStop(reply: Frame, id: string): boolean {
        if (reply.error?.code !== 7000 || !/shutting down/.test(reply.error.extra?.reason ?? "")) return false;
        refused.add(id);
        return true;
      }

      function groupParams(text: string): Record<string, unknown> {
        return { conversation_id: group, message_id: newUuid(), category: "PLAIN_TEXT", data: b64(text) };
      }

      /** Keeps `window` CREATE_MESSAGE requests in flight until the socket dies. */
      async function wsSender(c: RawClient, name: string, window: number): Promise<void> {
        const inflight = new Set<Promise<void>>();
        let n = 0;
        while (c.open) {
          while (inflight.size < window && c.open) {
            const params = groupParams(`${name} ${n++}`);
            const id = params.message_id as string;
            sent.set(id, { kind: "group", batch: undefined, params, confirmed: false, via: "ws" });
            const p: Promise<void> = c.request("CREATE_MESSAGE", params).then(
              (reply) => {
                if (refusedAtStop(reply, id)) return;
                if (reply.error) badReplies.push(`CREATE_MESSAGE: ${JSON.stringify(reply.error)}`);
                else sent.get(id)!.confirmed = true;
              },
              () => {},
            );
            inflight.add(p);
            void p.finally(() => inflight.delete(p));
          }
          await Promise.race(inflight);
        }
        await Promise.allSettled(inflight);
      }

      /** CREATE_PLAIN_MESSAGES of 10 to the offline reader, two batches in flight. */
      async function batchSender(c: RawClient): Promise<void> {
        const inflight = new Set<Promise<void>>();
        let n = 0;
        while (c.open) {
          while (inflight.size < 2 && c.open) {
            const batch = newUuid();
            const messages = Array.from({ length: 10 }, (_, i) => ({
              conversation_id: contact,
              recipient_id: r2!.userId,
              message_id: newUuid(),
              category: "PLAIN_TEXT",
              data: b64(`batch ${n} item ${i}`),
            }));
            n++;
            batches.set(batch, messages.map((m) => m.message_id));
            for (const m of messages) sent.set(m.message_id, { kind: "contact", batch, params: m, confirmed: false, via: "batch" });
            const p: Promise<void> = c.request("CREATE_PLAIN_MESSAGES", { messages }).then(
              (reply) => {
                if (refusedAtStop(reply, messages[0]!.message_id)) return;
                if (reply.error) badReplies.push(`CREATE_PLAIN_MESSAGES: ${JSON.stringify(reply.error)}`);
                else for (const m of messages) sent.get(m.message_id)!.confirmed = true;
              },
              () => {},
            );
            inflight.add(p);
            void p.finally(() => inflight.delete(p));
          }
          await Promise.race(inflight);
        }
        await Promise.allSettled(inflight);
      }

      /** POST /messages, four in flight, until the server is gone. */
      async function httpSender(url: string, alive: () => boolean): Promise<void> {
        let n = 0;
        const one = async (): Promise<void> => {
          while (alive()) {
            const params = groupParams(`http ${n++}`);
            const id = params.message_id as string;
            sent.set(id, { kind: "group", batch: undefined, params, confirmed: false, via: "http" });
            try {
              const res = await signedHttp(url, s3!, "POST", "/messages", params);
              if (res.status === 200 && res.body?.data?.message_id === id) sent.get(id)!.confirmed = true;
              // A request arriving on a kept-alive connection once a graceful stop began: refused, not processed.
              else if (res.status === 503) refused.add(id);
              else badReplies.push(`POST /messages: ${res.status} ${JSON.stringify(res.body)}`);
            } catch {
              return; // connection refused or reset: the server is going down
            }
          }
        };
        await Promise.all([one(), one(), one(), one()]);
      }

      /** Read-only look at the database of a dead server: nothing half-stored, nothing orphaned. */
      function inspectFile(): void {
        const db = new Database(sqlitePath({ dataDir }), { readonly: true, fileMustExist: true });
        try {
          assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
          const orphans = db.prepare("SELECT count(*) AS n FROM mailbox mb LEFT JOIN messages m ON m.id = mb.seq WHERE m.id IS NULL").get() as { n: number };
          assert.equal(orphans.n, 0, "mailbox rows without their message");
          // Every stored message has a status row per recipient: 4 in the group, 1 in the contact conversation.
          const wrongStatus = db
            .prepare(
              `SELECT m.message_id, m.conversation_id, count(s.user_id) AS n FROM messages m LEFT JOIN message_status s ON s.message_row = m.id
               WHERE m.conversation_id IN (?, ?) AND m.category = 'PLAIN_TEXT' GROUP BY m.message_id
               HAVING (m.conversation_id = ? AND n != 4) OR (m.conversation_id = ? AND n != 1)`,
            )
            .all(group, contact, group, contact);
          assert.deepEqual(wrongStatus, [], "stored messages without all their recipients");
          const stored = new Set((db.prepare("SELECT message_id FROM messages").all() as { message_id: string }[]).map((r) => r.message_id));
          const r2Mailbox = new Set(
            (db.prepare("SELECT m.message_id FROM mailbox mb JOIN messages m ON m.id = mb.seq WHERE mb.session_id = ?").all(r2!.sessionId) as { message_id: string }[]).map((r) => r.message_id),
          );
          const r1Mailbox = new Set(
            (db.prepare("SELECT m.message_id FROM mailbox mb JOIN messages m ON m.id = mb.seq WHERE mb.session_id = ?").all(r1!.sessionId) as { message_id: string }[]).map((r) => r.message_id),
          );
          for (const [id, m] of sent) {
            if (m.confirmed) assert.ok(stored.has(id), `acknowledged ${id} (${m.via}) is in the file`);
            if (!stored.has(id)) continue;
            // The offline reader acks only between kills: it has a mailbox row exactly when it has not acked.
            assert.equal(r2Mailbox.has(id), !ackConfirmed.get(r2!.userId)!.has(id), `offline reader's mailbox row for ${id}`);
            if (m.kind === "group") {
              if (!ackSent.get(r1!.userId)!.has(id)) assert.ok(r1Mailbox.has(id), `live reader's mailbox row for ${id}`);
              if (ackConfirmed.get(r1!.userId)!.has(id)) assert.ok(!r1Mailbox.has(id), `acked ${id} left the live reader's mailbox`);
            }
          }
          for (const ids of batches.values()) {
            const n = ids.filter((id) => stored.has(id)).length;
            assert.ok(n === 0 || n === ids.length, `a batch is stored whole or not at all (${n}/${ids.length})`);
          }
          stats.inFlightCommitted += [...sent].filter(([id, m]) => !m.confirmed && stored.has(id)).length;
        } finally {
          db.close();
        }
      }

      const kinds: ("SIGKILL" | "SIGTERM")[] = [...Array<"SIGKILL">(KILLS).fill("SIGKILL"), ...Array<"SIGTERM">(TERMS).fill("SIGTERM")];
      for (let i = kinds.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
      }

      for (const signal of [...kinds, undefined]) {
        server = await ChildServer.start(dataDir);
        const url = server.httpUrl;
        if (group === "") {
          const g = await signedHttp(url, s1!, "POST", "/conversations", {
            category: "GROUP",
            name: "crash",
            participants: [s2!, s3!, r1!, r2!].map((u) => ({ user_id: u.userId })),
          });
          assert.equal(g.status, 200, JSON.stringify(g.body));
          group = g.body.data.conversation_id;
        }

        // 1. Everything acknowledged so far reaches both readers; nothing comes twice.
        for (const r of recipients) await drain(server.wsUrl, r);
        // 2. In-flight messages of the last kill: every recipient or none; a batch whole or not at all.
        for (const [id, m] of sent) {
          if (m.confirmed || m.kind !== "group") continue;
          assert.equal(received.get(r1!.userId)!.has(id), received.get(r2!.userId)!.has(id), `unacknowledged ${id} reached one reader but not the other`);
        }
        for (const ids of batches.values()) {
          const n = ids.filter((id) => received.get(r2!.userId)!.has(id)).length;
          assert.ok(n === 0 || n === ids.length, `batch delivered in part (${n}/${ids.length})`);
        }
        // 3. Senders retry what went unanswered, with the same ids: success, and no second delivery.
        const unanswered = [...sent].filter(([, m]) => !m.confirmed);
        stats.retried += unanswered.length;
        const c1 = await RawClient.open(server.wsUrl, s1!);
        const c2 = await RawClient.open(server.wsUrl, s2!);
        for (const [id, m] of unanswered) {
          if (m.via === "ws") {
            const reply = await c1.request("CREATE_MESSAGE", m.params);
            assert.equal(reply.error, undefined, `retry of ${id}: ${JSON.stringify(reply.error)}`);
          } else if (m.via === "http") {
            const res = await signedHttp(url, s3!, "POST", "/messages", m.params);
            assert.equal(res.status, 200, `retry of ${id}: ${JSON.stringify(res.body)}`);
          } else continue;
          m.confirmed = true;
        }
        for (const [batch, ids] of batches) {
          if (ids.every((id) => sent.get(id)!.confirmed)) continue;
          const reply = await c2.request("CREATE_PLAIN_MESSAGES", { messages: ids.map((id) => sent.get(id)!.params) });
          assert.equal(reply.error, undefined, `retry of batch ${batch}: ${JSON.stringify(reply.error)}`);
          for (const id of ids) sent.get(id)!.confirmed = true;
        }
        if (signal === undefined) {
          for (const r of recipients) await drain(server.wsUrl, r);
          c1.terminate();
          c2.terminate();
          break;
        }

        // 4. Load: two WS senders (one single, one batched), one HTTP sender, one live reader acking.
        stats.rounds++;
        const live = await RawClient.open(server.wsUrl, r1!);
        const liveAcks: string[] = [];
        live.onPush = onPushFor(r1!, new Set(), liveAcks);
        await live.request("LIST_PENDING_MESSAGES");
        const ackLoop = (async () => {
          while (live.open) {
            await flushAcks(live, r1!, liveAcks).catch(() => {});
            await sleep(10);
          }
        })();
        let alive = true;
        const load = Promise.all([wsSender(c1, "s1", 16), batchSender(c2), httpSender(url, () => alive)]);

        // 5. Kill at a random point.
        await sleep(250 + Math.floor(rand() * 900));
        const pendingAtSignal = [...sent.values()].filter((m) => !m.confirmed);
        const exit = await server.kill(signal);
        alive = false;
        await load;
        await ackLoop;
        for (const c of [c1, c2, live]) c.terminate();
        const inFlight = [...sent.values()].filter((m) => !m.confirmed).length;
        stats.inFlightAtKill += inFlight;
        if (signal === "SIGKILL") {
          stats.kills++;
          assert.equal(exit.signal, "SIGKILL");
        } else {
          stats.terms++;
          assert.equal(exit.code, 0, `graceful stop exits 0:\n${server.output}`);
          // Requests in flight at SIGTERM: answered, or their socket closed 1001 (retry is safe).
          stats.termInFlight += pendingAtSignal.length;
          stats.termAnswered += pendingAtSignal.filter((m) => m.confirmed).length;
          const notAnswered = [...sent].filter(([, m]) => !m.confirmed);
          const wasRefused = ([id, m]: [string, Sent]) => refused.has(m.batch ? batches.get(m.batch)![0]! : id);
          stats.termRefused += notAnswered.filter(wasRefused).length;
          stats.termUnanswered += notAnswered.filter((e) => !wasRefused(e)).length;
          assert.ok(c1.closeCode === 1001 || c1.closeCode === 1006, `close code ${c1.closeCode}`);
        }
        inspectFile();
      }

      // Finally: every acknowledged message reached each of its recipients at some point.
      for (const [id, m] of sent) {
        for (const r of recipientsOf(m)) if (m.confirmed && !received.get(r.userId)!.has(id)) lost.push(`${id} never reached ${r.userId}`);
      }
      const confirmed = [...sent.values()].filter((m) => m.confirmed).length;
      t.diagnostic(
        `seed ${SEED}: ${stats.kills} SIGKILL + ${stats.terms} SIGTERM survived; ${confirmed} acknowledged messages checked ` +
          `(${[...sent.values()].filter((m) => m.kind === "group").length} to 2 readers, ${batches.size} batches of 10); ` +
          `${stats.inFlightAtKill} in flight at kills, ${stats.inFlightCommitted} of them committed whole; ${stats.retried} retried; ` +
          `SIGTERM: of ${stats.termInFlight} messages in flight at the signal ${stats.termAnswered} were answered, then ${stats.termRefused} refused (WS 7000, HTTP 503) and ${stats.termUnanswered} cut off by the close; lost ${lost.length}, duplicates ${duplicates.length}`,
      );
      assert.deepEqual(badReplies, []);
      assert.deepEqual(lost, []);
      assert.deepEqual(duplicates, []);
      assert.equal(stats.kills + stats.terms, KILLS + TERMS);
    } finally {
      await server?.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

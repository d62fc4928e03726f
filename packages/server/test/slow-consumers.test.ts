import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeFrame, newUuid, uniqueConversationId } from "@openblaze/protocol";
import { textParams, type TestSocket, type TestUser } from "./harness.js";
import { ChildServer, RssSampler, SKIP_NO_CLI, cliUser, openSocket as open, sleep } from "./support/child-server.js";

/**
 * Slow consumers and backpressure (RELIABILITY.md §5), against a server process whose RSS is read
 * from /proc: a client that stops reading costs the server a bounded buffer, not memory per message
 * (its mail waits in its mailbox and arrives, in order, once it reads again); a client that stops
 * reading but keeps sending is no longer read (its replies cannot pile up); a client that never acks
 * costs nothing that grows; and other clients keep their latency meanwhile.
 */

const MB = 1024;
/** Messages held for the paused reader, and their size: 2,000 × 48 KB ≈ 92 MB by default. */
const MAIL = Number(process.env.OPENBLAZE_SLOW_MESSAGES ?? 2_000);
const MAIL_BYTES = 48 * 1024;
const MAIL_MB = Math.round((MAIL * MAIL_BYTES) / 1024 / 1024);
/** The never-acking client gets this many small messages. */
const UNACKED = 10_000;

function tcp(s: TestSocket): { pause(): void; resume(): void } {
  return (s.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe("slow consumers (server as a child process)", { skip: SKIP_NO_CLI }, () => {
  // Every socket is destroyed at the end: a paused one would never notice the server is gone.
  const sockets: TestSocket[] = [];
  const openSocket = async (url: string, u: TestUser) => {
    const s = await open(url, u);
    sockets.push(s);
    return s;
  };
  let dataDir: string;
  let server: ChildServer;
  let bot: TestUser;
  let p: TestUser;
  let q: TestUser;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "openblaze-slow-"));
    bot = await cliUser(dataDir, "bot", true);
    [p, q] = await Promise.all([cliUser(dataDir, "p"), cliUser(dataDir, "q")]);
    // A capped heap makes V8 collect promptly, so RSS tracks live memory rather than garbage.
    server = await ChildServer.start(dataDir, { env: { NODE_OPTIONS: "--max-old-space-size=128" } });
  });
  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await server.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  });

  /** p sends to q; time from send to q's push, `n` times. */
  async function pqLatency(ps: TestSocket, qs: TestSocket, n: number): Promise<number[]> {
    const conv = uniqueConversationId(p.userId, q.userId);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = textParams(conv, q.userId, `ping ${i}`);
      const t0 = performance.now();
      ps.send({ id: newUuid(), action: "CREATE_MESSAGE", params: m });
      const push = await qs.next((f) => f.data?.message_id === m.message_id && f.data.category === "PLAIN_TEXT", 5000);
      out.push(performance.now() - t0);
      assert.ok(push);
      qs.send({ id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: m.message_id, status: "READ" } });
      ps.frames.length = 0;
      qs.frames.length = 0;
    }
    return out;
  }

  it(`a reader that stops reading: ${MAIL} messages (${MAIL_MB} MB) wait in its mailbox, not in server memory; others unaffected; all arrive in order once it reads`, { timeout: 300_000 }, async (t) => {
    const slow = await cliUser(dataDir, "slow reader");
    const ps = await openSocket(server.wsUrl, p);
    const qs = await openSocket(server.wsUrl, q);
    await qs.request("LIST_PENDING_MESSAGES");
    await pqLatency(ps, qs, 30);
    const base = await pqLatency(ps, qs, 100);

    // The bot fills the reader's mailbox with far more than any socket buffer holds, first.
    const bs = await openSocket(server.wsUrl, bot);
    const conv = uniqueConversationId(bot.userId, slow.userId);
    const ids: string[] = [];
    const inflight = new Set<Promise<void>>();
    for (let i = 0; i < MAIL; i++) {
      const m = textParams(conv, slow.userId, randomBytes((MAIL_BYTES * 3) / 4).toString("base64"));
      ids.push(m.message_id);
      const p = bs.request("CREATE_MESSAGE", m).then((r) => assert.equal(r.error, undefined, JSON.stringify(r.error)));
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= 32) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    bs.frames.length = 0;
    const sampler = new RssSampler(server, 50);
    await sleep(1000);
    const rssBefore = sampler.sample();

    // Then the reader subscribes and stops reading: the server pushes until the socket's buffers are
    // full and stops. Had it queued the whole backlog for the socket, RSS would grow by ~MAIL_MB.
    const ss = await openSocket(server.wsUrl, slow);
    ss.send({ id: newUuid(), action: "LIST_PENDING_MESSAGES" });
    tcp(ss).pause();
    await sleep(1500);
    const during = await pqLatency(ps, qs, 100);
    const rssPaused = sampler.sample();

    // It reads again: everything, once, in order.
    tcp(ss).resume();
    const got: string[] = [];
    const seen = new Set<string>();
    while (got.length < ids.length) {
      const f = await ss.push(10_000);
      assert.ok(!seen.has(f.data.message_id), "no duplicate");
      seen.add(f.data.message_id);
      got.push(f.data.message_id);
      if (got.length % 100 === 0) {
        ss.send({ id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPTS", params: { messages: got.slice(-100).map((message_id) => ({ message_id, status: "READ" })) } });
      }
    }
    assert.deepEqual(got, ids);
    sampler.stop();
    const mb = (kb: number) => Math.round(kb / MB);
    t.diagnostic(
      `${ids.length} messages (${MAIL_MB} MB) waited for a paused reader; server RSS ${mb(rssBefore)} MB before it subscribed, ` +
        `${mb(rssPaused)} MB after it subscribed and stopped reading, peak ${mb(sampler.peakKb)} MB; p→q push latency p50 ${median(base).toFixed(2)} ms before, ${median(during).toFixed(2)} ms while paused`,
    );
    // What it may hold: the push-frame cache (16 MiB) and one socket's buffer (1 MiB), plus slack.
    assert.ok(rssPaused - rssBefore < 40 * MB, `RSS grew ${mb(rssPaused - rssBefore)} MB while ${MAIL_MB} MB waited`);
    // Delivering it all afterwards stays bounded too (the push cache is capped in bytes, not only in count).
    assert.ok(sampler.peakKb - rssBefore < 120 * MB, `RSS peaked ${mb(sampler.peakKb - rssBefore)} MB above the start while delivering`);
    assert.ok(median(during) < Math.max(10 * median(base), 25), "others unaffected");
    for (const s of [ps, qs, ss, bs]) s.close();
  });

  it("a client that sends but never reads is no longer read once its replies fill the buffer", { timeout: 120_000 }, async (t) => {
    const greedy = await cliUser(dataDir, "greedy");
    const gs = await openSocket(server.wsUrl, greedy);
    const sampler = new RssSampler(server, 50);
    const rssBefore = sampler.sample();
    tcp(gs).pause();
    // Each request's id is ~90 KB of noise: its ERROR reply echoes it, ~90 KB each, 1,500 of them.
    const frames = Array.from({ length: 8 }, () => encodeFrame({ id: randomBytes(66 * 1024).toString("base64"), action: "NO_SUCH_ACTION" }));
    for (let i = 0; i < 1500; i++) gs.ws.send(frames[i % frames.length]!, { binary: true });
    await sleep(2000);
    const rssStuck = sampler.sample();
    // The server stopped reading: most of what was sent still sits on the client.
    const unsent = gs.ws.bufferedAmount;
    // Others are served meanwhile.
    const other = await openSocket(server.wsUrl, p);
    assert.equal((await other.request("LIST_PENDING_MESSAGES")).error, undefined);
    other.close();
    tcp(gs).resume();
    const deadline = Date.now() + 60_000;
    while (gs.frames.length < 1500 && Date.now() < deadline) await sleep(50);
    sampler.stop();
    const mb = (kb: number) => Math.round(kb / MB);
    t.diagnostic(
      `1500 requests with ~90 KB replies from a client not reading: server RSS ${mb(rssBefore)} MB before, ${mb(rssStuck)} MB stuck, ` +
        `peak ${mb(sampler.peakKb)} MB; ${Math.round(unsent / 1024 / 1024)} MB held back on the client; ${gs.frames.length} replies once it read`,
    );
    assert.equal(gs.frames.length, 1500, "every request answered once the client reads");
    assert.ok(gs.frames.every((f) => f.error?.code === 400));
    assert.ok(unsent > 50 * 1024 * 1024, "the server stopped reading the socket");
    assert.ok(sampler.peakKb - rssBefore < 100 * MB, `RSS grew ${mb(sampler.peakKb - rssBefore)} MB`);
    gs.close();
  });

  it("a client that reads but never acks: nothing grows per message on the server; a reconnect gets everything once", { timeout: 120_000 }, async (t) => {
    const lazy = await cliUser(dataDir, "never acks");
    const ls = await openSocket(server.wsUrl, lazy);
    await ls.request("LIST_PENDING_MESSAGES");
    const bs = await openSocket(server.wsUrl, bot);
    const conv = uniqueConversationId(bot.userId, lazy.userId);
    const sampler = new RssSampler(server, 50);
    const rss: number[] = [];
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let b = 0; b < UNACKED / 400; b++) {
        const messages = Array.from({ length: 100 }, () => textParams(conv, lazy.userId, randomBytes(256).toString("base64")));
        ids.push(...messages.map((m) => m.message_id));
        assert.equal((await bs.request("CREATE_PLAIN_MESSAGES", { messages })).error, undefined);
      }
      const deadline = Date.now() + 30_000;
      while (ls.frames.length < ids.length && Date.now() < deadline) await sleep(20);
      rss.push(sampler.sample());
    }
    sampler.stop();
    assert.equal(ls.frames.filter((f) => f.data?.category === "PLAIN_TEXT").length, ids.length, "each pushed once on this socket");
    ls.close();
    // Unacked means pending: a new socket gets all of it again, once.
    const again = await openSocket(server.wsUrl, lazy);
    await again.request("LIST_PENDING_MESSAGES");
    const deadline = Date.now() + 30_000;
    while (again.frames.length < ids.length && Date.now() < deadline) await sleep(20);
    await sleep(200);
    const pushed = again.frames.filter((f) => f.data?.category === "PLAIN_TEXT").map((f) => f.data.message_id as string);
    assert.deepEqual(pushed, ids);
    const mb = (kb: number) => Math.round(kb / MB);
    t.diagnostic(`${ids.length} unacked messages: server RSS after each quarter ${rss.map(mb).join(", ")} MB; all redelivered once on reconnect`);
    assert.ok(rss[3]! - rss[0]! < 100 * MB, `RSS grew ${mb(rss[3]! - rss[0]!)} MB`);
    again.close();
    bs.close();
  });
});

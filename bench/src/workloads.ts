/** The workloads: each starts its targets fresh, drives them from load-generator processes, and returns rows. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { WebSocket } from "ws";
import { encodeFrame, newUuid } from "@openblaze/protocol";
import { destOf, pairSpecs, populate, type Account, type Population } from "./accounts.js";
import { measure, sumCounters, type Settings, type Summary } from "./measure.js";
import { Cdp, Loadgen, cpuSeconds, machineTicks, CLK_TCK, rssBytes, startRelay, startServer, type Target } from "./procs.js";
import type { DrainReply, LoadgenReply, SockSpec } from "./protocol.js";
import { benchSchemaUrl, dropSchema, populatePostgres } from "./services.js";
import { spread, sleep, type Spread } from "./stats.js";

export type Mode = "gzip" | "stored";

export interface Row {
  workload: string;
  variant: string;
  mode: Mode;
  metric: string;
  unit: string;
  /** The headline: server numbers, relay baseline (same mode and load), ratio. */
  server: Spread;
  relay: Spread | undefined;
  ratio: number | undefined;
  loadgenCpuPct: Spread | undefined;
  relayLoadgenCpuPct: Spread | undefined;
  serverCpuPct?: Spread | undefined;
  serverUsPerMsg?: Spread | undefined;
  relayUsPerMsg?: Spread | undefined;
  foreignCpuPct?: Spread | undefined;
  target?: { text: string; pass: boolean | undefined };
  notes: string[];
  detail?: Record<string, unknown>;
}

/** Splits sockets over `n` generators, keeping pairs (i, i^1) together. */
function split<T>(items: readonly T[], n: number, keepPairs: boolean): T[][] {
  const out: T[][] = Array.from({ length: n }, () => []);
  const unit = keepPairs ? 2 : 1;
  for (let i = 0; i < items.length; i += unit) out[(i / unit) % n]!.push(...items.slice(i, i + unit));
  return out.filter((x) => x.length > 0);
}

interface TargetSpec {
  kind: "server" | "relay";
  mode: Mode;
  /** The server's store: SQLite under its data directory (default) or a fresh schema of the machine's PostgreSQL. */
  database?: "sqlite" | "postgres";
  queueOffline?: boolean;
  inspect?: boolean;
  cpuProfDir?: string;
  cpuProfName?: string;
}

/**
 * Runs `fn` against a freshly started target with `accounts` users (and groups) in place and
 * `nLoadgens` load-generator processes (forked while the target starts; exited before it stops).
 */
export async function withTarget<T>(
  spec: TargetSpec,
  s: Settings,
  accounts: number,
  groups: { size: number }[],
  nLoadgens: number,
  fn: (t: Target, pop: Population, lgs: Loadgen[]) => Promise<T>,
): Promise<T> {
  let dataDir: string | undefined;
  let schema: string | undefined;
  let target: Target | undefined;
  const lgs = Array.from({ length: nLoadgens }, () => new Loadgen(s.loadCpus));
  try {
    let pop: Population;
    if (spec.kind === "server") {
      dataDir = await mkdtemp(join(s.tmp, "openblaze-bench-"));
      const extraArgs: string[] = [];
      if (spec.database === "postgres") {
        if (groups.length > 0) throw new Error("groups are only set up on SQLite");
        schema = `openblaze_bench_${randomBytes(6).toString("hex")}`;
        pop = { accounts: await populatePostgres(schema, accounts), groups: [] };
        extraArgs.push("--database", benchSchemaUrl(schema));
      } else {
        pop = await populate(dataDir, accounts, groups);
      }
      target = await startServer({
        dataDir,
        extraArgs,
        compression: spec.mode,
        cpus: s.serverCpus,
        inspect: spec.inspect,
        cpuProfDir: spec.cpuProfDir,
        cpuProfName: spec.cpuProfName,
      });
    } else {
      pop = await populate(undefined, accounts, groups);
      target = await startRelay({ compression: spec.mode, queueOffline: spec.queueOffline, cpus: s.serverCpus, inspect: spec.inspect });
      for (const g of pop.groups) await registerRelayGroup(target.url, g.conversationId, [g.creator, ...g.members].map((a) => a.userId));
    }
    return await fn(target, pop, lgs);
  } finally {
    await exitAll(lgs);
    await target?.proc.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (schema) await dropSchema(schema);
  }
}

async function registerRelayGroup(url: string, conversationId: string, members: string[]): Promise<void> {
  const ws = new WebSocket(`${url}?uid=${newUuid()}`, { perMessageDeflate: false });
  await new Promise<void>((res, rej) => {
    ws.once("open", () => ws.send(encodeFrame({ id: newUuid(), action: "BENCH_GROUP", params: { conversation_id: conversationId, members } })));
    ws.once("message", () => res());
    ws.once("error", rej);
  });
  ws.close();
}

async function exitAll(lgs: readonly Loadgen[]): Promise<void> {
  await Promise.all(lgs.map((l) => l.exit()));
}

async function connectAll(lgs: readonly Loadgen[], url: string, parts: SockSpec[][], subscribe: boolean, concurrency = 64): Promise<void> {
  const r = await Promise.all(lgs.map((l, i) => l.call<Extract<LoadgenReply, { op: "connected" }>>({ op: "connect", url, sockets: parts[i]!, subscribe, concurrency })));
  const failed = r.reduce((n, x) => n + x.failed, 0);
  if (failed > 0) throw new Error(`${failed} sockets failed to connect: ${r.flatMap((x) => x.errorSamples).slice(0, 3).join(" | ")}`);
}

// ---- p2p ----------------------------------------------------------------------------------------

export interface P2pOptions {
  sockets: number;
  window: number;
  pattern: 3 | 6;
}

/** 1:1 closed loop: every socket keeps `window` messages in flight to its partner. */
export async function p2pRun(spec: TargetSpec, o: P2pOptions, s: Settings): Promise<Summary> {
  const n = Math.min(s.loadgens, o.sockets / 2);
  return withTarget(spec, s, o.sockets, [], n, async (target, pop, lgs) => {
    const parts = split(pairSpecs(pop.accounts), n, true);
    await connectAll(lgs, target.url, parts, true);
    const six = o.pattern === 6;
    return measure(
      target,
      lgs,
      async () => {
        await Promise.all(lgs.map((l) => l.call({ op: "closed", window: o.window, ack: six, needReceipts: six, needAckReplies: false, fanout: 1, stallMs: 10_000 })));
      },
      (c) => c.pushes,
      s,
    );
  });
}

// ---- latency ------------------------------------------------------------------------------------

/** Open loop at a fixed offered rate over 1:1 pairs, 6-frame pattern (recipients ack). */
export async function latencyRun(spec: TargetSpec, rate: number, sockets: number, s: Settings): Promise<Summary> {
  const n = Math.min(s.loadgens, sockets / 2);
  return withTarget(spec, s, sockets, [], n, async (target, pop, lgs) => {
    const parts = split(pairSpecs(pop.accounts), n, true);
    await connectAll(lgs, target.url, parts, true);
    return measure(
      target,
      lgs,
      async () => {
        await Promise.all(
          lgs.map((l, i) =>
            l.call({ op: "open", rate: (rate * parts[i]!.length) / sockets, ack: true, needReceipts: true, needAckReplies: false, fanout: 1, stallMs: 10_000 }),
          ),
        );
      },
      (c) => c.pushes,
      s,
    );
  });
}

// ---- batch --------------------------------------------------------------------------------------

/** CREATE_PLAIN_MESSAGES x100 to recipients that are offline; stored messages per second. */
export async function batchRun(spec: TargetSpec, senders: number, window: number, s: Settings): Promise<Summary> {
  const n = Math.min(s.loadgens, senders);
  return withTarget(spec, s, senders * 2, [], n, async (target, pop, lgs) => {
    const specs: SockSpec[] = pop.accounts.slice(0, senders).map((a, i) => ({ ...a, dests: [destOf(a, pop.accounts[senders + i]!)] }));
    const parts = split(specs, n, false);
    await connectAll(lgs, target.url, parts, true);
    return measure(
      target,
      lgs,
      async () => {
        await Promise.all(lgs.map((l) => l.call({ op: "batch", batchSize: 100, window })));
      },
      (c) => c.batchMsgs,
      s,
    );
  });
}

// ---- seeding (drain, storm) ---------------------------------------------------------------------

interface SeedResult {
  ms: number;
  msgs: number;
  rate: number;
  serverUsPerMsg: number;
}

/** Sends `perSender` messages from each sender to its dests with CREATE_PLAIN_MESSAGES x100. */
async function seed(target: Target, specs: SockSpec[], perSender: number, s: Settings): Promise<SeedResult> {
  const lg = new Loadgen(s.loadCpus);
  try {
    await connectAll([lg], target.url, [specs], false);
    const cpu0 = target.proc.cpu();
    await lg.call({ op: "batch", batchSize: 100, window: 4, totalPerSender: perSender });
    const done = await lg.next<Extract<LoadgenReply, { op: "seeded" }>>();
    if (done.counters.errors > 0) throw new Error(`seeding failed: ${done.errorSamples.join(" | ")}`);
    const msgs = done.counters.batchMsgs;
    return { ms: done.ms, msgs, rate: msgs / (done.ms / 1000), serverUsPerMsg: ((target.proc.cpu() - cpu0) * 1e6) / msgs };
  } finally {
    await lg.exit();
  }
}

export interface DrainRound {
  pending: number;
  seed: SeedResult;
  drainMs: number;
  rate: number;
  firstPushMs: number;
  serverUsPerMsg: number;
  serverCpuPct: number;
  loadgenCpuPct: number;
  foreignCpuPct: number;
  lost: number;
  dups: number;
}

/** One user with `pending` messages waiting: LIST_PENDING_MESSAGES, ack in batches of 100. */
export async function drainRun(spec: TargetSpec, pending: number, rounds: number, s: Settings): Promise<DrainRound[]> {
  const senders = 10;
  return withTarget({ ...spec, queueOffline: true }, s, senders + 1, [], 0, async (target, pop) => {
    const drainer = pop.accounts[senders]!;
    const seeders: SockSpec[] = pop.accounts.slice(0, senders).map((a) => ({ ...a, dests: [destOf(a, drainer)] }));
    const out: DrainRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const seeded = await seed(target, seeders, pending / senders, s);
      const lg = new Loadgen(s.loadCpus);
      try {
        await connectAll([lg], target.url, [[{ ...drainer }]], false);
        const c0 = { server: target.proc.cpu(), lg: lg.proc.cpu(), self: cpuSeconds(process.pid), busy: machineTicks().busy / CLK_TCK, at: performance.now() };
        const d = await lg.call<DrainReply>({ op: "drain", expect: pending, reconnect: false, jitterMs: 0, timeoutMs: Number(process.env.OPENBLAZE_BENCH_DRAIN_TIMEOUT_MS ?? 180_000) });
        const wall = (performance.now() - c0.at) / 1000;
        const server = target.proc.cpu() - c0.server;
        const lgCpu = lg.proc.cpu() - c0.lg;
        const self = cpuSeconds(process.pid) - c0.self;
        const busy = machineTicks().busy / CLK_TCK - c0.busy;
        out.push({
          pending,
          seed: seeded,
          drainMs: d.ms,
          rate: d.got / (d.ms / 1000),
          firstPushMs: d.firstPushMs[0] ?? NaN,
          serverUsPerMsg: (server * 1e6) / Math.max(1, d.got),
          serverCpuPct: (server / wall) * 100,
          loadgenCpuPct: (lgCpu / wall) * 100,
          foreignCpuPct: Math.max(0, ((busy - server - lgCpu - self) / wall) * 100),
          lost: d.lost,
          dups: d.dups,
        });
        s.log(`    round ${r + 1}: seeded ${seeded.msgs} at ${Math.round(seeded.rate)}/s; drained in ${Math.round(d.ms)} ms (${Math.round(d.got / (d.ms / 1000))}/s), first push ${d.firstPushMs[0]?.toFixed(1)} ms, lost ${d.lost}`);
        if (d.complete < d.sockets || d.counters.errors > 0) {
          s.log(`    round ${r + 1} incomplete: ${JSON.stringify(d.counters)}; errors: ${d.errorSamples.join(" | ")}`);
        }
      } finally {
        await lg.exit();
      }
    }
    return out;
  });
}

// ---- group --------------------------------------------------------------------------------------

/** One sender, `members` online members; closed loop of `window` messages; optionally every member acks. */
export async function groupRun(spec: TargetSpec, members: number, window: number, acks: boolean, s: Settings): Promise<Summary> {
  return withTarget(spec, s, members + 1, [{ size: members }], 1, async (target, pop, lgs) => {
    const g = pop.groups[0]!;
    const specs: SockSpec[] = [{ ...g.creator, conv: g.conversationId }, ...g.members.map((m) => ({ ...m }))];
    await connectAll(lgs, target.url, [specs], true);
    return measure(
      target,
      lgs,
      async () => {
        await lgs[0]!.call({ op: "closed", window, ack: acks, needReceipts: false, needAckReplies: acks, fanout: members, stallMs: 10_000 });
      },
      (c) => c.pushes,
      s,
    );
  });
}

// ---- idle ---------------------------------------------------------------------------------------

export interface IdleResult {
  sockets: number;
  connectMs: number;
  rssBefore: number;
  rssAfter: number;
  perSocketBytes: number;
  heapPerSocketBytes: number;
  externalPerSocketBytes: number;
}

/** `sockets` authenticated, subscribed, idle sockets from ≥2 processes; server RSS per socket after a full GC. */
export async function idleRun(spec: TargetSpec, sockets: number, s: Settings): Promise<IdleResult> {
  const n = Math.max(2, s.loadgens);
  return withTarget({ ...spec, inspect: true }, s, sockets, [], n, async (target, pop, lgs) => {
    const cdp = await Cdp.connect(target.proc.inspectorUrl!);
    const parts = split(pop.accounts as SockSpec[], n, false);
    try {
      await sleep(s.quick ? 200 : 1000);
      await cdp.gc();
      const mem0 = await cdp.memoryUsage();
      const rss0 = rssBytes(target.proc.pid);
      const t0 = performance.now();
      await connectAll(lgs, target.url, parts, true, 100);
      const connectMs = performance.now() - t0;
      await sleep(s.quick ? 500 : 3000);
      await cdp.gc();
      const mem1 = await cdp.memoryUsage();
      const rss1 = rssBytes(target.proc.pid);
      return {
        sockets,
        connectMs,
        rssBefore: rss0,
        rssAfter: rss1,
        perSocketBytes: (rss1 - rss0) / sockets,
        heapPerSocketBytes: mem0 && mem1 ? (mem1.heapUsed - mem0.heapUsed) / sockets : NaN,
        externalPerSocketBytes: mem0 && mem1 ? (mem1.external - mem0.external) / sockets : NaN,
      };
    } finally {
      cdp.close();
    }
  });
}

// ---- storm --------------------------------------------------------------------------------------

export interface StormResult {
  sockets: number;
  pendingEach: number;
  seedRate: number;
  ms: number;
  complete: number;
  lost: number;
  dups: number;
  connectFailed: number;
  firstPushP50: number;
  serverCpuPct: number;
  loadgenCpuPct: number;
}

/** `sockets` connected, all dropped at once, `pendingEach` messages queued for each, all reconnect within `jitterMs`. */
export async function stormRun(spec: TargetSpec, sockets: number, pendingEach: number, jitterMs: number, s: Settings): Promise<StormResult> {
  const senders = 5;
  const n = Math.max(2, s.loadgens);
  return withTarget({ ...spec, queueOffline: true }, s, sockets + senders, [], n, async (target, pop, lgs) => {
    const users = pop.accounts.slice(0, sockets);
    const parts = split(users as SockSpec[], n, false);
    {
      await connectAll(lgs, target.url, parts, true, 100);
      await Promise.all(lgs.map((l) => l.call({ op: "drop" })));
      await sleep(500);
      const seeders: SockSpec[] = pop.accounts.slice(sockets).map((a: Account, j) => ({
        ...a,
        dests: users.filter((_, i) => i % senders === j).map((u) => destOf(a, u)),
      }));
      const seeded = await seed(target, seeders, (sockets * pendingEach) / senders, s);
      const c0 = { server: target.proc.cpu(), lg: lgs.reduce((n, l) => n + l.proc.cpu(), 0), at: performance.now() };
      const r = await Promise.all(lgs.map((l) => l.call<DrainReply>({ op: "drain", expect: pendingEach, reconnect: true, jitterMs, timeoutMs: 60_000 })));
      const wall = (performance.now() - c0.at) / 1000;
      const ttf = r.flatMap((x) => x.firstPushMs).sort((a, b) => a - b);
      return {
        sockets,
        pendingEach,
        seedRate: seeded.rate,
        ms: Math.max(...r.map((x) => x.ms)),
        complete: r.reduce((n, x) => n + x.complete, 0),
        lost: r.reduce((n, x) => n + x.lost, 0),
        dups: sumCounters(r.map((x) => x.counters)).dupPushes,
        connectFailed: r.reduce((n, x) => n + x.connectFailed, 0),
        firstPushP50: ttf[ttf.length >> 1] ?? NaN,
        serverCpuPct: ((target.proc.cpu() - c0.server) / wall) * 100,
        loadgenCpuPct: ((lgs.reduce((n, l) => n + l.proc.cpu(), 0) - c0.lg) / wall) * 100,
      };
    }
  });
}

export { spread };

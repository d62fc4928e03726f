/** Rounds: warm up, then consecutive measurement windows over the same sockets. */
import { machineTicks, cpuSeconds, CLK_TCK, type Loadgen } from "./procs.js";

/** What is measured: one server process, or the sum of several (scale-out nodes). */
export interface Measured {
  label: string;
  proc: { cpu(): number };
}
import type { Counters, SnapReply } from "./protocol.js";
import { concat, percentiles, sleep, spread, type Percentiles, type Spread } from "./stats.js";

export interface Settings {
  quick: boolean;
  warmMs: number;
  roundMs: number;
  rounds: number;
  /** taskset CPU lists, or undefined when not pinning. */
  serverCpus: string | undefined;
  loadCpus: string | undefined;
  loadgens: number;
  /** How long a stopping generator waits for its in-flight messages. */
  settleMs: number;
  tmp: string;
  log: (line: string) => void;
}

export interface Round {
  wallS: number;
  count: number;
  rate: number;
  serverCpuPct: number;
  serverUsPerMsg: number;
  loadgenCpuPct: number;
  /** CPU used by processes that are not part of this benchmark (other users of the machine), % of one core. */
  foreignCpuPct: number;
  pushLat: Percentiles;
  replyLat: Percentiles;
  doneLat: Percentiles;
  delta: Counters;
}

export interface Summary {
  target: string;
  rate: Spread;
  serverCpuPct: Spread;
  serverUsPerMsg: Spread;
  loadgenCpuPct: Spread;
  foreignCpuPct: Spread;
  /** Percentiles over every sample of every round. */
  pushLat: Percentiles;
  replyLat: Percentiles;
  doneLat: Percentiles;
  /** Per-round p99 of send->push, for the spread. */
  pushP99: Spread;
  rounds: Round[];
  totals: Counters;
  leftInFlight: number;
  /** Of those, replied to (so committed) but not delivered when the settle time ran out. */
  undelivered: number;
  errorSamples: string[];
}

interface Snap {
  at: number;
  server: number;
  loadgens: number;
  self: number;
  busy: number;
  counters: Counters;
  push: Float64Array;
  reply: Float64Array;
  done: Float64Array;
  inflight: number;
  undelivered: number;
  errorSamples: string[];
}

export function sumCounters(list: readonly Counters[]): Counters {
  const out = { ...list[0]! };
  for (const k of Object.keys(out) as (keyof Counters)[]) out[k] = list.reduce((n, c) => n + c[k], 0);
  return out;
}

function diffCounters(a: Counters, b: Counters): Counters {
  const out = { ...b };
  for (const k of Object.keys(out) as (keyof Counters)[]) out[k] = b[k] - a[k];
  return out;
}

async function snapAll(target: Measured, lgs: readonly Loadgen[], op: "snap" | "stop" = "snap", settleMs = 0): Promise<Snap> {
  const replies = await Promise.all(lgs.map((l) => l.call<SnapReply>(op === "snap" ? { op } : { op, settleMs })));
  return {
    at: performance.now(),
    server: target.proc.cpu(),
    loadgens: lgs.reduce((n, l) => n + l.proc.cpu(), 0),
    self: cpuSeconds(process.pid),
    busy: machineTicks().busy / CLK_TCK,
    counters: sumCounters(replies.map((r) => r.counters)),
    push: concat(replies.map((r) => r.pushLat)),
    reply: concat(replies.map((r) => r.replyLat)),
    done: concat(replies.map((r) => r.doneLat)),
    inflight: replies.reduce((n, r) => n + r.inflight, 0),
    undelivered: replies.reduce((n, r) => n + r.undelivered, 0),
    errorSamples: replies.flatMap((r) => r.errorSamples),
  };
}

function round(a: Snap, b: Snap, count: (c: Counters) => number): Round {
  const wallS = (b.at - a.at) / 1000;
  const delta = diffCounters(a.counters, b.counters);
  const n = count(delta);
  const server = b.server - a.server;
  const loadgens = b.loadgens - a.loadgens;
  const ours = server + loadgens + (b.self - a.self);
  return {
    wallS,
    count: n,
    rate: n / wallS,
    serverCpuPct: (server / wallS) * 100,
    serverUsPerMsg: n > 0 ? (server * 1e6) / n : NaN,
    loadgenCpuPct: (loadgens / wallS) * 100,
    foreignCpuPct: Math.max(0, ((b.busy - a.busy - ours) / wallS) * 100),
    pushLat: percentiles(b.push),
    replyLat: percentiles(b.reply),
    doneLat: percentiles(b.done),
    delta,
  };
}

/**
 * Starts the load (`start`), warms up, measures `settings.rounds` windows, stops (letting in-flight
 * messages settle) and summarises. `count` picks the headline counter (delivered pushes, stored
 * messages...).
 */
export async function measure(
  target: Measured,
  lgs: readonly Loadgen[],
  start: () => Promise<void>,
  count: (c: Counters) => number,
  s: Settings,
): Promise<Summary> {
  await start();
  // Warm-up starts once traffic flows (the first messages create conversations; a scale-out node
  // subscribes to the bus): wait for the first counted delivery, at most 15 s.
  const t0 = performance.now();
  while (performance.now() - t0 < 15_000) {
    const snap = await snapAll(target, lgs);
    if (count(snap.counters) > 0) break;
    await sleep(50);
  }
  await sleep(s.warmMs);
  let prev = await snapAll(target, lgs);
  const rounds: Round[] = [];
  const push: Float64Array[] = [];
  const reply: Float64Array[] = [];
  const done: Float64Array[] = [];
  for (let r = 0; r < s.rounds; r++) {
    await sleep(s.roundMs);
    const cur = await snapAll(target, lgs);
    rounds.push(round(prev, cur, count));
    push.push(cur.push);
    reply.push(cur.reply);
    done.push(cur.done);
    prev = cur;
  }
  const last = await snapAll(target, lgs, "stop", s.settleMs);
  return summarise(target.label, rounds, concat(push), concat(reply), concat(done), last.counters, last.inflight, last.undelivered, last.errorSamples);
}

export function summarise(
  label: string,
  rounds: Round[],
  push: Float64Array,
  reply: Float64Array,
  done: Float64Array,
  totals: Counters,
  leftInFlight: number,
  undelivered: number,
  errorSamples: string[],
): Summary {
  return {
    target: label,
    rate: spread(rounds.map((r) => r.rate)),
    serverCpuPct: spread(rounds.map((r) => r.serverCpuPct)),
    serverUsPerMsg: spread(rounds.map((r) => r.serverUsPerMsg)),
    loadgenCpuPct: spread(rounds.map((r) => r.loadgenCpuPct)),
    foreignCpuPct: spread(rounds.map((r) => r.foreignCpuPct)),
    pushLat: percentiles(push),
    replyLat: percentiles(reply),
    doneLat: percentiles(done),
    pushP99: spread(rounds.map((r) => r.pushLat.p99)),
    rounds,
    totals,
    leftInFlight,
    undelivered,
    errorSamples: [...new Set(errorSamples)].slice(0, 5),
  };
}

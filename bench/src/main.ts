/**
 * npm run bench [-- --quick] [-- --only p2p,batch] [-- --modes gzip,stored] [-- --no-pin] [-- --md]
 *
 * Starts the real server (`openblaze serve`, SQLite) and a relay baseline as their own processes,
 * drives both from 1-2 load-generator processes, and reports every headline figure as
 * `absolute | ratio to the relay | load-generator CPU%`. See BENCHMARKS.md for what each workload
 * measures and the targets.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import type { Settings, Summary } from "./measure.js";
import { REPO, canPin, startScriptNodeFlags } from "./procs.js";
import { scaleoutRun, type ScaleoutCase } from "./scaleout.js";
import { BENCH_POSTGRES, BENCH_REDIS, servicesProblem } from "./services.js";
import { profileText, summariseProfile, type ProfileSummary } from "./profile.js";
import { markdown, printTable, updateBenchmarksMd, type MachineInfo } from "./report.js";
import { fmt, fmtInt, spread, type Spread } from "./stats.js";
import {
  batchRun,
  drainRun,
  groupRun,
  idleRun,
  latencyRun,
  p2pRun,
  stormRun,
  type Mode,
  type Row,
} from "./workloads.js";

const ALL = ["p2p", "latency", "batch", "drain", "group", "idle", "storm", "scaleout"] as const;
type Workload = (typeof ALL)[number] | "profile";

function parseArgs(argv: string[]) {
  const flag = (n: string) => argv.includes(n);
  const opt = (n: string) => {
    const i = argv.findIndex((a) => a === n || a.startsWith(`${n}=`));
    if (i < 0) return undefined;
    return argv[i]!.includes("=") ? argv[i]!.split("=")[1] : argv[i + 1];
  };
  if (flag("--help") || flag("-h")) {
    process.stdout.write(
      [
        "npm run bench -- [options]",
        "  --quick              one short round per workload, smaller sizes, no scaleout (< 1 min; indicative only)",
        `  --only a,b           workloads: ${ALL.join(", ")}, profile (default: all but profile)`,
        "  --skip a,b           leave some out",
        "  --modes gzip,stored  output compression modes for p2p/drain/group (default both; quick: gzip, p2p both)",
        "  --rounds N --round-s S --warm-s S   override the round plan (default 3 x 8 s after 2 s; quick 1 x 1 s after 0.5 s)",
        "  --loadgens N         load-generator processes for throughput workloads (default 1; idle/storm use >= 2)",
        "  --latency-rates a,b  offered msgs/s for latency (default 2,000, 5,000 and 50% of this run's p2p capacity)",
        "  --profiles a,b       with --only profile: run only these profiles (names as printed, e.g. storm-gzip)",
        "  --no-pin             do not pin server/relay to CPU 0 and load generators to CPU 1",
        "  --md / --no-md       write the generated block of BENCHMARKS.md (default: full runs only)",
      ].join("\n") + "\n",
    );
    process.exit(0);
  }
  const quick = flag("--quick");
  const list = (v: string | undefined) => (v ? v.split(",").map((x) => x.trim()).filter(Boolean) : undefined);
  const only = list(opt("--only")) as Workload[] | undefined;
  const skip = new Set(list(opt("--skip")) ?? []);
  // --quick leaves out scaleout (it needs PostgreSQL and Redis and three server starts) unless asked for.
  const workloads = (only ?? ALL.filter((w) => !(quick && w === "scaleout"))).filter((w) => !skip.has(w));
  for (const w of workloads) if (![...ALL, "profile"].includes(w)) throw new Error(`unknown workload ${w}`);
  const modes = (list(opt("--modes")) ?? ["gzip", "stored"]) as Mode[];
  return {
    quick,
    workloads,
    modes,
    explicitModes: opt("--modes") !== undefined,
    rounds: Number(opt("--rounds") ?? (quick ? 1 : 3)),
    roundMs: Number(opt("--round-s") ?? (quick ? 1 : 8)) * 1000,
    warmMs: Number(opt("--warm-s") ?? (quick ? 0.5 : 2)) * 1000,
    loadgens: Number(opt("--loadgens") ?? 1),
    latencyRates: list(opt("--latency-rates"))?.map(Number),
    profiles: list(opt("--profiles")),
    pin: !flag("--no-pin") && cpus().length >= 2 && canPin(),
    md: flag("--md") ? true : flag("--no-md") ? false : !quick && only === undefined,
  };
}

function pkgVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

function sqliteMode(): string {
  try {
    const src = readFileSync(join(REPO, "packages/server/dist/src/store/sqlite/sqlite-store.js"), "utf8");
    const sync = /synchronous = \$\{opts\.synchronous \?\? "(\w+)"\}/.exec(src)?.[1] ?? "?";
    const journal = /journal_mode = (\w+)/.exec(src)?.[1] ?? "?";
    return `SQLite (better-sqlite3), journal_mode=${journal}, synchronous=${sync} (SqliteStore default; \`serve\` has no flag for it), group commit up to 256 messages per transaction (PostgreSQL: up to 1,024, and up to 4 transactions at once under a backlog)`;
  } catch {
    return "SQLite (could not read the store's settings)";
  }
}

function diskInfo(dir: string): string {
  try {
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f.length > 2 && dir.startsWith(f[1]!))
      .sort((a, b) => b[1]!.length - a[1]!.length);
    const m = mounts[0];
    return m ? `data dir on ${m[2]} (${m[0]}) under ${dir}` : `data dir under ${dir}`;
  } catch {
    return `data dir under ${dir}`;
  }
}

function gitInfo(): string {
  try {
    const head = execFileSync("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["-C", REPO, "status", "--porcelain", "--", "packages"], { encoding: "utf8" }).trim() !== "";
    return `${head}${dirty ? " + uncommitted changes in packages/" : ""}`;
  } catch {
    return "unknown";
  }
}

const T0 = performance.now();
const log = (s: string) => process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${s}\n`);

function sp(v: number): Spread {
  return spread([v]);
}

function cpuNote(s: Summary | undefined, loadgens: number): string[] {
  if (!s) return [];
  const per = s.loadgenCpuPct.median / Math.max(1, loadgens);
  const notes: string[] = [];
  if (per > 85) notes.push(`load generator at ${Math.round(s.loadgenCpuPct.median)}% CPU: client-bound, the figure is a floor for ${s.target}`);
  if (s.totals.errors > 0) notes.push(`${s.totals.errors} error frames on ${s.target}: ${s.errorSamples[0] ?? ""}`.slice(0, 300));
  if (s.leftInFlight > 0) notes.push(`${s.leftInFlight} messages on ${s.target} still incomplete when the load stopped and the settle time ran out`);
  if (s.totals.stalled > 0)
    notes.push(
      `${s.totals.stalled} messages on ${s.target} did not complete within 10 s (no reply ${s.totals.stallNoReply}, no push ${s.totals.stallNoPush}, no receipt ${s.totals.stallNoReceipt}, no ack reply ${s.totals.stallNoAckReply})`,
    );
  return notes;
}

/** A workload row that could not run (a service is missing): shown, never counted as a pass. */
function notRun(workload: string, variant: string, target: string, problem: string): Row {
  return {
    workload,
    variant,
    mode: "gzip",
    metric: "—",
    unit: "",
    server: sp(NaN),
    relay: undefined,
    ratio: undefined,
    loadgenCpuPct: undefined,
    relayLoadgenCpuPct: undefined,
    target: { text: target, pass: undefined },
    notes: [`not run: ${problem} (set OPENBLAZE_BENCH_POSTGRES / OPENBLAZE_BENCH_REDIS)`],
  };
}

/** `batch` against the relay's parse-and-reply ceiling, with its target in msgs/s. */
function batchRow(variant: string, server: Summary, relay: Summary | undefined, target: number, store: string, notes: string[], loadgens: number): Row {
  return {
    workload: "batch",
    variant,
    mode: "gzip",
    metric: "stored msgs/s",
    unit: "msgs/s",
    server: server.rate,
    relay: relay?.rate,
    ratio: relay && server.rate.median / relay.rate.median,
    loadgenCpuPct: server.loadgenCpuPct,
    relayLoadgenCpuPct: relay?.loadgenCpuPct,
    serverCpuPct: server.serverCpuPct,
    serverUsPerMsg: server.serverUsPerMsg,
    relayUsPerMsg: relay?.serverUsPerMsg,
    foreignCpuPct: server.foreignCpuPct,
    target: { text: `>= ${fmtInt(target)} msgs/s on ${store}: ${fmtInt(server.rate.median)}`, pass: server.rate.median >= target },
    notes: [...notes, ...cpuNote(server, loadgens), ...cpuNote(relay, loadgens)],
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const loadBefore = loadavg();
  const s: Settings = {
    quick: args.quick,
    warmMs: args.warmMs,
    roundMs: args.roundMs,
    rounds: args.rounds,
    serverCpus: args.pin ? "0" : undefined,
    loadCpus: args.pin ? "1" : undefined,
    loadgens: args.loadgens,
    settleMs: args.quick ? 1000 : 3000,
    tmp: tmpdir(),
    log,
  };
  const q = args.quick;
  // Quick keeps one mode per workload except p2p, unless --modes says otherwise.
  const modesFor = (w: string): Mode[] => (q && !args.explicitModes && w !== "p2p" ? ["gzip"] : args.modes);
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const sections: string[] = [];
  let p2pCapacity: number | undefined;

  log(`openblaze bench: ${args.workloads.join(", ")}; ${q ? "quick" : "full"}; rounds ${s.rounds} x ${s.roundMs / 1000} s after ${s.warmMs / 1000} s warm-up; pin ${args.pin ? "server/relay cpu0, load-gen cpu1" : "off"}`);
  log(`load average ${loadBefore.map((x) => x.toFixed(2)).join(" ")}`);

  const attempt = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      log(`  ${name} FAILED: ${msg}`);
      rows.push({ workload: name, variant: "error", mode: "gzip", metric: "—", unit: "", server: sp(NaN), relay: undefined, ratio: undefined, loadgenCpuPct: undefined, relayLoadgenCpuPct: undefined, notes: [`failed: ${msg.split("\n")[0]}`] });
    }
  };

  for (const w of args.workloads) {
    log(`\n== ${w}`);
    if (w === "p2p") {
      const configs = [
        { sockets: 100, window: 8 },
        { sockets: 1000, window: 2 },
      ];
      for (const mode of modesFor(w)) {
        for (const cfg of configs) {
          if (q && mode === "stored" && cfg.sockets === 1000) continue;
          const variant = `${cfg.sockets} sockets x window ${cfg.window}`;
          await attempt("p2p", async () => {
            log(`  ${mode} ${variant}: server 6-frame`);
            const server = await p2pRun({ kind: "server", mode }, { ...cfg, pattern: 6 }, s);
            log(`    ${fmtInt(server.rate.median)} msgs/s, server ${fmt(server.serverUsPerMsg.median, 0)} µs/msg, load-gen ${Math.round(server.loadgenCpuPct.median)}%`);
            log(`  ${mode} ${variant}: relay 6-frame`);
            const relay6 = await p2pRun({ kind: "relay", mode }, { ...cfg, pattern: 6 }, s);
            log(`    ${fmtInt(relay6.rate.median)} msgs/s, relay ${fmt(relay6.serverUsPerMsg.median, 0)} µs/msg, load-gen ${Math.round(relay6.loadgenCpuPct.median)}%`);
            let relay3: Summary | undefined;
            if (!q) {
              log(`  ${mode} ${variant}: relay 3-frame`);
              relay3 = await p2pRun({ kind: "relay", mode }, { ...cfg, pattern: 3 }, s);
              log(`    ${fmtInt(relay3.rate.median)} msgs/s`);
            }
            raw[`p2p/${mode}/${cfg.sockets}`] = { server, relay6, relay3 };
            if (mode === "gzip" && cfg.sockets === 1000) p2pCapacity = server.rate.median;
            const ratio = server.rate.median / relay6.rate.median;
            const extraUs = server.serverUsPerMsg.median - relay6.serverUsPerMsg.median;
            rows.push({
              workload: "p2p",
              variant: `${variant}, 6-frame`,
              mode,
              metric: "delivered msgs/s",
              unit: "msgs/s",
              server: server.rate,
              relay: relay6.rate,
              ratio,
              loadgenCpuPct: server.loadgenCpuPct,
              relayLoadgenCpuPct: relay6.loadgenCpuPct,
              serverCpuPct: server.serverCpuPct,
              serverUsPerMsg: server.serverUsPerMsg,
              relayUsPerMsg: relay6.serverUsPerMsg,
              foreignCpuPct: server.foreignCpuPct,
              target: { text: `>= 0.70x relay-6f and <= relay + 60 µs/msg: ${ratio.toFixed(2)}x, ${extraUs >= 0 ? "+" : ""}${fmt(extraUs, 0)} µs`, pass: ratio >= 0.7 && extraUs <= 60 },
              notes: [
                ...cpuNote(server, s.loadgens),
                ...cpuNote(relay6, s.loadgens),
                `closed-loop send->push p50/p99 ${fmt(server.pushLat.p50)}/${fmt(server.pushLat.p99)} ms (relay ${fmt(relay6.pushLat.p50)}/${fmt(relay6.pushLat.p99)} ms); server CPU ${Math.round(server.serverCpuPct.median)}%`,
              ],
            });
            if (relay3)
              rows.push({
                workload: "relay",
                variant: `${variant}, 3-frame (send -> reply + push)`,
                mode,
                metric: "delivered msgs/s",
                unit: "msgs/s",
                server: relay3.rate,
                relay: undefined,
                ratio: undefined,
                loadgenCpuPct: relay3.loadgenCpuPct,
                relayLoadgenCpuPct: undefined,
                serverUsPerMsg: relay3.serverUsPerMsg,
                foreignCpuPct: relay3.foreignCpuPct,
                notes: [`reference only: openblaze ${fmtInt(server.rate.median)} msgs/s is ${(server.rate.median / relay3.rate.median).toFixed(2)}x of it`, ...cpuNote(relay3, s.loadgens)],
              });
          });
        }
      }
    } else if (w === "latency") {
      const sockets = q ? 500 : 1000;
      const half = p2pCapacity ? Math.round(p2pCapacity / 2 / 100) * 100 : undefined;
      const rates = args.latencyRates ?? (q ? [2000] : [2000, 5000]);
      if (half && !q && !args.latencyRates) rates.push(half);
      const limit5 = half ? Math.min(5000, half) : 5000;
      for (const rate of [...new Set(rates)].sort((a, b) => a - b)) {
        await attempt("latency", async () => {
          const variant = `${fmtInt(rate)} msgs/s offered, ${sockets} sockets, 6-frame${half === rate ? " (50% of p2p capacity)" : ""}`;
          log(`  ${variant}: server`);
          const server = await latencyRun({ kind: "server", mode: "gzip" }, rate, sockets, s);
          log(`    p50/p99/p99.9 ${fmt(server.pushLat.p50)}/${fmt(server.pushLat.p99)}/${fmt(server.pushLat.p999)} ms at ${fmtInt(server.rate.median)} delivered/s`);
          log(`  ${variant}: relay`);
          const relay = await latencyRun({ kind: "relay", mode: "gzip" }, rate, sockets, s);
          log(`    p50/p99/p99.9 ${fmt(relay.pushLat.p50)}/${fmt(relay.pushLat.p99)}/${fmt(relay.pushLat.p999)} ms`);
          raw[`latency/${rate}`] = { server, relay };
          let target: Row["target"];
          if (rate === 2000) target = { text: `p99 <= 10 ms at 2,000/s: ${fmt(server.pushLat.p99)} ms`, pass: server.pushLat.p99 <= 10 };
          else if (rate === limit5) target = { text: `p99 <= 25 ms at min(5,000, 50% capacity) = ${fmtInt(limit5)}/s: ${fmt(server.pushLat.p99)} ms`, pass: server.pushLat.p99 <= 25 };
          rows.push({
            workload: "latency",
            variant,
            mode: "gzip",
            metric: "send->push p99",
            unit: "ms",
            server: { ...server.pushP99, median: server.pushLat.p99 },
            relay: { ...relay.pushP99, median: relay.pushLat.p99 },
            ratio: server.pushLat.p99 / relay.pushLat.p99,
            loadgenCpuPct: server.loadgenCpuPct,
            relayLoadgenCpuPct: relay.loadgenCpuPct,
            serverCpuPct: server.serverCpuPct,
            serverUsPerMsg: server.serverUsPerMsg,
            relayUsPerMsg: relay.serverUsPerMsg,
            foreignCpuPct: server.foreignCpuPct,
            target,
            notes: [
              `openblaze p50/p99/p99.9/max ${fmt(server.pushLat.p50)}/${fmt(server.pushLat.p99)}/${fmt(server.pushLat.p999)}/${fmt(server.pushLat.max)} ms over ${fmtInt(server.pushLat.count)} pushes (send->reply p99 ${fmt(server.replyLat.p99)} ms); relay ${fmt(relay.pushLat.p50)}/${fmt(relay.pushLat.p99)}/${fmt(relay.pushLat.p999)}/${fmt(relay.pushLat.max)} ms; delivered ${fmtInt(server.rate.median)}/s`,
              ...(server.rate.median < rate * 0.95 ? [`openblaze delivered only ${fmtInt(server.rate.median)}/s of ${fmtInt(rate)}/s offered: overloaded, latency is queueing`] : []),
              ...(relay.rate.median < rate * 0.95 ? [`relay delivered only ${fmtInt(relay.rate.median)}/s of ${fmtInt(rate)}/s offered: overloaded`] : []),
              ...cpuNote(server, s.loadgens),
              ...cpuNote(relay, s.loadgens),
            ],
          });
        });
      }
    } else if (w === "batch") {
      const senders = 50;
      const window = 2;
      const variant = `CREATE_PLAIN_MESSAGES x100, ${senders} senders x window ${window}, recipients offline`;
      let relay: Summary | undefined;
      await attempt("batch", async () => {
        log(`  ${variant}: server`);
        const server = await batchRun({ kind: "server", mode: "gzip" }, senders, window, s);
        log(`    ${fmtInt(server.rate.median)} msgs/s`);
        log(`  ${variant}: relay`);
        relay = await batchRun({ kind: "relay", mode: "gzip" }, senders, window, s);
        log(`    ${fmtInt(relay.rate.median)} msgs/s`);
        raw.batch = { server, relay };
        rows.push(batchRow(variant, server, relay, 25_000, "SQLite", ["relay = parse and reply only (no storage): a transport ceiling, not a durable peer"], s.loadgens));
      });
      // PostgreSQL has its own target (>= 40,000/s); it needs the machine's PostgreSQL.
      const problem = await servicesProblem();
      const pgVariant = `${variant}, PostgreSQL`;
      if (problem) {
        log(`  PostgreSQL: skipped: ${problem}`);
        rows.push(notRun("batch", pgVariant, ">= 40,000 msgs/s on PostgreSQL", problem));
        continue;
      }
      await attempt("batch", async () => {
        log(`  ${pgVariant}: server`);
        const server = await batchRun({ kind: "server", mode: "gzip", database: "postgres" }, senders, window, s);
        log(`    ${fmtInt(server.rate.median)} msgs/s`);
        raw.batchPostgres = { server };
        rows.push(
          batchRow(pgVariant, server, relay, 40_000, "PostgreSQL", [
            `server pinned to its CPU as everywhere; PostgreSQL (${BENCH_POSTGRES}, fresh schema) is not pinned and its CPU is not in server µs/msg (it shows under "other load")`,
          ], s.loadgens),
        );
      });
    } else if (w === "drain") {
      const pending = q ? 10_000 : 100_000;
      const rounds = q ? 1 : 3;
      for (const mode of modesFor(w)) {
        await attempt("drain", async () => {
          log(`  ${mode}: ${fmtInt(pending)} pending, server`);
          const server = await drainRun({ kind: "server", mode }, pending, rounds, s);
          log(`  ${mode}: relay (in-memory queue)`);
          const relay = await drainRun({ kind: "relay", mode }, pending, rounds, s);
          raw[`drain/${mode}`] = { server, relay };
          const rate = spread(server.map((r) => r.rate));
          const relayRate = spread(relay.map((r) => r.rate));
          const ttf = spread(server.map((r) => r.firstPushMs));
          const lost = server.reduce((n, r) => n + r.lost, 0);
          const need = mode === "gzip" ? 12_000 : 20_000;
          rows.push({
            workload: "drain",
            variant: `${fmtInt(pending)} pending for one user, LIST_PENDING + acks x100`,
            mode,
            metric: "drained msgs/s",
            unit: "msgs/s",
            server: rate,
            relay: relayRate,
            ratio: rate.median / relayRate.median,
            loadgenCpuPct: spread(server.map((r) => r.loadgenCpuPct)),
            relayLoadgenCpuPct: spread(relay.map((r) => r.loadgenCpuPct)),
            serverCpuPct: spread(server.map((r) => r.serverCpuPct)),
            serverUsPerMsg: spread(server.map((r) => r.serverUsPerMsg)),
            relayUsPerMsg: spread(relay.map((r) => r.serverUsPerMsg)),
            foreignCpuPct: spread(server.map((r) => r.foreignCpuPct)),
            target: {
              text: `>= ${fmtInt(need)} msgs/s${mode === "stored" ? " (target is for cached compressed pushes; stored output is the nearest existing option)" : ""}: ${fmtInt(rate.median)}, lost ${lost}`,
              pass: rate.median >= need && lost === 0,
            },
            notes: [
              `time to first message ${fmt(ttf.median)} ms (${fmt(ttf.min)}–${fmt(ttf.max)}); relay ${fmt(spread(relay.map((r) => r.firstPushMs)).median)} ms`,
              `seeding (CREATE_PLAIN_MESSAGES x100 from 10 senders to this one user): ${fmtInt(spread(server.map((r) => r.seed.rate)).median)} msgs/s`,
              ...(server.some((r) => r.dups > 0) ? [`${server.reduce((n, r) => n + r.dups, 0)} duplicate pushes`] : []),
            ],
          });
        });
      }
    } else if (w === "group") {
      const members = 100;
      for (const mode of modesFor(w)) {
        for (const acks of [false, true]) {
          await attempt("group", async () => {
            const window = 8;
            const variant = `1 sender -> ${members} online members, window ${window}, ${acks ? "every member acks" : "pushes only"}`;
            log(`  ${mode} ${variant}: server`);
            const server = await groupRun({ kind: "server", mode }, members, window, acks, s);
            log(`    ${fmtInt(server.rate.median)} deliveries/s`);
            log(`  ${mode} ${variant}: relay`);
            const relay = await groupRun({ kind: "relay", mode }, members, window, acks, s);
            log(`    ${fmtInt(relay.rate.median)} deliveries/s`);
            raw[`group/${mode}/${acks ? "acks" : "push"}`] = { server, relay };
            const need = acks ? 12_000 : 40_000;
            rows.push({
              workload: "group",
              variant,
              mode,
              metric: "deliveries/s",
              unit: "deliveries/s",
              server: server.rate,
              relay: relay.rate,
              ratio: server.rate.median / relay.rate.median,
              loadgenCpuPct: server.loadgenCpuPct,
              relayLoadgenCpuPct: relay.loadgenCpuPct,
              serverCpuPct: server.serverCpuPct,
              serverUsPerMsg: server.serverUsPerMsg,
              relayUsPerMsg: relay.serverUsPerMsg,
              foreignCpuPct: server.foreignCpuPct,
              target: { text: `>= ${fmtInt(need)} deliveries/s: ${fmtInt(server.rate.median)}`, pass: server.rate.median >= need },
              notes: [
                `send->push p50/p99 ${fmt(server.pushLat.p50)}/${fmt(server.pushLat.p99)} ms; µs/msg here are per delivery`,
                ...cpuNote(server, 1),
                ...cpuNote(relay, 1),
              ],
            });
          });
        }
      }
    } else if (w === "idle") {
      await attempt("idle", async () => {
        const n = q ? 1000 : 15_000;
        log(`  ${fmtInt(n)} idle sockets: server`);
        const server = await idleRun({ kind: "server", mode: "gzip" }, n, s);
        log(`    ${fmt(server.perSocketBytes / 1024, 2)} KiB RSS/socket, connected in ${Math.round(server.connectMs)} ms`);
        log(`  ${fmtInt(n)} idle sockets: relay`);
        const relay = await idleRun({ kind: "relay", mode: "gzip" }, n, s);
        log(`    ${fmt(relay.perSocketBytes / 1024, 2)} KiB RSS/socket`);
        raw.idle = { server, relay };
        const kib = server.perSocketBytes / 1024;
        rows.push({
          workload: "idle",
          variant: `${fmtInt(n)} authenticated, subscribed sockets over ${Math.max(2, s.loadgens)} client processes`,
          mode: "gzip",
          metric: "server RSS per socket after GC",
          unit: "KiB",
          server: sp(kib),
          relay: sp(relay.perSocketBytes / 1024),
          ratio: server.perSocketBytes / relay.perSocketBytes,
          loadgenCpuPct: undefined,
          relayLoadgenCpuPct: undefined,
          target: { text: `<= 8 KiB per socket at 15,000: ${fmt(kib, 2)} KiB${n !== 15_000 ? ` (measured at ${fmtInt(n)})` : ""}`, pass: n === 15_000 ? kib <= 8 : undefined },
          notes: [
            `RSS ${fmt(server.rssBefore / 2 ** 20)} -> ${fmt(server.rssAfter / 2 ** 20)} MiB; V8 heap ${fmt(server.heapPerSocketBytes / 1024, 2)} KiB/socket, external ${fmt(server.externalPerSocketBytes / 1024, 2)} KiB/socket; handshakes ${fmtInt(n / (server.connectMs / 1000))}/s; kernel socket memory (~4 KiB/socket) is not in RSS`,
          ],
        });
      });
    } else if (w === "storm") {
      await attempt("storm", async () => {
        const n = q ? 500 : 5000;
        const jitter = q ? 500 : 1000;
        log(`  ${fmtInt(n)} sockets dropped, 10 pending each, reconnect within ${jitter} ms: server`);
        const server = await stormRun({ kind: "server", mode: "gzip" }, n, 10, jitter, s);
        log(`    drained in ${fmtInt(server.ms)} ms, lost ${server.lost}, dups ${server.dups}`);
        log(`  relay (in-memory queue)`);
        const relay = await stormRun({ kind: "relay", mode: "gzip" }, n, 10, jitter, s);
        log(`    drained in ${fmtInt(relay.ms)} ms, lost ${relay.lost}`);
        raw.storm = { server, relay };
        const secs = server.ms / 1000;
        rows.push({
          workload: "storm",
          variant: `${fmtInt(n)} sockets dropped, 10 pending each, reconnect with ${jitter} ms jitter`,
          mode: "gzip",
          metric: "time until all drained",
          unit: "s",
          server: sp(secs),
          relay: sp(relay.ms / 1000),
          ratio: server.ms / relay.ms,
          loadgenCpuPct: sp(server.loadgenCpuPct),
          relayLoadgenCpuPct: sp(relay.loadgenCpuPct),
          serverCpuPct: sp(server.serverCpuPct),
          target: {
            text: `5,000 reconnected and drained <= 10 s, 0 lost: ${fmt(secs, 2)} s, ${server.complete}/${n} complete, lost ${server.lost}${n !== 5000 ? ` (measured at ${fmtInt(n)})` : ""}`,
            pass: n === 5000 ? secs <= 10 && server.lost === 0 : undefined,
          },
          notes: [
            `duplicates ${server.dups}, connect failures ${server.connectFailed}, first push after LIST_PENDING p50 ${fmt(server.firstPushP50)} ms; server CPU ${Math.round(server.serverCpuPct)}% during the storm; includes the ${jitter} ms reconnect spread`,
          ],
        });
      });
    } else if (w === "scaleout") {
      const problem = await servicesProblem();
      if (problem) {
        log(`  skipped: ${problem}`);
        rows.push(notRun("scaleout", "2 nodes + PostgreSQL + Redis", "0 loss across nodes; >= 0.5x single-node SQLite", problem));
        continue;
      }
      await attempt("scaleout", async () => {
        const cfg = { sockets: 100, window: 8, pattern: 6 as const };
        const unpinned: Settings = { ...s, serverCpus: undefined, loadCpus: undefined };
        const cases: ScaleoutCase[] = [
          { name: "1 node, SQLite", nodes: 1, database: "sqlite", bus: "local" },
          { name: "1 node, PostgreSQL", nodes: 1, database: "postgres", bus: "local" },
          { name: "2 nodes, PostgreSQL + Redis", nodes: 2, database: "postgres", bus: "redis" },
        ];
        const res: Record<string, Summary> = {};
        for (const c of cases) {
          log(`  ${c.name}: p2p ${cfg.sockets} sockets x window ${cfg.window}, 6-frame, gzip, unpinned${c.nodes === 2 ? ", every pair split across the nodes" : ""}`);
          res[c.name] = await scaleoutRun(c, cfg, unpinned);
          const r = res[c.name]!;
          log(`    ${fmtInt(r.rate.median)} msgs/s, nodes ${fmt(r.serverUsPerMsg.median, 0)} µs/msg, undelivered ${r.undelivered}, stalled ${r.totals.stalled}`);
        }
        raw.scaleout = res;
        const single = res[cases[0]!.name]!;
        const pgOne = res[cases[1]!.name]!;
        const two = res[cases[2]!.name]!;
        const lost = two.undelivered + two.totals.stallRepliedNoPush;
        const ratio = two.rate.median / single.rate.median;
        rows.push({
          workload: "scaleout",
          variant: `2 nodes + PostgreSQL + Redis, p2p ${cfg.sockets} sockets x window ${cfg.window}, pairs split across nodes`,
          mode: "gzip",
          metric: "delivered msgs/s",
          unit: "msgs/s",
          server: two.rate,
          relay: undefined,
          ratio: undefined,
          loadgenCpuPct: two.loadgenCpuPct,
          relayLoadgenCpuPct: undefined,
          serverCpuPct: two.serverCpuPct,
          serverUsPerMsg: two.serverUsPerMsg,
          foreignCpuPct: two.foreignCpuPct,
          target: {
            text: `0 lost and >= 0.5x single-node SQLite (${fmtInt(single.rate.median)}/s, same unpinned settings): ${ratio.toFixed(2)}x, lost ${lost}`,
            pass: lost === 0 && ratio >= 0.5,
          },
          notes: [
            `baseline here is single-node SQLite in the same run, not the relay; 1 node on PostgreSQL: ${fmtInt(pgOne.rate.median)} msgs/s (${(pgOne.rate.median / single.rate.median).toFixed(2)}x SQLite)`,
            `server µs/msg = both nodes' CPU per delivered message: ${fmt(two.serverUsPerMsg.median, 0)} vs ${fmt(single.serverUsPerMsg.median, 0)} single SQLite node; PostgreSQL and Redis CPU is not in it (it shows under "other load")`,
            `nothing pinned: two nodes, PostgreSQL, Redis and the generator share both cores; uses the machine's PostgreSQL (${BENCH_POSTGRES}, fresh schema) and Redis (${BENCH_REDIS}, fresh prefix)`,
            ...cpuNote(two, 1),
          ],
        });
      });
    } else if (w === "profile") {
      const dir = join(REPO, "bench/results/profiles");
      mkdirSync(dir, { recursive: true });
      const texts: string[] = [];
      const summaries: Record<string, ProfileSummary> = {};
      const prof = { ...s, rounds: 1, roundMs: q ? 4000 : 10_000, warmMs: 1000 };
      const runs: { name: string; run: (spec: { kind: "server"; mode: Mode; cpuProfDir: string; cpuProfName: string }) => Promise<unknown> }[] = [
        ...args.modes.map((mode) => ({ name: `p2p-100x8-6f-${mode}`, run: (spec: any) => p2pRun({ ...spec, mode }, { sockets: 100, window: 8, pattern: 6 }, prof) })),
        { name: "latency-2000-gzip", run: (spec: any) => latencyRun({ ...spec, mode: "gzip" }, 2000, 1000, prof) },
        { name: "group-pushes-gzip", run: (spec: any) => groupRun({ ...spec, mode: "gzip" }, 100, 8, false, prof) },
        { name: "group-acks-gzip", run: (spec: any) => groupRun({ ...spec, mode: "gzip" }, 100, 8, true, prof) },
        { name: "batch-gzip", run: (spec: any) => batchRun({ ...spec, mode: "gzip" }, 50, 2, prof) },
        { name: "drain-gzip", run: (spec: any) => drainRun({ ...spec, mode: "gzip" }, q ? 20_000 : 50_000, 1, prof) },
        { name: "storm-gzip", run: (spec: any) => stormRun({ ...spec, mode: "gzip" }, q ? 500 : 5000, 10, q ? 500 : 1000, prof) },
      ];
      const unknown = (args.profiles ?? []).filter((p) => !runs.some((r) => r.name === p));
      if (unknown.length) throw new Error(`unknown profile(s) ${unknown.join(", ")}; known: ${runs.map((r) => r.name).join(", ")}`);
      for (const r of runs.filter((r) => !args.profiles || args.profiles.includes(r.name))) {
        await attempt("profile", async () => {
          const name = `${r.name}-${Date.now()}.cpuprofile`;
          log(`  ${r.name}: server with --cpu-prof`);
          await r.run({ kind: "server", mode: "gzip", cpuProfDir: dir, cpuProfName: name });
          const file = readdirSync(dir).find((f) => f === name);
          if (!file) throw new Error(`no profile written (${name})`);
          const sum = summariseProfile(join(dir, file), 20);
          summaries[r.name] = sum;
          const text = profileText(sum, r.name);
          log(text);
          texts.push(text);
        });
      }
      raw.profile = summaries;
      const summaryFile = join(dir, `summary-${new Date().toISOString().replace(/[:.]/g, "")}.txt`);
      writeFileSync(summaryFile, texts.join("\n\n") + "\n");
      log(`  profile summaries: ${summaryFile}`);
      sections.push(["#### Profile summaries (generated)", "", "```", ...texts, "```"].join("\n"));
    }
  }

  const loadAfter = loadavg();
  const busy = loadBefore[0]!; // our own processes are in the load average afterwards
  const foreign = rows.map((r) => r.foreignCpuPct?.median).filter((x): x is number => x !== undefined && Number.isFinite(x));
  const foreignMax = foreign.length ? Math.max(...foreign) : 0;
  const info: MachineInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    ws: pkgVersion("ws"),
    betterSqlite3: pkgVersion("better-sqlite3"),
    disk: diskInfo(tmpdir()),
    pinned:
      (args.pin
        ? `server/relay pinned to CPU 0, load generators to CPU 1 (taskset -a); ${s.loadgens} load-generator process(es) for throughput, 2 for idle/storm`
        : "not pinned") + `; servers started with \`node ${startScriptNodeFlags().join(" ")}\` as \`npm start\` does`,
    sqlite: sqliteMode(),
    loadBefore,
    loadAfter,
    busyNote:
      busy > 0.7 || foreignMax > 10
        ? `**The machine was busy** (1-min load average ${busy.toFixed(1)} before the run on ${cpus().length} CPUs; other processes used up to ${Math.round(foreignMax)}% of a core during measured rounds, see "other load"): treat the absolutes as noisy; CPU µs per message and ratios are more robust.`
        : `Machine quiet (1-min load average ${busy.toFixed(1)} before the run; other processes <= ${Math.round(foreignMax)}% of a core during rounds).`,
    git: gitInfo(),
    quick: q,
    rounds: `${s.rounds} round(s) of ${s.roundMs / 1000} s after ${s.warmMs / 1000} s warm-up; drain ${q ? "1 round" : "3 rounds"}`,
    durationS: (performance.now() - started) / 1000,
  };

  process.stdout.write("\n");
  printTable(rows, (l) => process.stdout.write(`${l}\n`));
  process.stdout.write(`\n${info.busyNote}\nload average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadAfter.map((x) => x.toFixed(2)).join(" ")}; ${info.sqlite}\n`);

  const stamp = info.date.replace(/[:]/g, "").replace(/-/g, "");
  const resultsDir = join(REPO, "bench/results");
  const file = q || args.workloads.length < ALL.length ? join(resultsDir, "raw", `${stamp}-${q ? "quick" : "partial"}.json`) : join(resultsDir, `${stamp}-full.json`);
  mkdirSync(join(resultsDir, "raw"), { recursive: true });
  writeFileSync(file, JSON.stringify({ info, rows }, null, 2));
  writeFileSync(join(resultsDir, "raw", `${stamp}-detail.json`), JSON.stringify(raw, (_k, v) => (v instanceof Float64Array ? undefined : v), 2));
  process.stdout.write(`results: ${file}\n`);
  if (args.md) {
    updateBenchmarksMd(join(REPO, "BENCHMARKS.md"), markdown(rows, info, sections));
    process.stdout.write(`BENCHMARKS.md updated (generated block)\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});

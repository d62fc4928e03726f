/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function, with native frames
 * (zlib, SQLite, JSON) named after the JS function that called them, plus inclusive time of the
 * server's hot-path functions. Usable standalone: node bench/dist/profile.js FILE.cpuprofile [N]
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO } from "./procs.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  idlePct: number;
  top: HotSpot[];
  byArea: { area: string; pct: number }[];
  inclusive: { fn: string; pct: number }[];
}

const maps = new Map<string, SourceMap | undefined>();

/** `packages/…/src/x.ts:LINE` for a compiled frame of this repo, through its source map. */
function sourceLocation(url: string, line: number, column: number): string | undefined {
  if (!url.startsWith("file://")) return undefined;
  const file = fileURLToPath(url);
  if (!file.startsWith(REPO) || file.includes("node_modules")) return undefined;
  if (!maps.has(file)) {
    const mapFile = `${file}.map`;
    try {
      maps.set(file, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : undefined);
    } catch {
      maps.set(file, undefined);
    }
  }
  const map = maps.get(file);
  if (!map) return undefined;
  const e = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
  if (!e || e.originalSource === undefined || e.originalLine === undefined) return undefined;
  const src = e.originalSource.startsWith("file://") ? fileURLToPath(e.originalSource) : resolve(dirname(file), e.originalSource);
  return `${relative(REPO, src)}:${e.originalLine + 1}`;
}

function shortUrl(url: string): string {
  if (!url) return "";
  let u = url.replace(/^file:\/\//, "");
  if (u.startsWith(REPO)) u = u.slice(REPO.length + 1);
  u = u.replace(/^node_modules\//, "").replace(/\/dist\/src\//, "/src/").replace(/\.js$/, (m) => (u.startsWith("packages/") ? ".ts" : m));
  return u;
}

/** Coarse buckets so the report says where time goes, not just which function. */
function area(fn: string, url: string, parentFn: string, parentUrl: string): string {
  const u = url || parentUrl;
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)") return "V8/program (native, unattributed)";
  if (/node:zlib|zlib/.test(u) || /^(writeSync|zlibBufferSync|processChunkSync|crc32)$/.test(fn)) return "zlib (gzip/gunzip)";
  if (/better-sqlite3/.test(u) || (!url && /^(run|get|all|iterate|exec|prepare|transaction)$/.test(fn))) return "SQLite (better-sqlite3)";
  if (/(^|\/)ws\//.test(u)) return "ws (WebSocket framing)";
  if (/node:net|node:stream|node:internal\/stream|writeBuffer|writev|node:internal\/net/.test(u) || fn === "writev" || fn === "writeBuffer") return "socket I/O";
  if (fn === "stringify" || fn === "parse" || parentFn === "stringify" || parentFn === "parse") return "JSON";
  if (/pino|fastify|light-my-request|avvio/.test(u)) return "logging / HTTP framework";
  if (/packages\/protocol/.test(u)) return "openblaze protocol (framing, views)";
  if (/packages\/server/.test(u)) return "openblaze server (JS)";
  if (/^node:/.test(u)) return "Node core (other)";
  return "other";
}

export function summariseProfile(file: string, topN = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0; // the time until the next sample belongs to this one
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt);
  }
  let total = 0;
  let idle = 0;
  const spots = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const WATCH = [
    "encodeFrame",
    "decodeFrame",
    "gzipSync",
    "gunzipSync",
    "acceptMessages",
    "acknowledge",
    "pendingMessages",
    "admit",
    "sendOne",
    "sendBatch",
    "drainMailbox",
    "pushReceipt",
    "reply",
    "onFrame",
    "commitLoop",
    "messageView",
    "authenticate",
  ];
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName || "(anonymous)";
    total += us;
    if (fn === "(idle)") {
      idle += us;
      continue;
    }
    const par = parent.get(id);
    const pn = par !== undefined ? byId.get(par) : undefined;
    const pfn = pn?.callFrame.functionName || "(anonymous)";
    const native = !n.callFrame.url && !fn.startsWith("(");
    const name = native && pn ? `${fn} ← ${pfn}` : fn;
    const where =
      native && pn
        ? (sourceLocation(pn.callFrame.url, pn.callFrame.lineNumber, pn.callFrame.columnNumber) ?? shortUrl(pn.callFrame.url))
        : (sourceLocation(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber) ??
          `${shortUrl(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`);
    const key = `${name}@${where}`;
    const s = spots.get(key) ?? { name, where, us: 0 };
    s.us += us;
    spots.set(key, s);
    const a = area(fn, n.callFrame.url, pfn, pn?.callFrame.url ?? "");
    areas.set(a, (areas.get(a) ?? 0) + us);
    // Inclusive: charge this sample to each watched function on its stack, once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame.functionName;
      if (WATCH.includes(f) && !seen.has(f)) {
        seen.add(f);
        inclusive.set(f, (inclusive.get(f) ?? 0) + us);
      }
    }
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (us / busy) * 100 : 0);
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    idlePct: total > 0 ? (idle / total) * 100 : 0,
    top: [...spots.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((s) => ({ name: s.name, where: s.where, selfMs: s.us / 1000, selfPct: pct(s.us) })),
    byArea: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([a, us]) => ({ area: a, pct: pct(us) })),
    inclusive: [...inclusive.entries()].sort((a, b) => b[1] - a[1]).map(([fn, us]) => ({ fn, pct: pct(us) })),
  };
}

export function profileText(s: ProfileSummary, title: string): string {
  const out: string[] = [];
  out.push(`${title}: ${s.busyMs.toFixed(0)} ms busy of ${s.totalMs.toFixed(0)} ms sampled (idle ${s.idlePct.toFixed(0)}%); % of busy time`);
  out.push("  by area: " + s.byArea.map((a) => `${a.area} ${a.pct.toFixed(1)}%`).join(", "));
  out.push("  inclusive: " + s.inclusive.map((a) => `${a.fn} ${a.pct.toFixed(1)}%`).join(", "));
  out.push("  top self time:");
  for (const h of s.top) out.push(`    ${h.selfPct.toFixed(1).padStart(5)}%  ${h.name}  (${h.where})`);
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: node bench/dist/profile.js FILE.cpuprofile [topN]\n");
    process.exit(2);
  }
  process.stdout.write(profileText(summariseProfile(file, Number(process.argv[3] ?? 25)), file) + "\n");
}

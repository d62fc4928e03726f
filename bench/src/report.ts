/** Table on stdout, JSON under bench/results/, and the generated block of BENCHMARKS.md. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Spread } from "./stats.js";
import { fmt, fmtInt } from "./stats.js";
import type { Row } from "./workloads.js";

export interface MachineInfo {
  date: string;
  command: string;
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  node: string;
  ws: string;
  betterSqlite3: string;
  disk: string;
  pinned: string;
  sqlite: string;
  loadBefore: number[];
  loadAfter: number[];
  busyNote: string;
  git: string;
  quick: boolean;
  rounds: string;
  durationS: number;
}

function range(s: Spread | undefined, f: (n: number) => string = fmtInt): string {
  if (!s || !Number.isFinite(s.median)) return "n/a";
  if (s.n <= 1 || s.min === s.max) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function ratioText(r: Row): string {
  return r.ratio === undefined || !Number.isFinite(r.ratio) ? "–" : `${r.ratio.toFixed(2)}×`;
}

function cpuText(s: Spread | undefined): string {
  return s && Number.isFinite(s.median) ? `${Math.round(s.median)}%` : "–";
}

function valueFormatter(r: Row): (n: number) => string {
  return r.unit === "ms" || r.unit === "s" || r.unit === "KiB" ? (n) => fmt(n, n < 10 ? 2 : 1) : fmtInt;
}

function passText(r: Row): string {
  if (!r.target) return "";
  const mark = r.target.pass === undefined ? "n/a" : r.target.pass ? "PASS" : "FAIL";
  return `${mark} (${r.target.text})`;
}

function usText(r: Row): string {
  if (!r.serverUsPerMsg) return "";
  const ours = r.serverUsPerMsg.median;
  const relay = r.relayUsPerMsg?.median;
  if (relay === undefined || !Number.isFinite(relay)) return `${fmt(ours, 0)} µs`;
  const d = ours - relay;
  return `${fmt(ours, 0)} vs ${fmt(relay, 0)} (${d >= 0 ? "+" : ""}${fmt(d, 0)})`;
}

const COLUMNS = ["workload", "variant", "mode", "metric", "openblaze median (min–max)", "relay", "ratio", "load-gen CPU", "server µs/msg vs relay", "target"] as const;

function cells(r: Row): string[] {
  const f = valueFormatter(r);
  const lg = r.relayLoadgenCpuPct ? `${cpuText(r.loadgenCpuPct)} (relay run ${cpuText(r.relayLoadgenCpuPct)})` : cpuText(r.loadgenCpuPct);
  return [r.workload, r.variant, r.mode, `${r.metric} [${r.unit}]`, range(r.server, f), range(r.relay, f), ratioText(r), lg, usText(r), passText(r)];
}

export function printTable(rows: readonly Row[], out: (s: string) => void): void {
  const body = rows.map(cells);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (v: readonly string[]) => v.map((x, i) => x.padEnd(widths[i]!)).join(" | ");
  out(line(COLUMNS));
  out(widths.map((w) => "-".repeat(w)).join("-+-"));
  for (const b of body) out(line(b));
  const notes = rows.flatMap((r) => r.notes.map((n) => `${r.workload}/${r.variant}/${r.mode}: ${n}`));
  if (notes.length) {
    out("");
    for (const n of notes) out(`  * ${n}`);
  }
}

/** The one-line headline form: `absolute | ratio to the relay | load-gen CPU%`. */
export function headline(r: Row): string {
  const f = valueFormatter(r);
  const relay = r.relay ? `${ratioText(r)} relay (${f(r.relay.median)})` : "no relay figure";
  return `${r.workload} ${r.variant} ${r.mode}: ${f(r.server.median)} ${r.unit} | ${relay} | load-gen ${cpuText(r.loadgenCpuPct)}`;
}

export function markdown(rows: readonly Row[], m: MachineInfo, extraSections: string[]): string {
  const md: string[] = [];
  md.push(`### Run of ${m.date}${m.quick ? " (--quick: indicative only)" : ""}`);
  md.push("");
  md.push(`- Command: \`${m.command}\` (${m.rounds}; took ${Math.round(m.durationS)} s)`);
  md.push(`- Machine: ${m.cpu}, ${m.cores} vCPU, ${m.memGiB} GiB RAM, kernel ${m.kernel}, ${m.disk}`);
  md.push(`- Software: Node ${m.node}, ws ${m.ws}, better-sqlite3 ${m.betterSqlite3}; openblaze ${m.git}`);
  md.push(`- Processes: ${m.pinned}`);
  md.push(`- Storage: ${m.sqlite}`);
  md.push(`- Machine load: 1/5/15-min load average ${m.loadBefore.map((x) => x.toFixed(2)).join(" / ")} before, ${m.loadAfter.map((x) => x.toFixed(2)).join(" / ")} after. ${m.busyNote}`);
  md.push("");
  md.push("Headlines (`absolute | ratio to the relay | load-generator CPU%`):");
  md.push("");
  for (const r of rows) if (r.workload !== "relay") md.push(`- ${headline(r)}${r.target ? ` — **${r.target.pass === undefined ? "n/a" : r.target.pass ? "PASS" : "FAIL"}** (${r.target.text})` : ""}`);
  md.push("");
  md.push(`| ${COLUMNS.join(" | ")} | other load |`);
  md.push(`|${COLUMNS.map(() => "---").join("|")}|---|`);
  for (const r of rows) md.push(`| ${cells(r).map((c) => c.replace(/\|/g, "\\|")).join(" | ")} | ${cpuText(r.foreignCpuPct)} |`);
  const notes = rows.flatMap((r) => r.notes.map((n) => `${r.workload} ${r.variant} ${r.mode}: ${n}`));
  if (notes.length) {
    md.push("");
    md.push("Notes:");
    md.push("");
    for (const n of notes) md.push(`- ${n}`);
  }
  for (const s of extraSections) {
    md.push("");
    md.push(s);
  }
  return md.join("\n");
}

const BEGIN = "<!-- bench:results:begin (generated by npm run bench; edits inside are overwritten) -->";
const END = "<!-- bench:results:end -->";

/** Replaces the generated block of BENCHMARKS.md, keeping everything written by hand around it. */
export function updateBenchmarksMd(path: string, block: string): void {
  const wrapped = `${BEGIN}\n${block}\n${END}`;
  if (!existsSync(path)) {
    writeFileSync(path, `# Benchmarks\n\n${wrapped}\n`);
    return;
  }
  const text = readFileSync(path, "utf8");
  const a = text.indexOf(BEGIN.slice(0, 30));
  const b = text.indexOf(END);
  writeFileSync(path, a >= 0 && b > a ? text.slice(0, a) + wrapped + text.slice(b + END.length) : `${text.trimEnd()}\n\n${wrapped}\n`);
}

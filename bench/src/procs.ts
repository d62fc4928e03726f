/** Child processes of a benchmark run: the server, the relay, the load generators; /proc readers. */
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import type { LoadgenCommand, LoadgenReply } from "./protocol.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../..");
export const CLI_MAIN = join(REPO, "packages/cli/dist/src/main.js");
const RELAY_MAIN = join(HERE, "relay.js");
const LOADGEN_MAIN = join(HERE, "loadgen.js");

export const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

const HAVE_TASKSET = spawnSync("taskset", ["-V"]).status === 0;

/** CPU seconds (user + system, all threads) of a live process. */
export function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "latin1").split("\n", 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + (steal ?? 0);
  return { busy, total: busy + idle + (iowait ?? 0) };
}

/** VmRSS in bytes. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function pin(pid: number, cpus: string | undefined): void {
  if (!cpus || !HAVE_TASKSET) return;
  spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

export function canPin(): boolean {
  return HAVE_TASKSET;
}

const live = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Children die with the harness (Ctrl-C, timeout, crash): no orphaned servers holding ports and data dirs. */
function track(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const c of live) c.kill("SIGKILL");
  };
  process.once("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** A child we started, with its output kept for error messages. */
export class Proc {
  readonly tail: string[] = [];
  exited = false;
  exitCode: number | null = null;
  inspectorUrl: string | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    track(child);
    // BENCH_SERVER_LOG=FILE keeps every server's whole output (V8 traces such as --trace-gc-nvp).
    const log = name === "server" ? process.env.BENCH_SERVER_LOG : undefined;
    const keep = (chunk: Buffer) => {
      if (log) appendFileSync(log, chunk);
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        const m = /Debugger listening on (ws:\/\/\S+)/.exec(line);
        if (m) this.inspectorUrl = m[1];
      }
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("exit", (code) => {
      this.exited = true;
      this.exitCode = code;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  cpu(): number {
    return cpuSeconds(this.pid);
  }

  waitFor(re: RegExp, ms = 20_000): Promise<RegExpExecArray> {
    return new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        for (const line of this.tail) {
          const m = re.exec(line);
          if (m) {
            resolvePromise(m);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no ${re} within ${ms} ms\n${this.tail.join("\n")}`));
      }, ms);
      const onData = () => {
        if (check()) cleanup();
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${this.name} exited (${this.exitCode})\n${this.tail.join("\n")}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout?.off("data", onData);
        this.child.stderr?.off("data", onData);
        this.child.off("exit", onExit);
      };
      this.child.stdout?.on("data", onData);
      this.child.stderr?.on("data", onData);
      this.child.on("exit", onExit);
    });
  }

  /** SIGINT (graceful: the server drains its commits; --cpu-prof writes on exit), then SIGKILL. */
  async stop(graceMs = 8000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGINT");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await done;
    clearTimeout(timer);
  }
}

export interface Target {
  kind: "server" | "relay";
  label: string;
  url: string;
  proc: Proc;
}

export interface ServerOptions {
  dataDir: string;
  compression: string;
  cpus?: string;
  cpuProfDir?: string;
  cpuProfName?: string;
  inspect?: boolean;
  /** More `serve` flags (--database, --bus). */
  extraArgs?: string[];
  label?: string;
}

/**
 * The Node flags `npm start` gives the server (the README's way to run it), read from package.json
 * so the bench measures what users run.
 */
export function startScriptNodeFlags(): string[] {
  const start: string = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).scripts.start;
  const words = start.split(/\s+/);
  const afterNode = words.slice(words.indexOf("node") + 1);
  const script = afterNode.findIndex((w) => !w.startsWith("--"));
  return afterNode.slice(0, script < 0 ? afterNode.length : script);
}

export async function startServer(o: ServerOptions): Promise<Target> {
  const node: string[] = [...startScriptNodeFlags()];
  // BENCH_CPU_PROF_DIR profiles every server a run starts (scale-out nodes included), for digging.
  const profDir = o.cpuProfDir ?? process.env.BENCH_CPU_PROF_DIR;
  if (profDir) node.push("--cpu-prof", `--cpu-prof-dir=${profDir}`, ...(o.cpuProfName ? [`--cpu-prof-name=${o.cpuProfName}`] : []));
  if (o.inspect) node.push("--inspect=127.0.0.1:0");
  // BENCH_SERVER_NODE_FLAGS adds Node/V8 flags to every server (GC experiments: --max-semi-space-size=N, ...).
  node.push(...(process.env.BENCH_SERVER_NODE_FLAGS?.split(" ").filter(Boolean) ?? []));
  const child = spawn(
    process.execPath,
    [...node, CLI_MAIN, "serve", "--host", "127.0.0.1", "--port", "0", "--data", o.dataDir, "--compression", o.compression, ...(o.extraArgs ?? [])],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OPENBLAZE_LOG_LEVEL: process.env.OPENBLAZE_LOG_LEVEL ?? "info" } },
  );
  const proc = new Proc("server", child);
  pin(child.pid!, o.cpus);
  const m = await proc.waitFor(/WebSocket (ws:\/\/\S+?)\)/);
  if (o.inspect) await proc.waitFor(/Debugger listening/);
  return { kind: "server", label: o.label ?? `openblaze (${o.compression})`, url: m[1]!, proc };
}

export async function startRelay(o: { compression: string; queueOffline?: boolean; cpus?: string; inspect?: boolean }): Promise<Target> {
  const node: string[] = o.inspect ? ["--inspect=127.0.0.1:0"] : [];
  const child = spawn(process.execPath, [...node, RELAY_MAIN, "--port", "0", "--compression", o.compression, ...(o.queueOffline ? ["--queue-offline"] : [])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = new Proc("relay", child);
  pin(child.pid!, o.cpus);
  const m = await proc.waitFor(/relay listening on (ws:\/\/\S+)/);
  if (o.inspect) await proc.waitFor(/Debugger listening/);
  return { kind: "relay", label: `relay (${o.compression})`, url: m[1]!, proc };
}

/** One load-generator process; replies arrive in order and are taken in order. */
export class Loadgen {
  private waiters: ((r: LoadgenReply) => void)[] = [];
  private inbox: LoadgenReply[] = [];
  private readonly ready: Promise<void>;
  readonly proc: Proc;

  constructor(cpus?: string) {
    const child = fork(LOADGEN_MAIN, [], { stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" });
    this.proc = new Proc("loadgen", child);
    pin(child.pid!, cpus);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    child.on("message", (m: LoadgenReply) => {
      if (m.op === "ready") return readyResolve();
      const w = this.waiters.shift();
      if (w) w(m);
      else this.inbox.push(m);
    });
    child.on("exit", () => {
      readyReject(new Error(`loadgen exited before it was ready\n${this.proc.tail.join("\n")}`));
      const gone: LoadgenReply = { op: "failed", error: `loadgen exited\n${this.proc.tail.join("\n")}` };
      for (const w of this.waiters.splice(0)) w(gone);
      this.inbox.push(gone);
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Sends a command and takes the next reply. */
  async call<R extends LoadgenReply = LoadgenReply>(cmd: LoadgenCommand): Promise<R> {
    await this.ready;
    this.proc.child.send(cmd);
    return this.next<R>();
  }

  /** Takes the next reply (e.g. "seeded", which follows "started"). */
  async next<R extends LoadgenReply = LoadgenReply>(): Promise<R> {
    const r = this.inbox.length > 0 ? this.inbox.shift()! : await new Promise<LoadgenReply>((res) => this.waiters.push(res));
    if (r.op === "failed") throw new Error(`loadgen: ${r.error}`);
    return r as R;
  }

  async exit(): Promise<void> {
    if (this.proc.exited) return;
    const done = new Promise<void>((r) => this.proc.child.once("exit", () => r()));
    try {
      this.proc.child.send({ op: "exit" } satisfies LoadgenCommand);
    } catch {
      /* already gone */
    }
    const t = setTimeout(() => this.proc.child.kill("SIGKILL"), 5000);
    await done;
    clearTimeout(t);
  }
}

/** Minimal Chrome DevTools Protocol client: force a full GC in a process started with --inspect. */
export class Cdp {
  private seq = 0;
  private readonly pending = new Map<number, (v: any) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (d: Buffer) => {
      const m = JSON.parse(d.toString("utf8")) as { id?: number; result?: unknown; error?: unknown };
      if (m.id !== undefined) {
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      }
    });
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((res, rej) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once("open", () => res(new Cdp(ws)));
      ws.once("error", rej);
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = ++this.seq;
    return new Promise((res) => {
      this.pending.set(id, res);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async gc(): Promise<void> {
    await this.send("HeapProfiler.collectGarbage");
    await this.send("HeapProfiler.collectGarbage");
  }

  async memoryUsage(): Promise<{ rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number } | undefined> {
    const r = await this.send("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true });
    const v = r?.result?.result?.value;
    return typeof v === "string" ? JSON.parse(v) : undefined;
  }

  close(): void {
    this.ws.close();
  }
}

export function fileExists(p: string): boolean {
  return existsSync(p);
}

/**
 * The server as a separate process (the CLI's `serve`), for tests that kill it, restart it or watch
 * its memory. Importing this module has no side effects (node --test runs every file under test/).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { WebSocket } from "ws";
import { parseKeystore, signToken, type Keystore } from "@openblaze/protocol";
import { TestSocket, type TestUser } from "../harness.js";

/** The CLI entry point; server tests only run it, they never import it (no project cycle). */
export const CLI_MAIN = fileURLToPath(new URL("../../../../cli/dist/src/main.js", import.meta.url));
export const CLI_BUILT = existsSync(CLI_MAIN);
export const SKIP_NO_CLI = CLI_BUILT ? false : "packages/cli is not built (run tsc -b packages/cli)";

const run = promisify(execFile);

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ChildServer {
  httpUrl = "";
  wsUrl = "";
  /** Last 64 KiB of stderr and stdout, for failure messages and log checks. */
  output = "";
  readonly exited: Promise<ExitInfo>;

  private constructor(
    readonly dataDir: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-64 * 1024);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
  }

  /** `openblaze serve --port 0 --data DIR`; resolves once it prints its address. */
  static async start(dataDir: string, opts: { logLevel?: string; env?: Record<string, string> } = {}): Promise<ChildServer> {
    const child = spawn(process.execPath, [CLI_MAIN, "serve", "--port", "0", "--data", dataDir, "--log-level", opts.logLevel ?? "warn"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...opts.env },
    });
    const s = new ChildServer(dataDir, child);
    await new Promise<void>((resolve, reject) => {
      const onData = () => {
        const m = /listening on (http:\/\/\S+) \(WebSocket (ws:\/\/\S+)\)/.exec(s.output);
        if (!m) return;
        s.httpUrl = m[1]!;
        s.wsUrl = m[2]!;
        child.stdout!.off("data", onData);
        resolve();
      };
      child.stdout!.on("data", onData);
      void s.exited.then((e) => reject(new Error(`serve exited (${e.code ?? e.signal}) before listening:\n${s.output}`)));
    });
    return s;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resident set size in KiB, from /proc (Linux). */
  rssKb(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  }

  async kill(signal: NodeJS.Signals): Promise<ExitInfo> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

/** `openblaze user create --name N [--bot] --data DIR`: the keystore it prints, as a test user. */
export async function cliUser(dataDir: string, name: string, bot = false): Promise<TestUser> {
  const { stdout } = await run(process.execPath, [CLI_MAIN, "user", "create", "--name", name, ...(bot ? ["--bot"] : []), "--data", dataDir]);
  const keystore = JSON.parse(stdout) as Keystore;
  const creds = parseKeystore(keystore);
  return { userId: creds.userId, sessionId: creds.sessionId, creds, keystore };
}

/** A raw Blaze socket to any server URL. */
export async function openSocket(wsUrl: string, u: TestUser | undefined, authorization?: string): Promise<TestSocket> {
  const auth = authorization ?? (u ? `Bearer ${signToken(u.creds, { method: "GET", uri: "/" })}` : undefined);
  const ws = new WebSocket(wsUrl, ["Mixin-Blaze-1"], { headers: auth ? { authorization: auth } : {}, perMessageDeflate: false });
  const s = new TestSocket(ws);
  await s.opened;
  return s;
}

/** A signed HTTP request to any server URL. */
export async function signedHttp(httpUrl: string, u: TestUser, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const raw = body === undefined ? "" : JSON.stringify(body);
  const res = await fetch(httpUrl + path, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${signToken(u.creds, { method, uri: path, body: raw })}` },
    ...(raw !== "" && { body: raw }),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** Deterministic PRNG (mulberry32): the same seed replays the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Samples a child's RSS every `everyMs` until stopped; keeps the peak. */
export class RssSampler {
  peakKb = 0;
  samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly server: ChildServer,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): number {
    if (!this.server.running) return 0;
    let kb = 0;
    try {
      kb = this.server.rssKb();
    } catch {
      return 0;
    }
    this.samples.push(kb);
    this.peakKb = Math.max(this.peakKb, kb);
    return kb;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

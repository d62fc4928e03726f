import { execFile, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const execFileAsync = promisify(execFile);

/** Runs the CLI to completion. */
export function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [MAIN, ...args], { env });
}

export interface Served {
  child: ChildProcess;
  httpUrl: string;
  wsUrl: string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `openblaze serve` as a real process on a free port; resolves once it prints where it listens. */
export async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, "serve", "--port", "0", "--log-level", "warn", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const httpUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes("data in")) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    return exited;
  };
  return { child, httpUrl, wsUrl: `${httpUrl.replace(/^http/, "ws")}/`, stop };
}

/** A long-running CLI command whose stdout lines can be awaited one by one. */
export class LineReader {
  readonly child: ChildProcess;
  private buffer = "";
  private readonly lines: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (b: Buffer) => {
      this.buffer += b.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr!.on("data", (b: Buffer) => {
      this.stderr += b.toString();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  stderr = "";

  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no output line within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
    return this.lines.shift()!;
  }

  async waitForStderr(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stderr never matched ${pattern}: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill("SIGINT");
    return exited;
  }
}

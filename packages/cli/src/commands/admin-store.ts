import type { Command } from "commander";
import { openStore, resolveConfig, type ServerConfig, type Store } from "@openblaze/server";

export interface StoreFlags {
  data?: string;
  database?: string;
  json?: boolean;
}

/** The `--data` / `--database` pair every admin command takes, like `user create`. */
export function storeOptions(cmd: Command): Command {
  return cmd
    .option("--data <dir>", "data directory of the server (env OPENBLAZE_DATA)")
    .option("--database <url>", "the server's database: sqlite (under --data) or postgres://… (env OPENBLAZE_DATABASE)");
}

/**
 * Opens the server's database (SQLite under --data, or PostgreSQL), runs `fn`, closes it. Safe
 * while servers run on it: SQLite in WAL mode with a busy timeout, or PostgreSQL. Changes that
 * concern running servers (revocations, disabled users) reach them through the database itself.
 */
export async function withStore<T>(flags: StoreFlags, fn: (store: Store) => Promise<T>): Promise<T> {
  const partial: Partial<ServerConfig> = {};
  const dataDir = flags.data ?? process.env.OPENBLAZE_DATA;
  const database = flags.database ?? process.env.OPENBLAZE_DATABASE;
  if (dataDir !== undefined) partial.dataDir = dataDir;
  if (database !== undefined) partial.database = database;
  const store = openStore(resolveConfig(partial));
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function out(line = ""): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Microseconds since the epoch as an ISO time. */
export function isoMicros(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

/** Left-aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - [...c].length))).join("  ")).join("\n");
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "30m", "12h", "7d", "2w", or combinations like "1d12h". */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (!/^(\d+(s|m|h|d|w))+$/.test(t)) throw new Error(`invalid duration "${text}": use e.g. 90s, 30m, 12h, 7d, 2w or 1d12h`);
  let ms = 0;
  for (const m of t.matchAll(/(\d+)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms <= 0) throw new Error(`duration must be more than zero, got "${text}"`);
  return ms;
}

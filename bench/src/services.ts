/**
 * The machine's PostgreSQL and Redis for the workloads that need them (scaleout, batch on
 * PostgreSQL): OPENBLAZE_BENCH_POSTGRES / OPENBLAZE_BENCH_REDIS, a fresh schema per run.
 */
import { connect } from "node:net";
import pg from "pg";
import { PostgresStore, UserService } from "@openblaze/server";
import type { Account } from "./accounts.js";

export const BENCH_POSTGRES = process.env.OPENBLAZE_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
export const BENCH_REDIS = process.env.OPENBLAZE_BENCH_REDIS ?? "redis://127.0.0.1:6379";

/** Why the services cannot be used, or undefined when both answer. */
export async function servicesProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: BENCH_POSTGRES, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (e) {
    return `PostgreSQL not reachable at ${BENCH_POSTGRES}: ${(e as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
  const u = new URL(BENCH_REDIS);
  const pong = await new Promise<string>((res) => {
    const sock = connect({ host: u.hostname, port: Number(u.port || 6379) }, () => sock.write("PING\r\n"));
    sock.setTimeout(3000, () => (sock.destroy(), res("timeout")));
    sock.on("data", (d) => (sock.end(), res(d.toString().trim())));
    sock.on("error", (e) => res(e.message));
  });
  return pong === "+PONG" ? undefined : `Redis not reachable at ${BENCH_REDIS}: ${pong}`;
}

/** `count` accounts in a fresh schema of the machine's PostgreSQL. */
export async function populatePostgres(schema: string, count: number): Promise<Account[]> {
  const store = new PostgresStore({ connectionString: BENCH_POSTGRES, schema });
  try {
    await store.migrate();
    const users = new UserService(store);
    const out: Account[] = [];
    for (let i = 0; i < count; i++) {
      const a = await users.createAccount(`bench user ${i}`, false);
      out.push({ userId: a.user.userId, sessionId: a.sessionId, seed: a.seed!.toString("hex") });
    }
    return out;
  } finally {
    await store.close();
  }
}

/** The `--database` URL of `serve` for a bench schema. */
export function benchSchemaUrl(schema: string): string {
  const u = new URL(BENCH_POSTGRES);
  u.searchParams.set("schema", schema);
  return u.toString();
}

export async function dropSchema(schema: string): Promise<void> {
  if (!/^openblaze_bench_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}`);
  const client = new pg.Client({ connectionString: BENCH_POSTGRES });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}


/**
 * scaleout: the p2p closed loop with every pair split across two `serve` nodes that share one
 * PostgreSQL database and one Redis bus, against one node on SQLite (and one node on PostgreSQL)
 * on the same box with the same unpinned settings. Uses the machine's PostgreSQL and Redis (as the
 * scale-out tests do: OPENBLAZE_BENCH_POSTGRES, OPENBLAZE_BENCH_REDIS) in a fresh schema and
 * channel prefix, dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { PostgresStore, UserService } from "@openblaze/server";
import { pairSpecs, populate, type Account } from "./accounts.js";
import { measure, type Settings, type Summary } from "./measure.js";
import { Loadgen, startServer, type Target } from "./procs.js";
import type { LoadgenReply } from "./protocol.js";
import type { P2pOptions } from "./workloads.js";

export const BENCH_POSTGRES = process.env.OPENBLAZE_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
export const BENCH_REDIS = process.env.OPENBLAZE_BENCH_REDIS ?? "redis://127.0.0.1:6379";

export interface ScaleoutCase {
  name: string;
  nodes: 1 | 2;
  database: "sqlite" | "postgres";
  bus: "local" | "redis";
}

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

async function populatePostgres(url: string, schema: string, count: number): Promise<Account[]> {
  const store = new PostgresStore({ connectionString: url, schema });
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

async function dropSchema(schema: string): Promise<void> {
  if (!/^openblaze_bench_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}`);
  const client = new pg.Client({ connectionString: BENCH_POSTGRES });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** One case of the scale-out comparison; nothing pinned (nodes, PostgreSQL, Redis and the generator share both cores). */
export async function scaleoutRun(c: ScaleoutCase, o: P2pOptions, s: Settings): Promise<Summary> {
  const tag = randomBytes(6).toString("hex");
  const schema = `openblaze_bench_${tag}`;
  const dirs: string[] = [];
  const nodes: Target[] = [];
  const lg = new Loadgen(undefined);
  try {
    for (let i = 0; i < c.nodes; i++) dirs.push(await mkdtemp(join(s.tmp, "openblaze-bench-node-")));
    let accounts: Account[];
    const extra: string[] = [];
    if (c.database === "postgres") {
      const u = new URL(BENCH_POSTGRES);
      u.searchParams.set("schema", schema);
      accounts = await populatePostgres(BENCH_POSTGRES, schema, o.sockets);
      extra.push("--database", u.toString());
    } else {
      accounts = (await populate(dirs[0], o.sockets)).accounts;
    }
    if (c.bus === "redis") {
      const u = new URL(BENCH_REDIS);
      u.searchParams.set("prefix", `openblaze_bench_${tag}:`);
      extra.push("--bus", u.toString());
    }
    for (let i = 0; i < c.nodes; i++) {
      nodes.push(await startServer({ dataDir: dirs[i]!, compression: "gzip", extraArgs: extra, label: `${c.name} node ${i + 1}` }));
    }
    const specs = pairSpecs(accounts).map((x, i) => (c.nodes === 2 ? { ...x, url: nodes[i % 2]!.url } : x));
    const r = await lg.call<Extract<LoadgenReply, { op: "connected" }>>({ op: "connect", url: nodes[0]!.url, sockets: specs, subscribe: true });
    if (r.failed > 0) throw new Error(`${r.failed} sockets failed to connect: ${r.errorSamples.slice(0, 2).join(" | ")}`);
    const measured = { label: c.name, proc: { cpu: () => nodes.reduce((n, t) => n + t.proc.cpu(), 0) } };
    return await measure(
      measured,
      [lg],
      async () => {
        await lg.call({ op: "closed", window: o.window, ack: true, needReceipts: true, needAckReplies: false, fanout: 1, stallMs: 10_000 });
      },
      (x) => x.pushes,
      { ...s, settleMs: 10_000 },
    );
  } finally {
    await lg.exit();
    for (const n of nodes) await n.proc.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    if (c.database === "postgres") await dropSchema(schema).catch(() => {});
  }
}

/**
 * scaleout: the p2p closed loop with every pair split across two `serve` nodes that share one
 * PostgreSQL database and one Redis bus, against one node on SQLite (and one node on PostgreSQL)
 * on the same box with the same unpinned settings. Uses the machine's PostgreSQL and Redis (as the
 * scale-out tests do: OPENBLAZE_BENCH_POSTGRES, OPENBLAZE_BENCH_REDIS) in a fresh schema and
 * channel prefix, dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { pairSpecs, populate, type Account } from "./accounts.js";
import { measure, type Settings, type Summary } from "./measure.js";
import { Loadgen, startServer, type Target } from "./procs.js";
import type { LoadgenReply } from "./protocol.js";
import { BENCH_REDIS, benchSchemaUrl, dropSchema, populatePostgres } from "./services.js";
import type { P2pOptions } from "./workloads.js";

export interface ScaleoutCase {
  name: string;
  nodes: 1 | 2;
  database: "sqlite" | "postgres";
  bus: "local" | "redis";
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
      accounts = await populatePostgres(schema, o.sockets);
      extra.push("--database", benchSchemaUrl(schema));
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

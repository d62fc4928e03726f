/**
 * Where the scale-out tests find PostgreSQL and Redis (the machine's services; `.ci/run` starts
 * them). A test that needs one fails when it is down: never a skip, so CI cannot go green without
 * having run it. Every test works in its own schema / key prefix, so concurrent runs never collide.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const TEST_POSTGRES_URL = process.env.OPENBLAZE_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
export const TEST_REDIS_URL = process.env.OPENBLAZE_TEST_REDIS ?? "redis://127.0.0.1:6379";

/** A fresh, unused schema name: `openblaze_test_<hex>`. */
export function testSchemaName(): string {
  return `openblaze_test_${randomBytes(6).toString("hex")}`;
}

/** A fresh Redis channel/key prefix. */
export function testRedisPrefix(): string {
  return `openblaze_test_${randomBytes(6).toString("hex")}:`;
}

/** The database URL with our `schema` parameter added. */
export function postgresUrlWithSchema(schema: string, base = TEST_POSTGRES_URL): string {
  const u = new URL(base);
  u.searchParams.set("schema", schema);
  return u.toString();
}

export function redisUrlWithPrefix(prefix: string, base = TEST_REDIS_URL): string {
  const u = new URL(base);
  u.searchParams.set("prefix", prefix);
  return u.toString();
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  if (!/^openblaze_test_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}`);
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A free TCP port on 127.0.0.1 (free when asked; fine for tests). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on its own port, for tests that stop and restart Redis (the machine's
 * shared one on 6379 must stay up for concurrent runs). No persistence: a restart is empty.
 */
export class PrivateRedis {
  private child: import("node:child_process").ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { spawn } = await import("node:child_process");
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    let output = "";
    child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${this.port}: ${output}`)), 10_000);
      const check = () => {
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", check);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot run redis-server (is it installed?): ${e.message}`));
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    });
  }

  /** SIGKILL: connections drop at once, nothing is saved. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

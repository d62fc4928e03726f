import type { Logger } from "pino";
import { sqlitePath, type ServerConfig } from "../config.js";
import { PostgresStore, parsePostgresUrl } from "./postgres/postgres-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/**
 * The store `config.database` names: SQLite under the data directory, or PostgreSQL. Call
 * `migrate()` before use. A "server" store checkpoints SQLite's WAL on a background thread.
 */
export function openStore(config: Pick<ServerConfig, "database" | "dataDir">, log?: Logger, role: "server" | "tool" = "tool"): Store {
  if (config.database === "sqlite") {
    return new SqliteStore({
      path: sqlitePath(config),
      backgroundCheckpoints: role === "server",
      onCheckpointFailure: (err) => log?.error({ err }, "sqlite: background checkpoint failed; SQLite checkpoints inside commits again"),
      onIdIndexFailure: (err) => log?.error({ err }, "sqlite: moving recent message ids to their table failed; they stay in memory and it is tried again"),
    });
  }
  const { connectionString, schema, poolSize } = parsePostgresUrl(config.database);
  return new PostgresStore({
    connectionString,
    ...(schema !== undefined && { schema }),
    ...(poolSize !== undefined && { poolSize }),
    onPoolError: (err) => log?.warn({ err: err.message }, "postgres: idle connection failed; the pool replaces it"),
  });
}

/** A database or bus URL without its password, for logs. */
export function redactUrl(url: string): string {
  if (!url.includes("://")) return url;
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseCompression } from "@openblaze/protocol";
import type { ServerConfig } from "@openblaze/server";

export interface ServeFlags {
  host?: string;
  port?: string;
  data?: string;
  database?: string;
  bus?: string;
  publicUrl?: string;
  compression?: string;
  logLevel?: string;
  maxButtons?: string;
  webDir?: string;
  dev?: boolean;
  drainDelay?: string;
}

/** The web chat built by `npm run build` (packages/web/dist/app), when that package is installed. */
export function bundledWebDir(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@openblaze/web/package.json")), "dist", "app");
  } catch {
    return undefined;
  }
}

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${text}"`);
  return n;
}

/** Flags first, then OPENBLAZE_* environment variables, then the server's defaults. */
export function serverConfigFrom(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Partial<ServerConfig> {
  const pick = (flag: string | undefined, key: string) => flag ?? env[`OPENBLAZE_${key}`];
  const compression = pick(flags.compression, "COMPRESSION");
  const config: Partial<ServerConfig> = {
    host: pick(flags.host, "HOST"),
    port: int("port", pick(flags.port, "PORT")),
    dataDir: pick(flags.data, "DATA"),
    database: pick(flags.database, "DATABASE"),
    bus: pick(flags.bus, "BUS"),
    publicUrl: pick(flags.publicUrl, "PUBLIC_URL"),
    maxButtons: int("max-buttons", pick(flags.maxButtons, "MAX_BUTTONS")),
    logLevel: pick(flags.logLevel, "LOG_LEVEL") as ServerConfig["logLevel"] | undefined,
  };
  if (compression !== undefined) config.compression = parseCompression(compression);
  config.drainDelayMs = int("drain-delay", pick(flags.drainDelay, "DRAIN_DELAY_MS"));
  // Abuse limits (RELIABILITY.md §6), environment only; 0 turns the last two off.
  config.rateLimitPerMinute = int("OPENBLAZE_RATE_LIMIT_PER_MINUTE", env.OPENBLAZE_RATE_LIMIT_PER_MINUTE);
  config.maxRequestsPerSecond = int("OPENBLAZE_MAX_REQUESTS_PER_SECOND", env.OPENBLAZE_MAX_REQUESTS_PER_SECOND);
  config.maxSocketsPerSession = int("OPENBLAZE_MAX_SOCKETS_PER_SESSION", env.OPENBLAZE_MAX_SOCKETS_PER_SESSION);
  // Group commit pacing (latency against CPU per message), environment only.
  config.commitIntervalMs = int("OPENBLAZE_COMMIT_INTERVAL_MS", env.OPENBLAZE_COMMIT_INTERVAL_MS);
  config.ackCommitIntervalMs = int("OPENBLAZE_ACK_COMMIT_INTERVAL_MS", env.OPENBLAZE_ACK_COMMIT_INTERVAL_MS);
  config.commitLanes = int("OPENBLAZE_COMMIT_LANES", env.OPENBLAZE_COMMIT_LANES);
  config.listenBacklog = int("OPENBLAZE_LISTEN_BACKLOG", env.OPENBLAZE_LISTEN_BACKLOG);
  // "none" turns the web chat off; by default the bundled build is served when present.
  const webDir = pick(flags.webDir, "WEB_DIR");
  config.webDir = webDir === "none" ? "" : (webDir ?? bundledWebDir());
  config.dev = flags.dev === true || /^(1|true|yes|on)$/i.test(env.OPENBLAZE_DEV ?? "");
  return config;
}

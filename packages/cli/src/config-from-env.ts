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
  return config;
}

import { join, resolve } from "node:path";
import { DEFAULT_COMPRESSION, DEFAULT_FRAME_LIMITS, Limits, type Compression, type FrameLimits } from "@openblaze/protocol";
import type { LevelWithSilent } from "pino";

export interface ServerConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Holds the SQLite file and attachment blobs (share it between nodes for attachments). */
  dataDir: string;
  /**
   * `sqlite` (default: a file under dataDir) or `postgres://user@host:5432/db[?schema=NAME][&pool=N]`
   * (every node of a deployment on one database).
   */
  database: string;
  /** `local` (default: in-process, one node) or `redis://host:6379[/db][?prefix=P]` (several nodes). */
  bus: string;
  /** While the bus is unhealthy, each subscribed session's mailbox is read this often. */
  busPollIntervalMs: number;
  /** Every subscribed mailbox is re-read this often anyway (lost wake-ups, failed reads); 0 = never. */
  mailboxSweepMs: number;
  /** Base URL put into upload_url/view_url; by default derived from each request's Host header. */
  publicUrl: string | undefined;
  compression: Compression;
  frameLimits: FrameLimits;
  /** APP_BUTTON_GROUP ceiling: 6 per the docs, up to 18 like the Go SDK. */
  maxButtons: number;
  /** Messages per user per minute before 429 (protocol.md decision 13). */
  rateLimitPerMinute: number;
  /** Undelivered messages are dropped after this long (7 days). */
  messageTtlSeconds: number;
  /** How often expired messages are purged. */
  expiryIntervalMs: number;
  pingIntervalMs: number;
  /** A socket that sends nothing (pongs count) for this long is closed. */
  idleTimeoutMs: number;
  /** Pushes written but not yet flushed to the kernel, per socket. */
  sendWindow: number;
  /** Per-socket buffered-bytes ceiling; delivery pauses above it. */
  maxBufferedBytes: number;
  /**
   * Group commit: at most this many messages per transaction (a request is never split). 0 = by
   * database: 256 on SQLite; 1,024 on PostgreSQL, where each call and commit costs more and bigger
   * ones took batch sends from 36,000 to 45,000 msgs/s in single runs (BENCHMARKS.md, step 25).
   */
  maxCommitBatch: number;
  /**
   * Group commit pacing: at most one message transaction per this many ms while requests keep
   * arriving; a lone request commits at once. On SQLite each commit costs ~10-20 page writes
   * whatever its size (BENCHMARKS.md, step 13). 0: one per event-loop tick.
   */
  commitIntervalMs: number;
  /**
   * The same pacing for acknowledgements, longer because nothing waits on an ack's commit but its
   * own reply and the sender's receipt: at 1,000 msgs/s, 5 ms instead of 1 saved ~60-80 µs of CPU
   * per message (BENCHMARKS.md, step 26). 0: one per event-loop tick.
   */
  ackCommitIntervalMs: number;
  /**
   * Message transactions that may run at once under a backlog; a sender with requests pending
   * stays in one, so its messages keep their order (GroupCommitter). 0 = by database: 1 on SQLite
   * (one writer anyway), 4 on PostgreSQL, where one transaction's inserts overlap another's round
   * trip and commit (BENCHMARKS.md, step 25).
   */
  commitLanes: number;
  /**
   * Pending-connection queue of the listening socket (the kernel caps it at net.core.somaxconn).
   * Node's 511 overflowed ~9,000 times in a 5,000-socket reconnect storm (each a dropped SYN the
   * client retries a second or more later); 4096 took the same storm with none (BENCHMARKS.md).
   */
  listenBacklog: number;
  maxAttachmentBytes: number;
  /** Consecutive bad frames before a socket is closed with 1008. */
  maxBadFrames: number;
  logLevel: LevelWithSilent;
  /**
   * Requests per second one socket may make (a token bucket holding one second's worth); beyond it
   * a request is answered 429 and the socket stays open; more than five seconds' worth refused
   * within ten seconds closes it with 1008. 0 = unlimited.
   */
  maxRequestsPerSecond: number;
  /** Open sockets per session; a socket beyond it gets ERROR 429 and close 1008. 0 = unlimited. */
  maxSocketsPerSession: number;
  /**
   * Directory of the built web chat (packages/web/dist/app), served at `/` and `/assets/*`;
   * undefined or "" serves none (`GET /` is then a 404 as before). WebSocket upgrades at `/` are
   * unaffected either way.
   */
  webDir: string | undefined;
  /** Development mode: anyone may create an account (`POST /dev/signup`, the web chat's sign-up). */
  dev: boolean;
  /**
   * Graceful stop (SIGTERM): `/readyz` answers 503 for this long while the node still serves, so a
   * load balancer takes it out before its sockets close. 0 = close at once.
   */
  drainDelayMs: number;
  /**
   * How often each node reads the revocation log in the background to close sockets of revoked
   * sessions and disabled users (new tokens are checked against the log on every authentication).
   */
  revocationPollMs: number;
}

export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  host: "127.0.0.1",
  port: 7777,
  dataDir: "./.openblaze",
  database: "sqlite",
  bus: "local",
  busPollIntervalMs: 1000,
  mailboxSweepMs: 30_000,
  publicUrl: undefined,
  compression: DEFAULT_COMPRESSION,
  frameLimits: DEFAULT_FRAME_LIMITS,
  maxButtons: Limits.MAX_BUTTONS_DEFAULT,
  rateLimitPerMinute: 100_000,
  messageTtlSeconds: 7 * 24 * 3600,
  expiryIntervalMs: 60_000,
  pingIntervalMs: 10_000,
  idleTimeoutMs: 60_000,
  sendWindow: 512,
  maxBufferedBytes: 1024 * 1024,
  maxCommitBatch: 0,
  commitIntervalMs: 1,
  ackCommitIntervalMs: 5,
  commitLanes: 0,
  listenBacklog: 4096,
  maxAttachmentBytes: 64 * 1024 * 1024,
  maxBadFrames: 50,
  logLevel: "info",
  maxRequestsPerSecond: 10_000,
  maxSocketsPerSession: 16,
  webDir: undefined,
  dev: false,
  drainDelayMs: 0,
  revocationPollMs: 1000,
});

export function resolveConfig(partial: Partial<ServerConfig> = {}): Readonly<ServerConfig> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...defined };
  config.dataDir = resolve(config.dataDir);
  if (config.maxButtons < 1 || config.maxButtons > Limits.MAX_BUTTONS_CEILING) {
    throw new RangeError(`maxButtons must be 1..${Limits.MAX_BUTTONS_CEILING}`);
  }
  if (config.database !== "sqlite" && !/^postgres(ql)?:\/\//.test(config.database)) {
    throw new RangeError(`database must be "sqlite" or a postgres:// URL, got "${config.database}"`);
  }
  if (config.bus !== "local" && !/^rediss?:\/\//.test(config.bus)) {
    throw new RangeError(`bus must be "local" or a redis:// URL, got "${config.bus}"`);
  }
  if (config.busPollIntervalMs < 10) throw new RangeError("busPollIntervalMs must be at least 10");
  if (!(config.commitIntervalMs >= 0 && config.commitIntervalMs <= 100)) throw new RangeError("commitIntervalMs must be 0..100");
  if (!(config.ackCommitIntervalMs >= 0 && config.ackCommitIntervalMs <= 100)) throw new RangeError("ackCommitIntervalMs must be 0..100");
  if (!(Number.isInteger(config.maxCommitBatch) && config.maxCommitBatch >= 0)) throw new RangeError("maxCommitBatch must be a non-negative integer");
  if (!(Number.isInteger(config.commitLanes) && config.commitLanes >= 0 && config.commitLanes <= 64)) throw new RangeError("commitLanes must be 0..64");
  return Object.freeze(config);
}

/** `maxCommitBatch` with 0 resolved for the configured database. */
export function commitBatchFor(config: Pick<ServerConfig, "maxCommitBatch" | "database">): number {
  if (config.maxCommitBatch > 0) return config.maxCommitBatch;
  return config.database === "sqlite" ? 256 : 1024;
}

/** `commitLanes` with 0 resolved for the configured database. */
export function commitLanesFor(config: Pick<ServerConfig, "commitLanes" | "database">): number {
  if (config.commitLanes > 0) return config.commitLanes;
  return config.database === "sqlite" ? 1 : 4;
}

export function sqlitePath(config: Pick<ServerConfig, "dataDir">): string {
  return join(config.dataDir, "openblaze.db");
}

export function blobDir(config: Pick<ServerConfig, "dataDir">): string {
  return join(config.dataDir, "blobs");
}

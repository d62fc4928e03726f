import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { MessageView } from "@openblaze/protocol";
import type { Logger } from "pino";
import type { Bus, BusEvent } from "./bus.js";

export interface RedisBusOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…` */
  url: string;
  /** Channel prefix: nodes with the same prefix form one bus. Default `openblaze:`. */
  prefix?: string;
  log?: Logger;
  /** Liveness check of both connections (a dead peer that sent no FIN). Default 5 s. */
  pingIntervalMs?: number;
  /** Users whose wake-ups wait, while this node cannot publish, before it sends one `resync` instead. */
  maxPendingWakes?: number;
}

/** One Redis message: everything a node published in one tick. */
interface Wire {
  /** Publishing node: a node ignores its own messages (it delivered them locally already). */
  n: string;
  /** Users with new mail. */
  m?: string[];
  /** Receipts: [userId, view]. */
  r?: [string, MessageView][];
  /** Resync everyone. */
  s?: 1;
}

/**
 * Splits our own parameter off a bus URL: `?prefix=P` names the channel prefix (nodes sharing a
 * Redis but not a prefix do not hear each other); the rest goes to ioredis.
 */
export function parseRedisUrl(url: string): { url: string; prefix: string | undefined } {
  const u = new URL(url);
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`not a redis:// URL: ${url}`);
  const prefix = u.searchParams.get("prefix") ?? undefined;
  u.searchParams.delete("prefix");
  return { url: u.toString(), prefix };
}

/**
 * Redis pub/sub bus: one publisher and one subscriber connection per node, one channel per prefix,
 * node-local fan-out to handlers. Events published in one tick go out as one PUBLISH.
 *
 * Outages: `healthy` is false while either connection is down (the gateway then polls). Wake-ups
 * this node could not publish are kept as a set of user ids and sent when the publisher is back
 * (past `maxPendingWakes`, one `resync` instead), so a node whose subscriber stayed up still hears
 * of mail accepted elsewhere during the outage. Receipts that cannot be sent are dropped (best
 * effort, protocol.md decision 7).
 */
export class RedisBus implements Bus {
  readonly nodeId = randomUUID();
  readonly channel: string;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Set<(event: BusEvent) => void>();
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private readonly log: Logger | undefined;
  private readonly maxPendingWakes: number;
  private readonly pinger: NodeJS.Timeout;
  private subscribed = false;
  private pubReady = false;
  private isHealthy = false;
  private closed = false;
  /** Published this tick, not yet sent. */
  private outbox: BusEvent[] = [];
  private flushScheduled = false;
  /** Wake-ups that could not be published. */
  private pendingWakes = new Set<string>();
  private pendingResync = false;
  private loggedDown = false;

  constructor(opts: RedisBusOptions) {
    this.channel = `${opts.prefix ?? "openblaze:"}bus`;
    this.log = opts.log;
    this.maxPendingWakes = opts.maxPendingWakes ?? 100_000;
    const common: RedisOptions = {
      // Reconnect forever, quickly: the gateway polls meanwhile, and catches up once back.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      // Fail fast instead of queueing while disconnected: pending wake-ups are kept as a set instead.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      connectionName: `openblaze-${this.nodeId}`,
    };
    this.pub = new Redis(opts.url, { ...common, enableAutoPipelining: true });
    this.sub = new Redis(opts.url, common);

    this.pub.on("ready", () => {
      this.pubReady = true;
      this.update();
      this.resendPending();
    });
    this.sub.on("ready", () => {
      this.sub.subscribe(this.channel).then(
        () => {
          this.subscribed = true;
          this.update();
        },
        (err: Error) => {
          this.log?.warn({ err }, "bus: subscribe failed; reconnecting");
          this.sub.disconnect(true);
        },
      );
    });
    this.sub.on("message", (channel: string, text: string) => {
      if (channel === this.channel) this.receive(text);
    });
    for (const [conn, which] of [
      [this.pub, "publisher"],
      [this.sub, "subscriber"],
    ] as const) {
      conn.on("close", () => {
        if (which === "publisher") this.pubReady = false;
        else this.subscribed = false;
        this.update();
      });
      conn.on("error", (err: Error) => {
        if (this.loggedDown || this.closed) return;
        this.loggedDown = true;
        this.log?.warn({ err: err.message, which }, "bus: redis connection error");
      });
    }
    this.pinger = setInterval(() => this.ping(), opts.pingIntervalMs ?? 5000);
    this.pinger.unref();
  }

  get healthy(): boolean {
    return this.isHealthy;
  }

  publish(event: BusEvent): void {
    if (this.closed) return;
    for (const h of this.handlers) h(event);
    this.outbox.push(event);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.pinger);
    this.handlers.clear();
    this.healthListeners.clear();
    this.sub.disconnect();
    // QUIT waits for the PUBLISHes already written; a dead connection just disconnects.
    await Promise.race([this.pub.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.pub.disconnect();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.outbox.length === 0) return;
    const events = this.outbox;
    this.outbox = [];
    const wakes = new Set<string>();
    const receipts: [string, MessageView][] = [];
    let resync = false;
    for (const e of events) {
      if (e.type === "mail") for (const u of e.userIds) wakes.add(u);
      else if (e.type === "receipt") receipts.push([e.userId, e.view]);
      else resync = true;
    }
    if (!this.pubReady) return this.keep(wakes, resync);
    this.send(wakes, receipts, resync);
  }

  private send(wakes: ReadonlySet<string>, receipts: [string, MessageView][], resync: boolean): void {
    const wire: Wire = { n: this.nodeId };
    if (wakes.size > 0) wire.m = [...wakes];
    if (receipts.length > 0) wire.r = receipts;
    if (resync) wire.s = 1;
    this.pub.publish(this.channel, JSON.stringify(wire)).catch(() => this.keep(wakes, resync));
  }

  /** Remembers wake-ups that did not go out, to send once the publisher is back. */
  private keep(wakes: ReadonlySet<string>, resync: boolean): void {
    if (this.closed) return;
    if (resync) this.pendingResync = true;
    for (const u of wakes) {
      if (this.pendingResync) break;
      this.pendingWakes.add(u);
      if (this.pendingWakes.size > this.maxPendingWakes) this.pendingResync = true;
    }
    if (this.pendingResync) this.pendingWakes.clear();
    if (this.pubReady) this.resendPending();
  }

  private resendPending(): void {
    if (this.pendingWakes.size === 0 && !this.pendingResync) return;
    const wakes = this.pendingWakes;
    const resync = this.pendingResync;
    this.pendingWakes = new Set();
    this.pendingResync = false;
    this.send(wakes, [], resync);
  }

  private receive(text: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(text) as Wire;
    } catch {
      return;
    }
    if (wire.n === this.nodeId) return;
    const deliver = (e: BusEvent) => {
      for (const h of this.handlers) h(e);
    };
    if (wire.s === 1) deliver({ type: "resync" });
    if (Array.isArray(wire.m) && wire.m.length > 0) deliver({ type: "mail", userIds: wire.m });
    if (Array.isArray(wire.r)) for (const [userId, view] of wire.r) deliver({ type: "receipt", userId, view });
  }

  private update(): void {
    const healthy = !this.closed && this.subscribed && this.pubReady;
    if (healthy === this.isHealthy) return;
    this.isHealthy = healthy;
    if (healthy) {
      if (this.loggedDown) this.log?.info("bus: redis connected again");
      this.loggedDown = false;
    } else if (!this.closed) {
      this.loggedDown = true;
      this.log?.warn("bus: redis unreachable; polling mailboxes until it is back");
    }
    for (const l of this.healthListeners) l(healthy);
  }

  /** A connection that stopped answering (no FIN from a dead peer) is dropped and reconnected. */
  private ping(): void {
    for (const conn of [this.pub, this.sub]) {
      if (conn.status !== "ready") continue;
      const timer = setTimeout(() => conn.disconnect(true), 3000);
      timer.unref();
      conn.ping().then(
        () => clearTimeout(timer),
        () => {
          clearTimeout(timer);
          conn.disconnect(true);
        },
      );
    }
  }
}

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { LocalBus, type Bus } from "../src/bus/bus.js";
import { RedisBus, parseRedisUrl } from "../src/bus/redis-bus.js";
import { Inbox, busContract } from "./bus-contract.js";
import { PrivateRedis, TEST_REDIS_URL, testRedisPrefix } from "./services.js";

busContract(
  "LocalBus",
  async () => {
    const buses: Bus[] = [];
    return {
      multiNode: false,
      connect: async () => {
        const b = new LocalBus();
        buses.push(b);
        return b;
      },
      cleanup: async () => {
        await Promise.all(buses.map((b) => b.close()));
      },
    };
  },
  { multiNode: false },
);

/** Nodes on the machine's Redis, each network on its own channel prefix. */
function redisNetwork(url = TEST_REDIS_URL, extra: Partial<ConstructorParameters<typeof RedisBus>[0]> = {}) {
  const prefix = testRedisPrefix();
  const buses: RedisBus[] = [];
  return {
    multiNode: true,
    buses,
    connect: async () => {
      const b = new RedisBus({ url, prefix, ...extra });
      buses.push(b);
      return b;
    },
    cleanup: async () => {
      await Promise.all(buses.map((b) => b.close()));
    },
  };
}

busContract("RedisBus", async () => redisNetwork(), { multiNode: true });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Records health changes. */
function healthLog(bus: Bus): boolean[] {
  const log: boolean[] = [];
  bus.onHealthChange((h) => log.push(h));
  return log;
}

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("RedisBus specifics", () => {
  it("parses its own URL parameter and leaves the rest to ioredis", () => {
    assert.deepEqual(parseRedisUrl("redis://:pw@cache:6380/2?prefix=chat%3A"), { url: "redis://:pw@cache:6380/2", prefix: "chat:" });
    assert.deepEqual(parseRedisUrl("rediss://cache"), { url: "rediss://cache", prefix: undefined });
    assert.throws(() => parseRedisUrl("nats://x"), /redis/);
  });

  it("liveness pings on both connections (subscriber mode included) keep a healthy bus healthy", async () => {
    const net = redisNetwork(TEST_REDIS_URL, { pingIntervalMs: 20 });
    try {
      const [a, b] = [await net.connect(), await net.connect()];
      await until("healthy", () => a.healthy && b.healthy);
      const [ha, hb] = [healthLog(a), healthLog(b)];
      await sleep(400);
      assert.deepEqual([ha, hb], [[], []]);
      const atB = new Inbox(b);
      const u = randomUUID();
      a.publish({ type: "mail", userIds: [u] });
      await atB.until("delivery", () => atB.woken().has(u));
    } finally {
      await net.cleanup();
    }
  });

  describe("outages (a private redis-server that the test kills and restarts)", () => {
    let redis: PrivateRedis;
    before(async () => {
      redis = await PrivateRedis.start();
    });
    after(async () => {
      await redis.stop();
    });

    /** Kills Redis clients of one type ("normal": publishers; "pubsub": subscribers). */
    async function killClients(type: "normal" | "pubsub"): Promise<void> {
      const { Redis } = await import("ioredis");
      const admin = new Redis(redis.url);
      try {
        await admin.call("CLIENT", "KILL", "TYPE", type, "SKIPME", "yes");
      } finally {
        admin.disconnect();
      }
    }

    it("goes unhealthy when Redis dies and healthy again when it is back, hearing its own events meanwhile", async () => {
      const net = redisNetwork(redis.url);
      try {
        const [a, b] = [await net.connect(), await net.connect()];
        await until("healthy", () => a.healthy && b.healthy);
        const [healthA, healthB] = [healthLog(a), healthLog(b)];
        const [atA, atB] = [new Inbox(a), new Inbox(b)];

        await redis.kill();
        await until("unhealthy", () => !a.healthy && !b.healthy);
        const during = [randomUUID(), randomUUID()];
        a.publish({ type: "mail", userIds: [during[0]!] });
        a.publish({ type: "mail", userIds: [during[1]!] });
        assert.deepEqual(atA.woken(), new Set(during), "local handlers still hear a node's own events");
        await sleep(300);

        await redis.start();
        await until("healthy again", () => a.healthy && b.healthy);
        // b went unhealthy and back: its gateway polled meanwhile and re-reads every mailbox now, so
        // whether the outage's wake-ups reach it too (they are resent) does not matter.
        assert.deepEqual(healthA, [false, true]);
        assert.deepEqual(healthB, [false, true]);
        const after = randomUUID();
        a.publish({ type: "mail", userIds: [after] });
        await atB.until("live again", () => atB.woken().has(after));
      } finally {
        await net.cleanup();
      }
    });

    it("wake-ups a node could not publish are sent once its publisher is back; receipts are dropped", async () => {
      const net = redisNetwork(redis.url);
      try {
        const [a, b] = [await net.connect(), await net.connect()];
        await until("healthy", () => a.healthy && b.healthy);
        const atB = new Inbox(b);
        const healthB = healthLog(b);
        const held = [randomUUID(), randomUUID()];
        // Publish the moment a notices its publisher is gone: a reconnects 100 ms later at the earliest.
        const off = a.onHealthChange((h) => {
          if (h) return;
          a.publish({ type: "mail", userIds: [held[0]!] });
          a.publish({ type: "receipt", userId: randomUUID(), view: {} as never });
          a.publish({ type: "mail", userIds: [held[1]!] });
        });
        await killClients("normal");
        await atB.until("held wake-ups", () => held.every((u) => atB.woken().has(u)));
        off();
        await until("a healthy", () => a.healthy);
        await sleep(100);
        assert.equal(atB.receipts().length, 0, "receipts are best effort");
        // b's subscriber never went down; its publisher did (it reports unhealthy for that, and polls).
        assert.ok(healthB.every((h, i) => h === (i % 2 === 1)));
      } finally {
        await net.cleanup();
      }
    });

    it("too many wake-ups held during an outage become one resync", async () => {
      const net = redisNetwork(redis.url, { maxPendingWakes: 3 });
      try {
        const [a, b] = [await net.connect(), await net.connect()];
        await until("healthy", () => a.healthy && b.healthy);
        const atB = new Inbox(b);
        const off = a.onHealthChange((h) => {
          if (!h) for (let i = 0; i < 10; i++) a.publish({ type: "mail", userIds: [randomUUID()] });
        });
        await killClients("normal");
        await atB.until("resync", () => atB.events.some((e) => e.type === "resync"));
        off();
        assert.equal(atB.woken().size, 0, "the resync replaces the individual wake-ups");
      } finally {
        await net.cleanup();
      }
    });

    it("a killed subscriber connection is noticed, reconnected and resubscribed", async () => {
      const net = redisNetwork(redis.url);
      try {
        const [a, b] = [await net.connect(), await net.connect()];
        await until("healthy", () => a.healthy && b.healthy);
        const health = healthLog(b);
        await killClients("pubsub");
        await until("flap", () => health.length >= 2);
        assert.deepEqual(health.slice(0, 2), [false, true]);
        await until("healthy", () => a.healthy && b.healthy);
        const atB = new Inbox(b);
        const u = randomUUID();
        a.publish({ type: "mail", userIds: [u] });
        await atB.until("delivery after resubscribe", () => atB.woken().has(u));
      } finally {
        await net.cleanup();
      }
    });

    it("a bus started while Redis is down is unhealthy, then healthy once Redis comes up", async () => {
      await redis.kill();
      const net = redisNetwork(redis.url);
      try {
        const a = await net.connect();
        await sleep(300);
        assert.equal(a.healthy, false);
        const log = healthLog(a);
        await redis.start();
        await until("healthy", () => a.healthy);
        assert.deepEqual(log, [true]);
      } finally {
        await net.cleanup();
      }
    });
  });
});

/**
 * What the gateway does when the bus loses wake-ups, in one process with a bus the test controls:
 * polls while the bus is unhealthy, catches up once it is healthy again, and sweeps every mailbox
 * now and then for losses nobody noticed.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import { signToken, uniqueConversationId } from "@openblaze/protocol";
import type { Bus, BusEvent } from "../src/bus/bus.js";
import { createServer, type ServerConfig } from "../src/index.js";
import { TestSocket, textParams } from "./harness.js";

/** Drops every event while `lossy`; reports unhealthy while `down` (the two are separate on purpose). */
class ControlledBus implements Bus {
  lossy = false;
  private down = false;
  private readonly handlers = new Set<(e: BusEvent) => void>();
  private readonly listeners = new Set<(h: boolean) => void>();
  get healthy(): boolean {
    return !this.down;
  }
  setDown(down: boolean): void {
    this.down = down;
    this.lossy = down;
    for (const l of this.listeners) l(!down);
  }
  publish(e: BusEvent): void {
    if (!this.lossy) for (const h of this.handlers) h(e);
  }
  subscribe(h: (e: BusEvent) => void): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }
  onHealthChange(l: (h: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async close(): Promise<void> {}
}

async function world(config: Partial<ServerConfig>) {
  const dataDir = await mkdtemp(join(tmpdir(), "openblaze-bus-outage-"));
  const bus = new ControlledBus();
  const server = createServer({ port: 0, dataDir, logLevel: "silent", ...config }, { bus });
  const { wsUrl } = await server.start();
  const account = async (name: string) => {
    const acc = await server.services.users.createAccount(name, false);
    return { userId: acc.user.userId, creds: { userId: acc.user.userId, sessionId: acc.sessionId, seed: acc.seed! } };
  };
  const alice = await account("alice");
  const bob = await account("bob");
  const sockets: TestSocket[] = [];
  const connect = async (who: typeof alice) => {
    const ws = new WebSocket(wsUrl, ["Mixin-Blaze-1"], { headers: { authorization: `Bearer ${signToken(who.creds, { method: "GET", uri: "/" })}` } });
    const s = new TestSocket(ws);
    sockets.push(s);
    await s.opened;
    assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined);
    return s;
  };
  const a = await connect(alice);
  const b = await connect(bob);
  const conv = uniqueConversationId(alice.userId, bob.userId);
  const send = async (text: string) => {
    const p = textParams(conv, bob.userId, text);
    assert.equal((await a.request("CREATE_MESSAGE", p)).error, undefined);
    return p.message_id;
  };
  return {
    bus,
    a,
    b,
    send,
    close: async () => {
      for (const s of sockets) s.ws.terminate();
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

describe("gateway and an unreliable bus", () => {
  it("while the bus is unhealthy, subscribed mailboxes are polled: lost wake-ups delay, never lose", async () => {
    const w = await world({ busPollIntervalMs: 100, mailboxSweepMs: 0 });
    try {
      w.bus.setDown(true);
      const ids = [await w.send("one"), await w.send("two")];
      const got = [(await w.b.push(2000)).data.message_id, (await w.b.push(2000)).data.message_id];
      assert.deepEqual(got, ids);
      assert.ok(await w.b.noPush(300), "polling pushes nothing twice");
    } finally {
      await w.close();
    }
  });

  it("when the bus is healthy again, every mailbox is read once to catch up", async () => {
    const w = await world({ busPollIntervalMs: 60_000, mailboxSweepMs: 0 });
    try {
      w.bus.setDown(true);
      const id = await w.send("sent during the outage");
      assert.ok(await w.b.noPush(300), "precondition: the wake-up was lost and no poll ran yet");
      w.bus.setDown(false);
      assert.equal((await w.b.push(1000)).data.message_id, id);
      const live = await w.send("after");
      assert.equal((await w.b.push(1000)).data.message_id, live, "wake-ups work again");
    } finally {
      await w.close();
    }
  });

  it("a wake-up lost while the bus claims to be healthy is repaired by the periodic sweep", async () => {
    const w = await world({ busPollIntervalMs: 60_000, mailboxSweepMs: 200 });
    try {
      w.bus.lossy = true;
      const id = await w.send("lost without anyone noticing");
      assert.equal((await w.b.push(2000)).data.message_id, id);
    } finally {
      await w.close();
    }
  });
});

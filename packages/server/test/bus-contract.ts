/**
 * The Bus contract: LocalBus and RedisBus (and any later bus) must pass this suite. It talks only
 * to the `Bus` interface.
 *
 *   busContract("MyBus", async () => ({ connect, multiNode, cleanup }));
 *
 * `open` is called once per case and returns a fresh, isolated "network": `connect()` adds a node
 * to it (a new Bus), `multiNode` says whether two connected nodes reach each other (false for the
 * in-process bus: cross-node cases are then not registered), and `cleanup` closes whatever is left.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { buildMessageView, type MessageView } from "@openblaze/protocol";
import { waitForHealthy, type Bus, type BusEvent } from "../src/bus/bus.js";

export interface BusNetwork {
  connect(): Promise<Bus>;
  multiNode: boolean;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Collects what a bus delivers; `until` waits for a condition on what has arrived so far. */
export class Inbox {
  readonly events: BusEvent[] = [];
  readonly unsubscribe: () => void;
  constructor(bus: Bus) {
    this.unsubscribe = bus.subscribe((e) => this.events.push(e));
  }
  woken(): Set<string> {
    const s = new Set<string>();
    for (const e of this.events) if (e.type === "mail") for (const u of e.userIds) s.add(u);
    return s;
  }
  receipts(): { userId: string; view: MessageView }[] {
    return this.events.flatMap((e) => (e.type === "receipt" ? [{ userId: e.userId, view: e.view }] : []));
  }
  async until(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.events).slice(0, 500)}`);
      await sleep(5);
    }
  }
}

function receipt(status = "DELIVERED"): MessageView {
  return buildMessageView({ message_id: randomUUID(), status, source: "ACKNOWLEDGE_MESSAGE_RECEIPT", created_at: new Date().toISOString() });
}

export function busContract(name: string, open: () => Promise<BusNetwork>, opts: { multiNode: boolean }): void {
  const test = (title: string, fn: (net: BusNetwork) => Promise<void>) =>
    it(title, async () => {
      const net = await open();
      try {
        await fn(net);
      } finally {
        await net.cleanup();
      }
    });
  /** A connected node, once healthy (a networked bus connects in the background). */
  const node = async (net: BusNetwork): Promise<Bus> => {
    const bus = await net.connect();
    assert.equal(await waitForHealthy(bus, 5000), true, "bus becomes healthy");
    return bus;
  };

  describe(name, () => {
    test("becomes healthy; onHealthChange gives an unsubscribe function", async (net) => {
      const bus = await node(net);
      assert.equal(bus.healthy, true);
      const off = bus.onHealthChange(() => {});
      assert.equal(typeof off, "function");
      off();
    });

    test("publish reaches this node's handlers synchronously, fields intact", async (net) => {
      const bus = await node(net);
      const inbox = new Inbox(bus);
      const mail: BusEvent = { type: "mail", userIds: [randomUUID(), randomUUID()] };
      const r: BusEvent = { type: "receipt", userId: randomUUID(), view: receipt("READ") };
      const resync: BusEvent = { type: "resync" };
      bus.publish(mail);
      bus.publish(r);
      bus.publish(resync);
      assert.deepEqual(inbox.events, [mail, r, resync], "delivered before publish returns, in order");
      await sleep(100);
      assert.deepEqual(inbox.events, [mail, r, resync], "and only once (no echo through the network)");
    });

    test("every handler gets every event; unsubscribe stops only that handler", async (net) => {
      const bus = await node(net);
      const one = new Inbox(bus);
      const two = new Inbox(bus);
      const u1 = randomUUID();
      bus.publish({ type: "mail", userIds: [u1] });
      one.unsubscribe();
      const u2 = randomUUID();
      bus.publish({ type: "mail", userIds: [u2] });
      assert.deepEqual([...one.woken()], [u1]);
      assert.deepEqual([...two.woken()], [u1, u2]);
      two.unsubscribe();
      two.unsubscribe();
    });

    test("close stops delivery and later publishes are ignored without throwing", async (net) => {
      const bus = await node(net);
      const inbox = new Inbox(bus);
      await bus.close();
      bus.publish({ type: "mail", userIds: [randomUUID()] });
      assert.deepEqual(inbox.events, []);
      await bus.close();
    });

    test("separate networks do not hear each other", async () => {
      const [n1, n2] = [await open(), await open()];
      try {
        const a = await node(n1);
        const b = await node(n2);
        const inbox = new Inbox(b);
        a.publish({ type: "mail", userIds: [randomUUID()] });
        a.publish({ type: "receipt", userId: randomUUID(), view: receipt() });
        await sleep(200);
        assert.deepEqual(inbox.events, []);
      } finally {
        await n1.cleanup();
        await n2.cleanup();
      }
    });

    if (!opts.multiNode) return;

    test("events published on one node reach every other node once, fields intact", async (net) => {
      const [a, b, c] = [await node(net), await node(net), await node(net)];
      const [atA, atB, atC] = [new Inbox(a), new Inbox(b), new Inbox(c)];
      const users = [randomUUID(), randomUUID()];
      const view = receipt("READ");
      const target = randomUUID();
      a.publish({ type: "mail", userIds: users });
      await atB.until("mail at b", () => atB.woken().size === 2);
      a.publish({ type: "receipt", userId: target, view });
      await atC.until("receipt at c", () => atC.receipts().length === 1);
      await atB.until("receipt at b", () => atB.receipts().length === 1);
      assert.deepEqual(atB.woken(), new Set(users));
      assert.deepEqual(atC.woken(), new Set(users));
      assert.deepEqual(atB.receipts(), [{ userId: target, view }]);
      assert.deepEqual(atC.receipts(), [{ userId: target, view }]);
      a.publish({ type: "resync" });
      await atB.until("resync at b", () => atB.events.some((e) => e.type === "resync"));
      await sleep(100);
      assert.equal(atA.events.length, 3, "the publisher hears itself once, locally");
      for (const inbox of [atB, atC]) {
        assert.equal(inbox.events.filter((e) => e.type === "resync").length, 1);
        assert.equal(inbox.receipts().length, 1);
      }
    });

    test("a burst from several nodes: every woken user and every receipt arrives, receipts in order", async (net) => {
      const [a, b, c] = [await node(net), await node(net), await node(net)];
      const atC = new Inbox(c);
      const users = new Set<string>();
      const views: MessageView[] = [];
      for (let i = 0; i < 2000; i++) {
        const u = randomUUID();
        users.add(u);
        (i % 2 === 0 ? a : b).publish({ type: "mail", userIds: [u] });
        if (i % 10 === 0) {
          const v = receipt();
          views.push(v);
          a.publish({ type: "receipt", userId: u, view: v });
        }
        if (i % 100 === 0) await sleep(1);
      }
      await atC.until("all users woken", () => atC.woken().size === users.size, 10_000);
      await atC.until("all receipts", () => atC.receipts().length === views.length, 10_000);
      assert.deepEqual(atC.woken(), users);
      assert.deepEqual(
        atC.receipts().map((r) => r.view.message_id),
        views.map((v) => v.message_id),
      );
    });

    test("a node that closes stops hearing; the others go on", async (net) => {
      const [a, b, c] = [await node(net), await node(net), await node(net)];
      const [atB, atC] = [new Inbox(b), new Inbox(c)];
      await b.close();
      const u = randomUUID();
      a.publish({ type: "mail", userIds: [u] });
      await atC.until("mail at c", () => atC.woken().has(u));
      await sleep(100);
      assert.deepEqual(atB.events, []);
    });
  });
}

/**
 * Several nodes, real processes: `openblaze serve --database postgres://… --bus redis://…` twice on
 * one fresh schema and one private redis-server (which the test kills and restarts), attachments
 * on one shared data directory; raw Blaze clients on each node.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { newUuid, parseKeystore, signToken, uniqueConversationId, type Keystore, type SessionCredentials } from "@openblaze/protocol";
import { TestSocket, textParams, type Frame } from "./harness.js";
import { PrivateRedis, dropSchema, postgresUrlWithSchema, redisUrlWithPrefix, testRedisPrefix, testSchemaName } from "./services.js";

const MAIN = fileURLToPath(new URL("../../../cli/dist/src/main.js", import.meta.url));
const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One `openblaze serve` process. */
class ServeNode {
  output = "";
  httpUrl = "";
  wsUrl = "";
  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {}

  static async start(name: string, args: string[]): Promise<ServeNode> {
    const child = spawn(process.execPath, [MAIN, "serve", "--port", "0", "--log-level", "info", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const node = new ServeNode(name, child);
    child.stdout!.on("data", (b: Buffer) => (node.output += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (node.output += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start: ${node.output}`)), 20_000);
      const check = () => {
        const m = /listening on (http:\/\/\S+) \(WebSocket (ws:\/\/\S+)\)/.exec(node.output);
        if (!m) return;
        clearTimeout(timer);
        node.httpUrl = m[1]!;
        node.wsUrl = m[2]!;
        resolve();
      };
      child.stdout!.on("data", check);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code}: ${node.output}`));
      });
    });
    return node;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }
}

interface Account {
  keystore: Keystore;
  creds: SessionCredentials;
  userId: string;
}

/** A raw Blaze client on a node, already subscribed (LIST_PENDING_MESSAGES). */
async function connect(node: ServeNode, who: Account): Promise<TestSocket> {
  const ws = new WebSocket(node.wsUrl, ["Mixin-Blaze-1"], {
    headers: { authorization: `Bearer ${signToken(who.creds, { method: "GET", uri: "/" })}` },
    perMessageDeflate: false,
  });
  const s = new TestSocket(ws);
  await s.opened;
  const sub = await s.request("LIST_PENDING_MESSAGES");
  assert.equal(sub.error, undefined, JSON.stringify(sub.error));
  return s;
}

async function send(from: TestSocket, to: Account, conversationId: string, text: string): Promise<string> {
  const params = textParams(conversationId, to.userId, text);
  const reply = await from.request("CREATE_MESSAGE", params);
  assert.equal(reply.error, undefined, JSON.stringify(reply.error));
  return params.message_id;
}

/** Takes pushes until `n` distinct messages arrived (duplicates are allowed: at-least-once). */
async function pushes(s: TestSocket, n: number, timeoutMs: number): Promise<Frame[]> {
  const got: Frame[] = [];
  const ids = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (ids.size < n) {
    const f = await s.push(Math.max(1, deadline - Date.now()));
    if (!ids.has(f.data.message_id)) got.push(f);
    ids.add(f.data.message_id);
  }
  return got;
}

describe("several nodes on PostgreSQL and Redis (real processes)", () => {
  const schema = testSchemaName();
  const prefix = testRedisPrefix();
  const database = postgresUrlWithSchema(schema);
  let redis: PrivateRedis;
  let bus = "";
  let dataDir = "";
  let node1: ServeNode;
  let node2: ServeNode;
  let alice: Account;
  let bob: Account;
  let conv = "";
  const sockets: TestSocket[] = [];
  const nodes: ServeNode[] = [];

  const startNode = async (name: string) => {
    const node = await ServeNode.start(name, ["--data", dataDir, "--database", database, "--bus", bus]);
    nodes.push(node);
    return node;
  };
  const open = async (node: ServeNode, who: Account) => {
    const s = await connect(node, who);
    sockets.push(s);
    return s;
  };

  before(async () => {
    redis = await PrivateRedis.start();
    bus = redisUrlWithPrefix(prefix, redis.url);
    dataDir = await mkdtemp(join(tmpdir(), "openblaze-multinode-"));
    const account = async (name: string): Promise<Account> => {
      // `user create --database` writes straight into PostgreSQL (migrating a fresh schema first).
      const { stdout } = await run(process.execPath, [MAIN, "user", "create", "--name", name, "--database", database]);
      const keystore = JSON.parse(stdout) as Keystore;
      const creds = parseKeystore(keystore);
      return { keystore, creds, userId: creds.userId };
    };
    alice = await account("Alice");
    bob = await account("Bob");
    conv = uniqueConversationId(alice.userId, bob.userId);
    [node1, node2] = await Promise.all([startNode("node1"), startNode("node2")]);
  });

  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
    await redis?.stop();
    await dropSchema(schema);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("both nodes serve the accounts made by `user create --database`", async () => {
    for (const node of [node1, node2]) {
      const res = await fetch(`${node.httpUrl}/me`, {
        headers: { authorization: `Bearer ${signToken(bob.creds, { method: "GET", uri: "/me" })}`, "x-request-id": newUuid() },
      });
      const body = (await res.json()) as { data: { user_id: string; full_name: string } };
      assert.equal(body.data.user_id, bob.userId);
      assert.equal(body.data.full_name, "Bob");
    }
  });

  it("a client on node 1 messages a client on node 2: live push, and the receipt comes back across nodes", async () => {
    const a = await open(node1, alice);
    const b = await open(node2, bob);
    const started = Date.now();
    const id = await send(a, bob, conv, "hello across nodes");
    const push = await b.push(3000);
    const latency = Date.now() - started;
    assert.equal(push.data.message_id, id);
    assert.equal(push.data.source, "CREATE_MESSAGE", "a live push, not backlog");
    assert.equal(push.data.user_id, alice.userId);
    assert.equal(Buffer.from(push.data.data, "base64").toString(), "hello across nodes");

    const ack = await b.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: id, status: "READ" });
    assert.equal(ack.error, undefined);
    const receipt = await a.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data?.message_id === id, 3000);
    assert.equal(receipt.data.status, "READ");
    process.stdout.write(`# cross-node push latency ${latency} ms\n`);
    a.close();
    b.close();
  });

  it("node 2 is killed: the recipient reconnects to node 1 and gets every unacked message, in order", async () => {
    const a = await open(node1, alice);
    const b = await open(node2, bob);
    const first: string[] = [];
    for (let i = 0; i < 20; i++) first.push(await send(a, bob, conv, `before #${i}`));
    const got = await pushes(b, 20, 10_000);
    assert.deepEqual(
      got.map((f) => f.data.message_id),
      first,
    );
    // Acks for the first five are committed (replied) before the crash; the rest never are.
    for (const id of first.slice(0, 5)) {
      const r = await b.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: id, status: "DELIVERED" });
      assert.equal(r.error, undefined);
    }
    await node2.kill("SIGKILL");
    await b.closed;
    const whileAway: string[] = [];
    for (let i = 0; i < 10; i++) whileAway.push(await send(a, bob, conv, `while away #${i}`));

    const again = await open(node1, bob);
    const backlog = await pushes(again, 25, 10_000);
    assert.deepEqual(
      backlog.map((f) => f.data.message_id),
      [...first.slice(5), ...whileAway],
      "every unacked message, none of the acked ones, in acceptance order",
    );
    assert.ok(backlog.every((f) => f.data.source === "LIST_PENDING_MESSAGES"));
    assert.ok(await again.noPush(500), "nothing more");
    const acked = await again.request("ACKNOWLEDGE_MESSAGE_RECEIPTS", {
      messages: backlog.map((f) => ({ message_id: f.data.message_id, status: "READ" })),
    });
    assert.equal(acked.error, undefined);
    a.close();
    again.close();
    node2 = await startNode("node2 (restarted)");
  });

  it("Redis restarts mid-traffic: nothing is lost, and live pushes resume", async () => {
    const a = await open(node1, alice);
    const b = await open(node2, bob);
    const received = new Set<string>();
    let acking = true;
    const reader = (async () => {
      while (acking) {
        let f: Frame;
        try {
          f = await b.push(200);
        } catch {
          continue;
        }
        received.add(f.data.message_id);
        b.send({ id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: f.data.message_id, status: "DELIVERED" } });
      }
    })();

    const sent: string[] = [];
    const total = 150;
    const marks = [node1.output.length, node2.output.length];
    for (let i = 0; i < total; i++) {
      if (i === 50) await redis.kill();
      if (i === 100) await redis.start();
      sent.push(await send(a, bob, conv, `traffic #${i}`));
      await sleep(10);
    }
    const deadline = Date.now() + 15_000;
    while (sent.some((id) => !received.has(id)) && Date.now() < deadline) await sleep(50);
    const missing = sent.filter((id) => !received.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${total} messages never reached the recipient`);

    // Both nodes are back on the bus (so neither polls): a new message can only come as a live push.
    const since = () => [node1.output.slice(marks[0]), node2.output.slice(marks[1])];
    const wait = Date.now() + 10_000;
    while (!since().every((out) => /bus healthy: catching up/.test(out)) && Date.now() < wait) await sleep(50);
    for (const out of since()) assert.match(out, /bus unhealthy: polling mailboxes[\s\S]*bus healthy: catching up/);
    const id = await send(a, bob, conv, "after the outage");
    const deadline2 = Date.now() + 3000;
    while (!received.has(id) && Date.now() < deadline2) await sleep(10);
    assert.ok(received.has(id), "pushed after the outage");
    acking = false;
    await reader;
  });

  it("attachments uploaded through node 1 are served by node 2 (shared data directory)", async () => {
    const body = "";
    const created = await fetch(`${node1.httpUrl}/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken(alice.creds, { method: "POST", uri: "/attachments", body })}`, "x-request-id": newUuid() },
    });
    const { data } = (await created.json()) as { data: { attachment_id: string; upload_url: string } };
    const bytes = randomBytes(64 * 1024);
    const up = await fetch(data.upload_url, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: bytes });
    assert.ok(up.ok, `upload ${up.status}`);
    await up.arrayBuffer();
    const uri = `/attachments/${data.attachment_id}`;
    const got = await fetch(`${node2.httpUrl}${uri}`, {
      headers: { authorization: `Bearer ${signToken(bob.creds, { method: "GET", uri })}`, "x-request-id": newUuid() },
    });
    const view = ((await got.json()) as { data: { view_url: string } }).data.view_url;
    assert.ok(view.startsWith(node2.httpUrl), view);
    const served = Buffer.from(await (await fetch(view)).arrayBuffer());
    assert.ok(served.equals(bytes), "node 2 serves the bytes node 1 stored");
  });
});

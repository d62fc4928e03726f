import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { newUuid, type BlazeMessage } from "@openblaze/protocol";
import { AuthError, ClosedError, LivenessError, type ReceivedMessage } from "../src/index.js";
import { FakeBlaze, Harness, TcpProxy, client, closeClients, delay, fakeView, portOf, waitFor, type TestUser } from "./blaze-support.js";

const run = promisify(execFile);

describe("BlazeClient connection manager", { timeout: 60_000 }, () => {
  let h: Harness;
  let proxy: TcpProxy;
  let bot: TestUser;
  let alice: TestUser;

  before(async () => {
    h = await Harness.start();
    proxy = await TcpProxy.start(portOf(h.wsUrl));
    bot = await h.user("bot", true);
    alice = await h.user("alice");
  });
  afterEach(closeClients);
  after(async () => {
    await proxy.close();
    await h.close();
  });

  it("reconnects after the network drops the socket, with no loss and no duplicate handler calls", async () => {
    const calls = new Map<string, number>();
    const receiver = client(proxy.url, bot, {
      handler: (m) => void (m.kind === "text" && calls.set(m.payload, (calls.get(m.payload) ?? 0) + 1)),
    });
    const reconnects: number[] = [];
    receiver.on("reconnecting", (attempt) => reconnects.push(attempt));
    let readies = 0;
    receiver.on("ready", () => readies++);
    const sender = client(h.wsUrl, alice);
    await Promise.all([receiver.connect(), sender.connect()]);
    const N = 120;
    for (let i = 0; i < N; i++) {
      await sender.sendText({ userId: bot.userId }, `drop-${i}`);
      // Cut the network a few times mid-stream (deliveries in flight, acks unsent); messages sent
      // meanwhile wait in the mailbox. Wait for the reconnect before the next cut, so each counts.
      if (i % 30 === 15) {
        const n = reconnects.length;
        proxy.dropAll();
        await waitFor(() => reconnects.length > n, "the drop to be noticed");
      }
      if (i % 30 === 25) await waitFor(() => receiver.state === "ready", "ready again");
    }
    await waitFor(() => calls.size === N, `${N} distinct messages (have ${calls.size})`);
    await receiver.flushAcks();
    assert.ok(reconnects.length >= 4, `reconnected ${reconnects.length} times`);
    assert.ok(readies >= 5);
    const duplicates = [...calls].filter(([, n]) => n !== 1);
    assert.deepEqual(duplicates, [], "every message handled exactly once");
    await receiver.close();
    // Everything was acked: a fresh socket on the same session gets nothing.
    const raw = await h.socket(bot);
    await raw.request("LIST_PENDING_MESSAGES");
    assert.ok(await raw.noPush(200));
    raw.close();
    await sender.close();
  });

  it("follows a server restart (new port via a url function); sends retry across it with the same message_id", async () => {
    const got: string[] = [];
    const receiver = client(() => h.wsUrl, bot, { handler: (m) => void (m.kind === "text" && got.push(m.payload)) });
    const sender = client(() => h.wsUrl, alice);
    await Promise.all([receiver.connect(), sender.connect()]);
    await sender.sendText({ userId: bot.userId }, "before restart");
    await waitFor(() => got.includes("before restart"), "the first message");
    const restarting = h.restart();
    // Sent while the server is down: waits, is retried, and lands exactly once.
    const during = sender.sendText({ userId: bot.userId }, "during restart", { timeoutMs: 1000, retries: 20 });
    await restarting;
    proxy.targetPort = portOf(h.wsUrl);
    await during;
    await sender.sendText({ userId: bot.userId }, "after restart");
    await waitFor(() => got.includes("after restart") && got.includes("during restart"), "messages after the restart");
    assert.equal(got.filter((t) => t === "during restart").length, 1);
    assert.equal(got.filter((t) => t === "before restart").length, 1);
    await Promise.all([receiver.close(), sender.close()]);
  });

  it("stops on a 401 ERROR frame with AuthError: one connection attempt, no storm", async () => {
    const stranger = {
      userId: newUuid(),
      sessionId: newUuid(),
      keystore: { app_id: newUuid(), session_id: newUuid(), session_private_key: randomBytes(32).toString("hex"), server_public_key: "" },
    } as unknown as TestUser;
    const before = proxy.connections;
    const c = client(proxy.url, stranger);
    let closed: unknown;
    c.on("closed", (info) => (closed = info));
    let reconnecting = 0;
    c.on("reconnecting", () => reconnecting++);
    // The server's clock (X-Server-Time) rides along: a large skew is the usual cause of a 401.
    await assert.rejects(c.connect(), (e: unknown) => e instanceof AuthError && e.code === 401 && Math.abs(Number(e.extra?.clock_skew_ms)) < 5000);
    await delay(300);
    assert.equal(proxy.connections - before, 1);
    assert.equal(reconnecting, 0);
    assert.equal(c.state, "closed");
    assert.deepEqual((closed as { reason: string }).reason, "auth");
    await assert.rejects(c.request("LIST_PENDING_MESSAGES"), AuthError);
    await assert.rejects(c.connect(), AuthError);
    await c.close();
  });

  it("close() stops for good: no reconnect after, even when called while reconnecting", async () => {
    const c = client(proxy.url, bot);
    await c.connect();
    const before = proxy.connections;
    await c.close();
    await delay(200);
    assert.equal(proxy.connections, before);

    const d = client(proxy.url, bot, { backoff: { initialMs: 100, maxMs: 100, jitter: 0 } });
    await d.connect();
    const opened = proxy.connections;
    const waiting = new Promise<void>((r) => d.once("reconnecting", () => r()));
    proxy.dropAll();
    await waiting;
    await d.close();
    await delay(250);
    assert.equal(proxy.connections, opened);
    assert.equal(d.state, "closed");
  });

  it("close() lets the process exit: no timers or sockets left behind", async () => {
    const index = new URL("../src/index.js", import.meta.url).href;
    const script = `
      const { BlazeClient } = await import(${JSON.stringify(index)});
      const c = new BlazeClient({ keystore: JSON.parse(process.env.KS), url: process.env.URL, pingIntervalMs: 50 });
      await c.connect();
      await c.sendText({ userId: process.env.TO }, "from a child process");
      await c.close();
      console.log("closed");
    `;
    const started = Date.now();
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, KS: JSON.stringify(bot.keystore), URL: h.wsUrl, TO: alice.userId },
      timeout: 10_000,
    });
    assert.equal(stdout.trim(), "closed");
    assert.ok(Date.now() - started < 5000, "the child exited on its own right after close()");
  });
});

describe("BlazeClient against scripted servers", { timeout: 60_000 }, () => {
  let h: Harness;
  let user: TestUser;
  const fakes: FakeBlaze[] = [];
  const fake = async (options?: Parameters<typeof FakeBlaze.start>[0]) => {
    const f = await FakeBlaze.start(options);
    fakes.push(f);
    return f;
  };

  before(async () => {
    h = await Harness.start();
    user = await h.user("scripted");
  });
  afterEach(closeClients);
  after(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    await h.close();
  });

  it("stops on an HTTP 401 upgrade refusal; keeps retrying other refusals (503)", async () => {
    const refusing = await fake({ rejectStatus: 401 });
    const c = client(refusing.url, user);
    await assert.rejects(c.connect(), AuthError);
    await delay(200);
    assert.equal(refusing.upgrades, 1);

    const unavailable = await fake({ rejectStatus: 503 });
    const d = client(unavailable.url, user);
    const connecting = d.connect();
    connecting.catch(() => {});
    await waitFor(() => unavailable.upgrades >= 3, "three attempts");
    await d.close();
    await assert.rejects(connecting, ClosedError);
  });

  it("backs off exponentially with a cap, and starts over after a stable connection", async () => {
    const unavailable = await fake({ rejectStatus: 503 });
    const delays: [number, number][] = [];
    const c = client(unavailable.url, user, { backoff: { initialMs: 10, maxMs: 80, factor: 2, jitter: 0 } });
    c.on("reconnecting", (attempt, ms) => delays.push([attempt, ms]));
    void c.connect().catch(() => {});
    await waitFor(() => delays.length >= 6, "six reconnect delays");
    await c.close();
    assert.deepEqual(delays.slice(0, 6), [
      [1, 10],
      [2, 20],
      [3, 40],
      [4, 80],
      [5, 80],
      [6, 80],
    ]);

    // Jittered delays stay within [delay * (1 - jitter), delay].
    const jittered = await fake({ rejectStatus: 503 });
    const seen: number[] = [];
    const j = client(jittered.url, user, { backoff: { initialMs: 40, maxMs: 40, jitter: 0.5 } });
    j.on("reconnecting", (_a, ms) => seen.push(ms));
    void j.connect().catch(() => {});
    await waitFor(() => seen.length >= 5, "five jittered delays");
    await j.close();
    assert.ok(seen.every((ms) => ms >= 20 && ms <= 40), JSON.stringify(seen));

    const proxy = await TcpProxy.start(portOf(h.wsUrl));
    try {
      const attempts: number[] = [];
      const s = client(proxy.url, user, { backoff: { initialMs: 10, maxMs: 80, jitter: 0, resetAfterMs: 150 } });
      s.on("reconnecting", (attempt) => attempts.push(attempt));
      await s.connect();
      proxy.dropAll(); // unstable: dropped at once
      await waitFor(() => attempts.length === 1 && s.state === "ready", "ready again");
      proxy.dropAll();
      await waitFor(() => attempts.length === 2 && s.state === "ready", "ready a third time");
      await delay(200); // now stable
      proxy.dropAll();
      await waitFor(() => attempts.length === 3, "a third drop");
      assert.deepEqual(attempts, [1, 2, 1]);
      await s.close();
    } finally {
      await proxy.close();
    }
  });

  it("fails over across a url list after failed attempts", async () => {
    const down = await fake({ rejectStatus: 503 });
    const up = await fake();
    const c = client("", user, { url: [down.url, up.url] });
    const urls: string[] = [];
    c.on("connecting", (info) => urls.push(info.url));
    await c.connect();
    assert.deepEqual(urls, [down.url, up.url]);
    await c.close();
  });

  it("ready waits for the LIST_PENDING_MESSAGES reply; a failed one is retried on a new socket", async () => {
    const f = await fake();
    let n = 0;
    f.reply = (req) => {
      if (req.action !== "LIST_PENDING_MESSAGES") return { id: req.id, action: req.action };
      n++;
      if (n === 1) return { id: req.id, action: req.action, error: { status: 500, code: 7000, description: "Blaze server error." } };
      return { id: req.id, action: req.action };
    };
    const c = client(f.url, user);
    const order: string[] = [];
    c.on("open", () => order.push("open"));
    c.on("ready", () => order.push("ready"));
    await c.connect();
    assert.deepEqual(order, ["open", "open", "ready"]);
    assert.equal(f.upgrades, 2);
    // LIST_PENDING_MESSAGES is the first request on every socket.
    assert.equal(f.received[0]!.action, "LIST_PENDING_MESSAGES");
    await c.close();
  });

  it("client pings keep a quiet connection alive; a server that stops answering is dropped after the read deadline", async () => {
    const healthy = await fake();
    const c = client(healthy.url, user, { pingIntervalMs: 30, readTimeoutMs: 120 });
    await c.connect();
    await delay(400);
    assert.equal(healthy.upgrades, 1, "pongs count as life");
    await c.close();

    const mute = await fake({ autoPong: false });
    const d = client(mute.url, user, { pingIntervalMs: 30, readTimeoutMs: 120 });
    await d.connect();
    await waitFor(() => mute.upgrades >= 2, "a redial after the read deadline");
    assert.ok(d.errors.some(([e]) => e instanceof LivenessError));
    await d.close();
  });

  it("requests written before a drop reject with ClosedError; a 401 reply stops the client", async () => {
    const f = await fake();
    f.reply = (req) => (req.action === "LIST_PENDING_MESSAGES" ? { id: req.id, action: req.action } : undefined);
    const c = client(f.url, user);
    await c.connect();
    const pending = c.request("CREATE_MESSAGE", { anything: true });
    await waitFor(() => f.requests("CREATE_MESSAGE").length === 1, "the request on the wire");
    for (const ws of f.sockets) ws.terminate();
    await assert.rejects(pending, ClosedError);
    await waitFor(() => c.state === "ready", "reconnected");

    f.reply = (req) => (req.action === "LIST_PENDING_MESSAGES" ? { id: req.id, action: req.action } : { id: req.id, action: req.action, error: { status: 202, code: 401, description: "Unauthorized" } });
    await assert.rejects(c.request("CREATE_MESSAGE", {}), AuthError);
    assert.equal(c.state, "closed");
    const upgrades = f.upgrades;
    await delay(150);
    assert.equal(f.upgrades, upgrades);
  });

  it("bad frames are reported, not fatal; odd payloads arrive as the raw variant", async () => {
    const f = await fake();
    const got: ReceivedMessage[] = [];
    const c = client(f.url, user, { handler: (m) => void got.push(m) });
    await c.connect();
    f.pushRaw(Buffer.from("definitely not gzip"));
    f.pushRaw("a text frame", false);
    f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ category: "PLAIN_IMAGE", data_base64: Buffer.from("{not json").toString("base64url") }) });
    f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ category: "SYSTEM_SAFE_SNAPSHOT", data_base64: Buffer.from('{"amount":"1"}').toString("base64url") }) });
    f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ category: "PLAIN_TEXT", data_base64: "", data: "aGk=" }) });
    f.push({ id: newUuid(), action: "CREATE_CALL", data: {} });
    await waitFor(() => got.length === 3, "three messages");
    assert.equal(c.state, "ready");
    assert.equal(c.errors.filter(([, ctx]) => ctx.phase === "connection").length, 2);
    const [image, snapshot, text] = got;
    assert.equal(image!.kind, "raw");
    assert.match(image!.kind === "raw" ? image!.reason : "", /JSON/);
    assert.equal(snapshot!.kind, "raw");
    assert.deepEqual(snapshot!.kind === "raw" && snapshot!.json, { amount: "1" });
    // Standard-base64 `data` works when data_base64 is empty.
    assert.equal(text!.kind === "text" && text!.payload, "hi");
    await c.close();
  });

  it("receipts are recognised by frame action or by data.source, and never acked", async () => {
    const f = await fake();
    const receipts: string[] = [];
    const c = client(f.url, user, { handler: { receipt: (r) => void receipts.push(r.messageId) } });
    await c.connect();
    const [a, b] = [newUuid(), newUuid()];
    f.push({ id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPT", data: { message_id: a, status: "READ", source: "" } });
    f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ message_id: b, category: "", data_base64: "", status: "DELIVERED", source: "ACKNOWLEDGE_MESSAGE_RECEIPT" }) });
    await waitFor(() => receipts.length === 2, "two receipts");
    assert.deepEqual(receipts, [a, b]);
    await c.flushAcks();
    assert.equal(f.requests("ACKNOWLEDGE_MESSAGE_RECEIPTS").length + f.requests("ACKNOWLEDGE_MESSAGE_RECEIPT").length, 0);
    await c.close();
  });

  it("falls back to one ACKNOWLEDGE_MESSAGE_RECEIPT per message when the server refuses the batch action", async () => {
    const f = await fake();
    f.reply = (req) =>
      req.action === "ACKNOWLEDGE_MESSAGE_RECEIPTS" ? { id: req.id, action: req.action, error: { status: 202, code: 400, description: "unknown action" } } : { id: req.id, action: req.action };
    const c = client(f.url, user);
    await c.connect();
    const ids = [newUuid(), newUuid(), newUuid()];
    for (const id of ids) f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ message_id: id, category: "PLAIN_TEXT", data_base64: "aGk" }) });
    await waitFor(() => f.requests("ACKNOWLEDGE_MESSAGE_RECEIPT").length === 3, "three single acks");
    assert.equal(f.requests("ACKNOWLEDGE_MESSAGE_RECEIPTS").length, 1);
    const acked = f.requests("ACKNOWLEDGE_MESSAGE_RECEIPT").map((r) => (r.params as { message_id: string; status: string }));
    assert.deepEqual(acked.map((a) => a.message_id).sort(), [...ids].sort());
    assert.ok(acked.every((a) => a.status === "READ"));
    // Later acks go single straight away.
    f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ category: "PLAIN_TEXT", data_base64: "aGk" }) });
    await waitFor(() => f.requests("ACKNOWLEDGE_MESSAGE_RECEIPT").length === 4, "a fourth single ack");
    assert.equal(f.requests("ACKNOWLEDGE_MESSAGE_RECEIPTS").length, 1);
    await c.close();
  });

  it("also falls back when the server never answers the batch action", async () => {
    const f = await fake();
    f.reply = (req) => (req.action === "ACKNOWLEDGE_MESSAGE_RECEIPTS" ? undefined : { id: req.id, action: req.action });
    const c = client(f.url, user, { requestTimeoutMs: 150 });
    await c.connect();
    const id = newUuid();
    f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ message_id: id, category: "PLAIN_TEXT", data_base64: "aGk" }) });
    await waitFor(() => f.requests("ACKNOWLEDGE_MESSAGE_RECEIPT").length === 1, "a single ack after the timeout");
    assert.equal((f.requests("ACKNOWLEDGE_MESSAGE_RECEIPT")[0]!.params as { message_id: string }).message_id, id);
    await c.flushAcks();
    await c.close();
  });

  it("resume: LIST_PENDING_MESSAGES carries an offset below every unfinished message", async () => {
    const f = await fake();
    const t = (n: number) => `2024-05-01T08:30:00.00000${n}Z`;
    const c = client(f.url, user, {
      resume: { offset: "2024-05-01T08:00:00Z" },
      handler: (m) => {
        if (m.kind === "text" && m.payload === "fail") throw new Error("not now");
      },
    });
    await c.connect();
    const first = f.requests("LIST_PENDING_MESSAGES")[0] as BlazeMessage<{ offset?: string }>;
    assert.equal(first.params?.offset, "2024-05-01T08:00:00.000000Z");
    const push = (n: number, text: string) =>
      f.push({ id: newUuid(), action: "CREATE_MESSAGE", data: fakeView({ category: "PLAIN_TEXT", data_base64: Buffer.from(text).toString("base64url"), created_at: t(n) }) });
    push(1, "ok");
    push(2, "fail");
    push(3, "ok");
    await waitFor(() => c.errors.some(([, ctx]) => ctx.phase === "handler"), "the failing handler");
    await c.flushAcks();
    // 2 failed: the offset stays below it, though 3 was handled.
    assert.equal(c.offset, t(1));
    for (const ws of f.sockets) ws.terminate();
    await waitFor(() => f.requests("LIST_PENDING_MESSAGES").length === 2, "a second subscription");
    assert.equal((f.requests("LIST_PENDING_MESSAGES")[1] as BlazeMessage<{ offset?: string }>).params?.offset, t(1));
    await c.close();
  });
});

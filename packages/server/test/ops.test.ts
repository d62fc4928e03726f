/**
 * Operations endpoints: /healthz, /readyz (store, bus, draining) and /metrics (Prometheus text)
 * on real servers, driven by real WebSocket and HTTP traffic.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeFrame, newUuid, uniqueConversationId } from "@openblaze/protocol";
import { LocalBus, SqliteStore, createServer, sqlitePath, type Bus, type BusEvent, type Store } from "../src/index.js";
import { authFailureReason } from "../src/metrics.js";
import { histogramQuantile, parsePrometheusText, samplesOf, sumOf, type PromSample } from "../src/metrics-text.js";
import { Harness, textParams, type TestUser } from "./harness.js";

async function scrape(httpUrl: string): Promise<PromSample[]> {
  const res = await fetch(`${httpUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Every metric openblaze exports (docs/operations.md lists the same; see docs-reference.test). */
export const OPENBLAZE_METRICS = [
  "openblaze_build_info",
  "openblaze_ready",
  "openblaze_sockets_open",
  "openblaze_ws_connects_total",
  "openblaze_ws_disconnects_total",
  "openblaze_auth_failures_total",
  "openblaze_ws_frames_in_total",
  "openblaze_ws_frames_out_total",
  "openblaze_errors_total",
  "openblaze_messages_accepted_total",
  "openblaze_messages_duplicate_total",
  "openblaze_messages_delivered_total",
  "openblaze_messages_acked_total",
  "openblaze_mailbox_pending",
  "openblaze_delivery_latency_seconds",
  "openblaze_commit_duration_seconds",
  "openblaze_commit_batch_messages",
  "openblaze_commit_failures_total",
  "openblaze_bus_healthy",
  "openblaze_bus_outages_total",
  "openblaze_store_up",
  "openblaze_store_ping_seconds",
  "openblaze_http_requests_total",
  "openblaze_http_request_duration_seconds",
];

describe("/healthz, /readyz, /metrics", () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  let conv: string;

  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    alice = await h.user("alice");
    conv = uniqueConversationId(bot.userId, alice.userId);
  });
  after(async () => h.close());

  it("healthz and readyz need no token and answer plain JSON (no Blaze envelope)", async () => {
    const health = await getJson(`${h.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: "ok" });
    assert.equal(health.headers.get("cache-control"), "no-store");
    const ready = await getJson(`${h.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true, draining: false, store: "ok", bus: "ok" });
  });

  it("metrics lists every openblaze metric, with process metrics, and needs no token", async () => {
    const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
    for (const name of OPENBLAZE_METRICS) assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), `${name} exported`);
    assert.match(text, /^process_resident_memory_bytes /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    const s = parsePrometheusText(text);
    assert.equal(sumOf(s, "openblaze_ready"), 1);
    assert.equal(sumOf(s, "openblaze_store_up", { store: "sqlite" }), 1);
    assert.equal(sumOf(s, "openblaze_bus_healthy", { bus: "local" }), 1);
    assert.equal(samplesOf(s, "openblaze_build_info")[0]?.labels.version, "0.1.0");
  });

  it("counts sockets, frames by action, accepted, delivered and acked messages, mailbox depth and latencies", async () => {
    const before = await scrape(h.httpUrl);
    const botWs = await h.socket(bot);
    await botWs.request("LIST_PENDING_MESSAGES");
    const aliceWs = await h.socket(alice);
    await aliceWs.request("LIST_PENDING_MESSAGES");
    const during = await scrape(h.httpUrl);
    assert.equal(sumOf(during, "openblaze_sockets_open"), sumOf(before, "openblaze_sockets_open") + 2);
    assert.equal(sumOf(during, "openblaze_ws_connects_total"), sumOf(before, "openblaze_ws_connects_total") + 2);

    const sent = await aliceWs.request("CREATE_MESSAGE", textParams(conv, bot.userId, "hello"));
    assert.equal(sent.error, undefined);
    const push = await botWs.push();
    const queued = await scrape(h.httpUrl);
    assert.equal(sumOf(queued, "openblaze_mailbox_pending"), 1, "one row until acked");
    await botWs.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: push.data.message_id, status: "READ" });
    await aliceWs.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data?.status === "READ");
    // An idempotent retry: answered, not delivered again.
    await aliceWs.request("CREATE_MESSAGE", { ...textParams(conv, bot.userId, "hello"), message_id: sent.data.message_id });
    aliceWs.close();
    await aliceWs.closed;
    await new Promise((r) => setTimeout(r, 50));

    const after = await scrape(h.httpUrl);
    const delta = (name: string, filter: Record<string, string> = {}) => sumOf(after, name, filter) - sumOf(before, name, filter);
    assert.equal(delta("openblaze_ws_frames_in_total", { action: "LIST_PENDING_MESSAGES" }), 2);
    assert.equal(delta("openblaze_ws_frames_in_total", { action: "CREATE_MESSAGE" }), 2);
    assert.equal(delta("openblaze_ws_frames_in_total", { action: "ACKNOWLEDGE_MESSAGE_RECEIPT" }), 1);
    assert.equal(delta("openblaze_ws_frames_out_total", { action: "CREATE_MESSAGE" }), 3, "two send replies and one push");
    assert.equal(delta("openblaze_ws_frames_out_total", { action: "ACKNOWLEDGE_MESSAGE_RECEIPT" }), 2, "ack reply and the receipt to alice");
    assert.equal(delta("openblaze_messages_accepted_total"), 1);
    assert.equal(delta("openblaze_messages_duplicate_total"), 1);
    assert.equal(delta("openblaze_messages_delivered_total", { source: "live" }), 1);
    assert.equal(delta("openblaze_messages_acked_total", { status: "READ" }), 1);
    assert.equal(sumOf(after, "openblaze_mailbox_pending"), 0);
    assert.equal(delta("openblaze_delivery_latency_seconds_count"), 1);
    assert.equal(delta("openblaze_commit_duration_seconds_count") >= 1, true);
    assert.equal(delta("openblaze_commit_batch_messages_sum"), 2, "both sends went through a commit");
    assert.equal(delta("openblaze_ws_disconnects_total", { code: "1005" }) + delta("openblaze_ws_disconnects_total", { code: "1000" }), 1);
    assert.equal(sumOf(after, "openblaze_sockets_open"), sumOf(before, "openblaze_sockets_open") + 1);
    const p99 = histogramQuantile(after, "openblaze_delivery_latency_seconds", 0.99);
    assert.ok(p99 !== undefined && p99 >= 0 && p99 < 10, `delivery p99 ${p99}`);
    botWs.close();
  });

  it("counts auth failures by reason and transport, errors by code; unknown actions stay one bounded label", async () => {
    const before = await scrape(h.httpUrl);
    const refused = await h.socket(undefined, { authorization: "Bearer not.a.jwt" });
    await refused.closed;
    await h.http(undefined, "GET", "/me");
    await h.http(alice, "GET", "/no/such/endpoint");
    const ws = await h.socket(alice);
    for (let i = 0; i < 20; i++) ws.send({ id: newUuid(), action: `MADE_UP_${i}` });
    await ws.next((f) => f.action === "MADE_UP_19");
    ws.sendRaw(Buffer.from("not gzip"));
    await ws.next((f) => f.action === "ERROR");
    ws.close();

    const after = await scrape(h.httpUrl);
    const delta = (name: string, filter: Record<string, string> = {}) => sumOf(after, name, filter) - sumOf(before, name, filter);
    assert.equal(delta("openblaze_auth_failures_total", { transport: "ws", reason: "malformed_token" }), 1);
    assert.equal(delta("openblaze_auth_failures_total", { transport: "http", reason: "missing_token" }), 1);
    assert.equal(delta("openblaze_errors_total", { transport: "ws", code: "401" }), 1);
    assert.equal(delta("openblaze_errors_total", { transport: "http", code: "401" }), 1);
    assert.equal(delta("openblaze_errors_total", { transport: "http", code: "404" }), 1);
    assert.equal(delta("openblaze_errors_total", { transport: "ws", code: "400" }) + delta("openblaze_errors_total", { transport: "ws", code: "10002" }), 21);
    assert.equal(delta("openblaze_ws_frames_in_total", { action: "other" }), 20);
    const actions = new Set(samplesOf(after, "openblaze_ws_frames_in_total").map((x) => x.labels.action));
    assert.ok(![...actions].some((a) => a?.startsWith("MADE_UP")), "client-chosen actions never become labels");
    assert.equal(delta("openblaze_http_requests_total", { route: "/me", status: "202" }), 1);
    assert.equal(delta("openblaze_http_requests_total", { route: "unmatched" }), 1);
  });

  it("auth failure reasons map onto a fixed set", () => {
    assert.equal(authFailureReason("token expired"), "expired");
    assert.equal(authFailureReason("unsupported alg RS512"), "malformed_token");
    assert.equal(authFailureReason("token has no iat/exp"), "malformed_token");
    assert.equal(authFailureReason("something new"), "other");
    assert.equal(authFailureReason(undefined), "other");
    assert.equal(authFailureReason("more than 16 open sockets", 429), "too_many_sockets");
  });
});

/** A bus whose health the test sets. */
class SwitchBus implements Bus {
  private readonly inner = new LocalBus();
  private readonly listeners = new Set<(h: boolean) => void>();
  private up = true;
  get healthy(): boolean {
    return this.up;
  }
  set(up: boolean): void {
    this.up = up;
    for (const l of this.listeners) l(up);
  }
  publish(e: BusEvent): void {
    this.inner.publish(e);
  }
  subscribe(h: (e: BusEvent) => void): () => void {
    return this.inner.subscribe(h);
  }
  onHealthChange(l: (h: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async close(): Promise<void> {
    await this.inner.close();
  }
}

describe("/readyz follows the store, the bus and draining", () => {
  let dataDir = "";
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "openblaze-ops-"));
  });
  after(async () => rm(dataDir, { recursive: true, force: true }));

  it("503 while the store cannot be reached or the bus is unhealthy; 200 again when they are back", async () => {
    const sqlite = new SqliteStore({ path: sqlitePath({ dataDir }) });
    let storeDown = false;
    const store = new Proxy(sqlite, {
      get(target, prop, receiver) {
        if (prop === "ping") return async () => (storeDown ? Promise.reject(new Error("connection refused")) : target.ping());
        if (prop === "pendingCount") return async () => (storeDown ? Promise.reject(new Error("connection refused")) : target.pendingCount());
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as Store;
    const bus = new SwitchBus();
    const server = createServer({ port: 0, dataDir, logLevel: "silent" }, { store, bus });
    const { httpUrl } = await server.start();
    try {
      assert.equal((await getJson(`${httpUrl}/readyz`)).status, 200);

      storeDown = true;
      const down = await getJson(`${httpUrl}/readyz`);
      assert.equal(down.status, 503);
      assert.deepEqual(down.body, { ready: false, draining: false, store: "unreachable", bus: "ok" });
      assert.equal((await getJson(`${httpUrl}/healthz`)).status, 200, "still alive");
      const s = await scrape(httpUrl);
      assert.equal(sumOf(s, "openblaze_store_up"), 0);
      assert.equal(samplesOf(s, "openblaze_mailbox_pending").length, 0, "no made-up depth while the store is down");
      assert.equal(sumOf(s, "openblaze_ready"), 0);
      storeDown = false;

      bus.set(false);
      const busDown = await getJson(`${httpUrl}/readyz`);
      assert.equal(busDown.status, 503);
      assert.equal(busDown.body.bus, "unhealthy");
      const b = await scrape(httpUrl);
      assert.equal(sumOf(b, "openblaze_bus_healthy"), 0);
      assert.equal(sumOf(b, "openblaze_bus_outages_total"), 1);
      bus.set(true);
      assert.equal((await getJson(`${httpUrl}/readyz`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  it("stop() turns /readyz to 503 first and keeps serving for drainDelayMs, then closes sockets with 1001", async () => {
    const h = await Harness.start({ drainDelayMs: 600 });
    let stopped: Promise<void> | undefined;
    try {
      const u = await h.user("u");
      const ws = await h.socket(u);
      await ws.request("LIST_PENDING_MESSAGES");
      stopped = h.server.stop();
      const ready = await getJson(`${h.httpUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, { ready: false, draining: true, store: "ok", bus: "ok" });
      assert.equal((await getJson(`${h.httpUrl}/healthz`)).status, 200, "alive while draining");
      // The node still serves its sockets during the delay.
      const reply = await ws.request("LIST_PENDING_MESSAGES");
      assert.equal(reply.error, undefined);
      const closed = await ws.closed;
      assert.equal(closed.code, 1001);
      await stopped;
    } finally {
      await (stopped ?? h.server.stop());
      await rm(h.dataDir, { recursive: true, force: true });
    }
  });

  it("a WebSocket frame counted as 'other' never crashes the counters (fuzzed actions)", async () => {
    const h = await Harness.start();
    try {
      const u = await h.user("u");
      const ws = await h.socket(u);
      for (const action of ["", "__proto__", "constructor", "toString", "x".repeat(1000)]) {
        ws.sendRaw(encodeFrame({ id: newUuid(), action }));
      }
      await new Promise((r) => setTimeout(r, 100));
      const s = await scrape(h.httpUrl);
      assert.ok(sumOf(s, "openblaze_ws_frames_in_total", { action: "other" }) >= 4);
      assert.equal(samplesOf(s, "openblaze_ws_frames_in_total").length, 7, "six actions plus other");
    } finally {
      await h.close();
    }
  });
});

import { readFileSync } from "node:fs";
import { Counter, Histogram, Registry, collectDefaultMetrics, type Metric } from "prom-client";
import { Actions, ERROR_TABLE } from "@openblaze/protocol";
import type { Bus } from "./bus/bus.js";
import type { AcceptOutcome, AckOutcome, Store } from "./store/store.js";

/**
 * Prometheus metrics (`GET /metrics`). The WebSocket hot path only bumps numbers in typed arrays
 * (no allocation, no label hashing); they become Prometheus series when scraped. Label values come
 * from fixed sets (actions, error codes, auth failure reasons, close codes), anything else is
 * counted as "other", so the number of series is bounded whatever clients send.
 *
 * Every metric name is listed in docs/operations.md (a test keeps the two in step).
 */

const OTHER = "other";

/** A fixed label set: value -> index, unknown values -> the last index ("other"). */
class LabelSet {
  readonly values: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(known: readonly string[]) {
    this.values = [...known, OTHER];
    known.forEach((v, i) => this.index.set(v, i));
  }

  of(value: string): number {
    return this.index.get(value) ?? this.values.length - 1;
  }
}

const ACTION_LABELS = new LabelSet(Object.values(Actions));
const PUSH_ACTION = ACTION_LABELS.of(Actions.CREATE_MESSAGE);
const ERROR_LABELS = new LabelSet(Object.keys(ERROR_TABLE));
const CLOSE_LABELS = new LabelSet(["1000", "1001", "1005", "1006", "1008", "1009", "1011"]);
const TRANSPORTS = ["ws", "http"] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Auth failure reasons, from the 401 `extra.reason` texts (protocol token.ts, core/auth.ts). */
export const AUTH_FAILURE_REASONS = [
  "missing_token",
  "malformed_token",
  "expired",
  "issued_in_future",
  "bad_signature",
  "sig_mismatch",
  "unknown_session",
  "disabled",
  "revoked",
  "too_many_sockets",
] as const;
const AUTH_LABELS = new LabelSet(AUTH_FAILURE_REASONS);

export function authFailureReason(reason: string | undefined, code = 401): string {
  if (code === 429) return "too_many_sockets";
  const r = reason ?? "";
  if (r === "missing Authorization header") return "missing_token";
  if (r === "token expired") return "expired";
  if (r === "token issued in the future") return "issued_in_future";
  if (r === "bad token signature") return "bad_signature";
  if (r === "token sig does not match the request") return "sig_mismatch";
  if (r === "unknown session") return "unknown_session";
  if (r === "account disabled") return "disabled";
  if (r === "session revoked") return "revoked";
  if (r === "malformed token" || r.startsWith("Authorization is") || r.startsWith("unsupported alg") || r.startsWith("token has no")) {
    return "malformed_token";
  }
  return OTHER;
}

/** Seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HTTP_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.25, 1, 2.5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** A histogram that observes with one loop over its bounds and no allocation. */
class FastHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

type MetricKind = "counter" | "gauge" | "histogram";

/** A metric read from our own numbers at scrape time, in the shape prom-client's Registry prints. */
function scraped(registry: Registry, name: string, help: string, type: MetricKind, samples: () => Sample[] | Promise<Sample[]>): void {
  const get = async () => ({ name, help, type, aggregator: "sum", values: await samples() });
  registry.registerMetric({ name, help, type, aggregator: "sum", get, getForPromString: get } as unknown as Metric);
}

function histogramSamples(name: string, h: FastHistogram, labels: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  h.bounds.forEach((le, i) => {
    cumulative += h.counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

function labelled(counts: Float64Array, label: string, set: LabelSet, extra: Record<string, string> = {}, offset = 0): Sample[] {
  return set.values.map((v, i) => ({ labels: { ...extra, [label]: v }, value: counts[offset + i]! }));
}

let processRegistry: Registry | undefined;
/** Node process metrics (CPU, memory, event loop lag, GC), once per process however many servers run in it. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** What the scrape-time gauges read. */
export interface MetricsSources {
  /** Open authenticated WebSockets on this node. */
  connections(): number;
  /** False while draining (stop() began) or before start. */
  ready(): boolean;
  store: Store;
  storeKind: string;
  bus: Bus;
  busKind: string;
}

const STORE_PING_TIMEOUT_MS = 2000;

/** Resolves with the store's ping time in seconds, or rejects (down, or slower than the timeout). */
export async function pingStore(store: Store, timeoutMs = STORE_PING_TIMEOUT_MS): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`store did not answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return (performance.now() - started) / 1000;
}

export class Metrics {
  readonly registry = new Registry();
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;

  private readonly framesIn = new Float64Array(ACTION_LABELS.values.length);
  private readonly framesOut = new Float64Array(ACTION_LABELS.values.length);
  private readonly errors = new Float64Array(ERROR_LABELS.values.length * TRANSPORTS.length);
  private readonly authFailures = new Float64Array(AUTH_LABELS.values.length * TRANSPORTS.length);
  private readonly disconnects = new Float64Array(CLOSE_LABELS.values.length);
  private connects = 0;
  private accepted = 0;
  private duplicates = 0;
  private commitFailures = 0;
  private deliveredLive = 0;
  private deliveredBacklog = 0;
  private ackedDelivered = 0;
  private ackedRead = 0;
  private busOutages = 0;
  private readonly deliveryLatency = new FastHistogram(LATENCY_BUCKETS);
  private readonly commitLatency = new FastHistogram(LATENCY_BUCKETS);
  private readonly commitBatch = new FastHistogram(BATCH_BUCKETS);
  private readonly httpRequests: Counter<"method" | "route" | "status">;
  private readonly httpDuration: Histogram<"method" | "route">;

  private sources: MetricsSources | undefined;
  private unwatchBus: (() => void) | undefined;
  private pendingScrape: Promise<Sample[]> | undefined;

  constructor() {
    const r = this.registry;
    const version = packageVersion();
    scraped(r, "openblaze_build_info", "Always 1; labels carry the server version and Node.js version.", "gauge", () => [
      { labels: { version, node: process.version }, value: 1 },
    ]);
    scraped(r, "openblaze_ready", "1 while the node accepts traffic (/readyz is 200), 0 while draining or when store or bus is down.", "gauge", async () => [
      { labels: {}, value: (await this.readiness()).ready ? 1 : 0 },
    ]);
    scraped(r, "openblaze_sockets_open", "Authenticated WebSockets open on this node.", "gauge", () => [
      { labels: {}, value: this.sources?.connections() ?? 0 },
    ]);
    scraped(r, "openblaze_ws_connects_total", "WebSockets accepted after authentication.", "counter", () => [{ labels: {}, value: this.connects }]);
    scraped(r, "openblaze_ws_disconnects_total", "Authenticated WebSockets closed, by close code.", "counter", () =>
      labelled(this.disconnects, "code", CLOSE_LABELS),
    );
    scraped(r, "openblaze_auth_failures_total", "Refused tokens and sockets, by reason and transport.", "counter", () =>
      TRANSPORTS.flatMap((t, ti) => labelled(this.authFailures, "reason", AUTH_LABELS, { transport: t }, ti * AUTH_LABELS.values.length)),
    );
    scraped(r, "openblaze_ws_frames_in_total", "Request frames read, by action.", "counter", () => labelled(this.framesIn, "action", ACTION_LABELS));
    scraped(r, "openblaze_ws_frames_out_total", "Frames written (replies, pushes, receipts, errors), by action.", "counter", () =>
      labelled(this.framesOut, "action", ACTION_LABELS),
    );
    scraped(r, "openblaze_errors_total", "Blaze errors answered, by code and transport.", "counter", () =>
      TRANSPORTS.flatMap((t, ti) => labelled(this.errors, "code", ERROR_LABELS, { transport: t }, ti * ERROR_LABELS.values.length)),
    );
    scraped(r, "openblaze_messages_accepted_total", "New messages committed (idempotent retries not counted).", "counter", () => [
      { labels: {}, value: this.accepted },
    ]);
    scraped(r, "openblaze_messages_duplicate_total", "Sends of a message_id already accepted from the same sender (answered, not delivered again).", "counter", () => [
      { labels: {}, value: this.duplicates },
    ]);
    scraped(r, "openblaze_messages_delivered_total", "Messages pushed to a socket, by source (backlog after LIST_PENDING_MESSAGES, or live). Re-deliveries count again.", "counter", () => [
      { labels: { source: "live" }, value: this.deliveredLive },
      { labels: { source: "backlog" }, value: this.deliveredBacklog },
    ]);
    scraped(r, "openblaze_messages_acked_total", "Acknowledgements of received messages (WebSocket or HTTP), by status.", "counter", () => [
      { labels: { status: "DELIVERED" }, value: this.ackedDelivered },
      { labels: { status: "READ" }, value: this.ackedRead },
    ]);
    scraped(r, "openblaze_mailbox_pending", "Mailbox rows waiting for an ack, all nodes together (a count in the database at scrape time).", "gauge", () =>
      this.pendingSamples(),
    );
    scraped(r, "openblaze_delivery_latency_seconds", "From acceptance (commit) to the live push on a socket.", "histogram", () =>
      histogramSamples("openblaze_delivery_latency_seconds", this.deliveryLatency),
    );
    scraped(r, "openblaze_commit_duration_seconds", "Group commit transaction time.", "histogram", () =>
      histogramSamples("openblaze_commit_duration_seconds", this.commitLatency),
    );
    scraped(r, "openblaze_commit_batch_messages", "Messages per group commit.", "histogram", () =>
      histogramSamples("openblaze_commit_batch_messages", this.commitBatch),
    );
    scraped(r, "openblaze_commit_failures_total", "Group commits that failed (every sender in the batch got an error).", "counter", () => [
      { labels: {}, value: this.commitFailures },
    ]);
    scraped(r, "openblaze_bus_healthy", "1 while the bus delivers events between nodes (always 1 for the local bus).", "gauge", () =>
      this.sources ? [{ labels: { bus: this.sources.busKind }, value: this.sources.bus.healthy ? 1 : 0 }] : [],
    );
    scraped(r, "openblaze_bus_outages_total", "Times the bus turned unhealthy (the node then polls mailboxes).", "counter", () => [
      { labels: {}, value: this.busOutages },
    ]);
    scraped(r, "openblaze_store_up", "1 when the database answered a ping at scrape time.", "gauge", async () =>
      this.sources ? [{ labels: { store: this.sources.storeKind }, value: (await this.storePing()) === undefined ? 0 : 1 }] : [],
    );
    scraped(r, "openblaze_store_ping_seconds", "Round trip of that ping.", "gauge", async () => {
      const s = await this.storePing();
      return s === undefined ? [] : [{ labels: {}, value: s }];
    });

    this.httpRequests = new Counter({
      name: "openblaze_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      registers: [r],
    });
    this.httpDuration = new Histogram({
      name: "openblaze_http_request_duration_seconds",
      help: "HTTP request handling time, by method and route pattern.",
      labelNames: ["method", "route"],
      buckets: HTTP_BUCKETS,
      registers: [r],
    });
  }

  /** Connects the scrape-time gauges to the running server. */
  attach(sources: MetricsSources): void {
    this.detach();
    this.sources = sources;
    this.unwatchBus = sources.bus.onHealthChange((healthy) => {
      if (!healthy) this.busOutages++;
    });
  }

  detach(): void {
    this.unwatchBus?.();
    this.unwatchBus = undefined;
  }

  // ------------------------------------------------------------------ hot path: numbers only

  frameIn(action: string): void {
    this.framesIn[ACTION_LABELS.of(action)]!++;
  }

  /** A reply, receipt or error frame written; errors are counted by code too. */
  frameOut(action: string, errorCode?: number): void {
    this.framesOut[ACTION_LABELS.of(action)]!++;
    if (errorCode !== undefined) this.error(errorCode, "ws");
  }

  error(code: number, transport: Transport): void {
    this.errors[(transport === "ws" ? 0 : ERROR_LABELS.values.length) + ERROR_LABELS.of(String(code))]!++;
  }

  authFailed(reason: string | undefined, transport: Transport, code = 401): void {
    this.authFailures[(transport === "ws" ? 0 : AUTH_LABELS.values.length) + AUTH_LABELS.of(authFailureReason(reason, code))]!++;
  }

  connected(): void {
    this.connects++;
  }

  disconnected(code: number): void {
    this.disconnects[CLOSE_LABELS.of(String(code))]!++;
  }

  committed(seconds: number, outcomes: readonly AcceptOutcome[]): void {
    this.commitLatency.observe(seconds);
    this.commitBatch.observe(outcomes.length);
    for (const o of outcomes) {
      if (o.kind === "created") this.accepted++;
      else if (o.kind === "duplicate") this.duplicates++;
    }
  }

  commitFailed(): void {
    this.commitFailures++;
  }

  /** One message pushed (a CREATE_MESSAGE frame); `createdAt` in microseconds. Latency is observed for live pushes only. */
  delivered(createdAt: number, live: boolean): void {
    this.framesOut[PUSH_ACTION]!++;
    if (!live) {
      this.deliveredBacklog++;
      return;
    }
    this.deliveredLive++;
    this.deliveryLatency.observe(Math.max(0, Date.now() * 1000 - createdAt) / 1e6);
  }

  /** Outcomes of `acks`, in the same order. */
  acked(outcomes: readonly AckOutcome[], acks: readonly { status: string }[]): void {
    for (let i = 0; i < outcomes.length; i++) {
      const kind = outcomes[i]!.kind;
      if (kind !== "advanced" && kind !== "unchanged") continue;
      if (acks[i]?.status === "READ") this.ackedRead++;
      else this.ackedDelivered++;
    }
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  // ------------------------------------------------------------------ scrape time

  /** What /readyz answers: the store pings, the bus is healthy, and the node is not draining. */
  async readiness(): Promise<{ ready: boolean; draining: boolean; store: string; bus: string }> {
    const s = this.sources;
    if (!s) return { ready: false, draining: false, store: "unknown", bus: "unknown" };
    const storeUp = (await this.storePing()) !== undefined;
    const draining = !s.ready();
    const busUp = s.bus.healthy;
    return { ready: storeUp && busUp && !draining, draining, store: storeUp ? "ok" : "unreachable", bus: busUp ? "ok" : "unhealthy" };
  }

  private pingInFlight: Promise<number | undefined> | undefined;
  /** Seconds, or undefined when the store is down. Concurrent callers share one ping. */
  private storePing(): Promise<number | undefined> {
    if (!this.sources) return Promise.resolve(undefined);
    this.pingInFlight ??= pingStore(this.sources.store)
      .catch(() => undefined)
      .finally(() => (this.pingInFlight = undefined));
    return this.pingInFlight;
  }

  /** One count per scrape however many ask at once; nothing when the store is down. */
  private pendingSamples(): Promise<Sample[]> {
    const store = this.sources?.store;
    if (!store) return Promise.resolve([]);
    this.pendingScrape ??= store
      .pendingCount()
      .then((n): Sample[] => [{ labels: {}, value: n }])
      .catch((): Sample[] => [])
      .finally(() => (this.pendingScrape = undefined));
    return this.pendingScrape;
  }

  /** The Prometheus text exposition: process metrics, then openblaze's. */
  async render(): Promise<string> {
    const [proc, own] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return proc + own;
  }
}

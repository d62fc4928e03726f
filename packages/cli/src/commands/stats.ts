import type { Command } from "commander";
import { byLabel, histogramQuantile, parsePrometheusText, samplesOf, sumOf, type PromSample } from "@openblaze/server";
import { apiUrl } from "./keystore-file.js";
import { out, printJson } from "./admin-store.js";

function ms(seconds: number | undefined): string {
  if (seconds === undefined) return "–";
  return seconds < 1 ? `${(seconds * 1000).toPrecision(2)} ms` : `${seconds.toPrecision(3)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

/** "a 3 · b 1", nonzero entries only, biggest first. */
function breakdown(m: Map<string, number>): string {
  const parts = [...m].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return parts.length === 0 ? "none" : parts.map(([k, n]) => `${k} ${n}`).join(" · ");
}

/** Everything `openblaze stats` shows, from one scrape (also its --json output). */
export function summarize(samples: readonly PromSample[], nowSeconds = Date.now() / 1000) {
  const one = (name: string, filter: Record<string, string> = {}) => sumOf(samples, name, filter);
  const info = samplesOf(samples, "openblaze_build_info")[0]?.labels ?? {};
  const store = samplesOf(samples, "openblaze_store_up")[0];
  const bus = samplesOf(samples, "openblaze_bus_healthy")[0];
  const pending = samplesOf(samples, "openblaze_mailbox_pending")[0];
  const authByReason = new Map<string, number>();
  for (const s of samplesOf(samples, "openblaze_auth_failures_total")) {
    const k = `${s.labels.transport} ${s.labels.reason}`;
    authByReason.set(k, (authByReason.get(k) ?? 0) + s.value);
  }
  const errors = new Map<string, number>();
  for (const s of samplesOf(samples, "openblaze_errors_total")) {
    const k = `${s.labels.transport} ${s.labels.code}`;
    errors.set(k, (errors.get(k) ?? 0) + s.value);
  }
  const commits = one("openblaze_commit_batch_messages_count");
  const started = one("process_start_time_seconds");
  return {
    version: info.version ?? "",
    node: info.node ?? "",
    uptime_seconds: started > 0 ? nowSeconds - started : undefined,
    ready: one("openblaze_ready") === 1,
    store: { kind: store?.labels.store ?? "", up: store?.value === 1, ping_seconds: samplesOf(samples, "openblaze_store_ping_seconds")[0]?.value },
    bus: { kind: bus?.labels.bus ?? "", healthy: bus?.value === 1, outages: one("openblaze_bus_outages_total") },
    sockets: {
      open: one("openblaze_sockets_open"),
      connects: one("openblaze_ws_connects_total"),
      disconnects: Object.fromEntries(byLabel(samples, "openblaze_ws_disconnects_total", "code")),
    },
    auth_failures: Object.fromEntries(authByReason),
    messages: {
      accepted: one("openblaze_messages_accepted_total"),
      duplicates: one("openblaze_messages_duplicate_total"),
      delivered_live: one("openblaze_messages_delivered_total", { source: "live" }),
      delivered_backlog: one("openblaze_messages_delivered_total", { source: "backlog" }),
      acked_delivered: one("openblaze_messages_acked_total", { status: "DELIVERED" }),
      acked_read: one("openblaze_messages_acked_total", { status: "READ" }),
      mailbox_pending: pending?.value,
    },
    delivery_latency: {
      count: one("openblaze_delivery_latency_seconds_count"),
      p50: histogramQuantile(samples, "openblaze_delivery_latency_seconds", 0.5),
      p99: histogramQuantile(samples, "openblaze_delivery_latency_seconds", 0.99),
    },
    commits: {
      count: commits,
      failures: one("openblaze_commit_failures_total"),
      messages_per_commit: commits > 0 ? one("openblaze_commit_batch_messages_sum") / commits : undefined,
      p50: histogramQuantile(samples, "openblaze_commit_duration_seconds", 0.5),
      p99: histogramQuantile(samples, "openblaze_commit_duration_seconds", 0.99),
    },
    frames_in: Object.fromEntries(byLabel(samples, "openblaze_ws_frames_in_total", "action")),
    frames_out: Object.fromEntries(byLabel(samples, "openblaze_ws_frames_out_total", "action")),
    errors: Object.fromEntries(errors),
    http_requests: one("openblaze_http_requests_total"),
    process: {
      resident_bytes: one("process_resident_memory_bytes"),
      heap_used_bytes: one("nodejs_heap_size_used_bytes"),
      event_loop_lag_p99_seconds: samplesOf(samples, "nodejs_eventloop_lag_p99_seconds")[0]?.value,
    },
  };
}

function render(url: string, s: ReturnType<typeof summarize>): string {
  const m = s.messages;
  const lines: [string, string][] = [
    ["server", `openblaze ${s.version} at ${url} (node ${s.node}${s.uptime_seconds === undefined ? "" : `, up ${duration(s.uptime_seconds)}`})`],
    ["ready", s.ready ? "yes" : "NO"],
    ["store", `${s.store.kind} ${s.store.up ? `up, ping ${ms(s.store.ping_seconds)}` : "UNREACHABLE"}`],
    ["bus", `${s.bus.kind} ${s.bus.healthy ? "healthy" : "UNHEALTHY (polling mailboxes)"}, ${s.bus.outages} outage${s.bus.outages === 1 ? "" : "s"}`],
    ["sockets", `${s.sockets.open} open · ${s.sockets.connects} connects · disconnects: ${breakdown(new Map(Object.entries(s.sockets.disconnects)))}`],
    ["auth failures", breakdown(new Map(Object.entries(s.auth_failures)))],
    ["messages", `${m.accepted} accepted · ${m.duplicates} duplicates · ${m.delivered_live} delivered live + ${m.delivered_backlog} backlog · ${m.acked_delivered + m.acked_read} acked`],
    ["mailbox", m.mailbox_pending === undefined ? "unknown (store down)" : `${m.mailbox_pending} pending`],
    ["delivery latency", `p50 ${ms(s.delivery_latency.p50)} · p99 ${ms(s.delivery_latency.p99)} (${s.delivery_latency.count} live pushes)`],
    [
      "commits",
      `p50 ${ms(s.commits.p50)} · p99 ${ms(s.commits.p99)} (${s.commits.count} commits${s.commits.messages_per_commit === undefined ? "" : `, ${s.commits.messages_per_commit.toFixed(1)} messages each`}, ${s.commits.failures} failed)`,
    ],
    ["frames in", breakdown(new Map(Object.entries(s.frames_in)))],
    ["frames out", breakdown(new Map(Object.entries(s.frames_out)))],
    ["errors", breakdown(new Map(Object.entries(s.errors)))],
    ["http requests", String(s.http_requests)],
    [
      "process",
      `rss ${mb(s.process.resident_bytes)} · heap ${mb(s.process.heap_used_bytes)} · event loop lag p99 ${ms(s.process.event_loop_lag_p99_seconds)}`,
    ],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** `openblaze stats`: a live summary of one node, read from its /metrics. */
export function registerStats(program: Command): void {
  program
    .command("stats")
    .description("live summary of a running node, read from its /metrics")
    .option("--url <http-url>", "the node's HTTP URL (env OPENBLAZE_API_URL; default http://127.0.0.1:7777)")
    .option("--json", "the summary as JSON", false)
    .action(async (flags: { url?: string; json: boolean }) => {
      const url = apiUrl(flags.url).replace(/\/+$/, "");
      let res: Response;
      try {
        res = await fetch(`${url}/metrics`);
      } catch (e) {
        throw new Error(`cannot reach ${url}/metrics: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
      }
      if (!res.ok) throw new Error(`${url}/metrics answered HTTP ${res.status}`);
      const summary = summarize(parsePrometheusText(await res.text()));
      if (flags.json) printJson(summary);
      else out(render(url, summary));
    });
}

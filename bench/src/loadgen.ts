/**
 * Load-generator process (forked by the harness, driven over IPC). Holds its share of the sockets,
 * sends pre-built frames and reads back only the bytes it needs: the request id of a reply, the
 * message_id of a push or receipt, and the timestamp in a push's payload.
 */
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { WebSocket } from "ws";
import { signToken } from "@openblaze/protocol";
import {
  Act,
  ID_AT,
  Inflater,
  P_ACK,
  P_BATCH,
  P_LIST,
  P_SEND,
  SendTemplate,
  ackFrame,
  actionOf,
  hasError,
  idEnd,
  messageIdAt,
  monoMicros,
  payloadBase64,
  pushTimestamp,
  storedGzipOf,
} from "./wire.js";
import type { Counters, LoadgenCommand, LoadgenReply, SnapReply, SockSpec } from "./protocol.js";

const inflater = new Inflater();

class Samples {
  buf = new Float64Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = v;
  }
  take(): Float64Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

interface Msg {
  sender: Sock;
  t: number;
  need: number;
  reply: boolean;
  pushes: number;
  receipts: number;
  ackReplies: number;
}

class Sock {
  ws: WebSocket | undefined;
  inflight = 0;
  template: SendTemplate | undefined;
  onList: (() => void) | undefined;
  // batch sender
  batchSent = 0;
  destAt = 0;
  // drainer
  expect = 0;
  got: Set<string> | undefined;
  ackBuf: string[] = [];
  ackScheduled = false;
  ackPending = 0;
  listAt = 0;
  firstAt = 0;
  doneAt = 0;
  /** A token signed ahead of a timed reconnect, used once. */
  token: string | undefined;
  constructor(readonly spec: SockSpec) {
    if (spec.conv) this.template = new SendTemplate(spec.conv, spec.peer);
  }
}

const c: Counters = {
  sent: 0,
  replies: 0,
  pushes: 0,
  acksSent: 0,
  ackReplies: 0,
  receipts: 0,
  completed: 0,
  errors: 0,
  stalled: 0,
  stallNoReply: 0,
  stallNoPush: 0,
  stallNoReceipt: 0,
  stallNoAckReply: 0,
  stallRepliedNoPush: 0,
  unknownPushes: 0,
  dupPushes: 0,
  batchFrames: 0,
  batchMsgs: 0,
  closed: 0,
  inflateFallbacks: 0,
};
const errorSamples: string[] = [];
const pushLat = new Samples();
const replyLat = new Samples();
const doneLat = new Samples();
const msgs = new Map<string, Msg>();

let socks: Sock[] = [];
let url = "";
let running = false;
let closedLoop = false;
let needReceipts = false;
let needAckReplies = false;
let acking = false;
let fanout = 1;
let batchSize = 100;
let batchTotal = 0;
let batchWindow = 1;
let stallUs = 10_000_000;
let dropping = false;
let openTimer: NodeJS.Timeout | undefined;
let sweeper: NodeJS.Timeout | undefined;
let drainWaiter: (() => void) | undefined;
let batchWaiter: (() => void) | undefined;

function send(msg: LoadgenReply): void {
  process.send!(msg);
}

function noteError(raw: Buffer): void {
  c.errors++;
  if (errorSamples.length < 5) errorSamples.push(raw.toString("utf8", 0, Math.min(raw.length, 400)));
}

function onFrame(sock: Sock, data: Buffer): void {
  const t = monoMicros();
  const raw = inflater.inflate(data);
  const end = idEnd(raw);
  const p = raw[ID_AT];
  if (p === P_SEND) {
    const mid = raw.toString("latin1", ID_AT + 1, end);
    const m = msgs.get(mid);
    if (hasError(raw, end)) {
      noteError(raw);
      if (m) finish(mid, m, false);
      return;
    }
    c.replies++;
    if (m) {
      m.reply = true;
      replyLat.push(t - m.t);
      check(mid, m, t);
    }
    return;
  }
  if (p === P_ACK) {
    if (hasError(raw, end)) return noteError(raw);
    c.ackReplies++;
    if (sock.got) {
      sock.ackPending--;
      drainCheck(sock, t);
      return;
    }
    if (end - ID_AT === 37) {
      const mid = raw.toString("latin1", ID_AT + 1, end);
      const m = msgs.get(mid);
      if (m) {
        m.ackReplies++;
        check(mid, m, t);
      }
    }
    return;
  }
  if (p === P_BATCH) {
    if (hasError(raw, end)) noteError(raw);
    else {
      c.batchFrames++;
      c.batchMsgs += batchSize;
    }
    sock.inflight--;
    nextBatch(sock);
    return;
  }
  if (p === P_LIST) {
    if (hasError(raw, end)) noteError(raw);
    const cb = sock.onList;
    sock.onList = undefined;
    cb?.();
    return;
  }
  const act = actionOf(raw, end);
  if (act === Act.CreateMessage) {
    c.pushes++;
    const at = messageIdAt(raw, end);
    const mid = raw.toString("latin1", at, at + 36);
    const ts = pushTimestamp(raw, at);
    if (ts > 0) pushLat.push(t - ts);
    if (sock.got) return drainPush(sock, mid, t);
    if (acking) {
      sock.ws!.send(ackFrame(mid));
      c.acksSent++;
    }
    const m = msgs.get(mid);
    if (!m) {
      c.unknownPushes++;
      return;
    }
    if (++m.pushes > m.need) c.dupPushes++;
    check(mid, m, t);
  } else if (act === Act.Ack) {
    c.receipts++;
    const at = messageIdAt(raw, end);
    if (at < 0) return;
    const mid = raw.toString("latin1", at, at + 36);
    const m = msgs.get(mid);
    if (m) {
      m.receipts++;
      check(mid, m, t);
    }
  } else if (act === Act.Error) {
    noteError(raw);
  }
}

function check(mid: string, m: Msg, t: number): void {
  if (!m.reply || m.pushes < m.need) return;
  if (needReceipts && m.receipts < m.need) return;
  if (needAckReplies && m.ackReplies < m.need) return;
  doneLat.push(t - m.t);
  finish(mid, m, true);
}

function finish(mid: string, m: Msg, ok: boolean): void {
  msgs.delete(mid);
  if (ok) c.completed++;
  m.sender.inflight--;
  if (running && closedLoop) sendMessage(m.sender, monoMicros());
}

function sendMessage(sock: Sock, ts: number): void {
  const ws = sock.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const mid = randomUUID();
  msgs.set(mid, { sender: sock, t: ts, need: fanout, reply: false, pushes: 0, receipts: 0, ackReplies: 0 });
  sock.inflight++;
  c.sent++;
  ws.send(sock.template!.frame(mid, ts));
}

/** Messages that never completed: count what was missing and free their window slot. */
function sweep(): void {
  const now = monoMicros();
  for (const [mid, m] of msgs) {
    if (now - m.t < stallUs) break;
    c.stalled++;
    if (!m.reply) c.stallNoReply++;
    else if (m.pushes < m.need) c.stallRepliedNoPush++;
    if (m.pushes < m.need) c.stallNoPush++;
    else if (needReceipts && m.receipts < m.need) c.stallNoReceipt++;
    else if (needAckReplies && m.ackReplies < m.need) c.stallNoAckReply++;
    finish(mid, m, false);
  }
}

// ---- CREATE_PLAIN_MESSAGES senders --------------------------------------------------------------

function batchFrame(sock: Sock): Buffer {
  const dests = sock.spec.dests!;
  const ts = monoMicros();
  const data = payloadBase64(ts);
  const items: string[] = [];
  for (let i = 0; i < batchSize; i++) {
    const d = dests[sock.destAt++ % dests.length]!;
    items.push(`{"conversation_id":"${d.conv}","recipient_id":"${d.peer}","message_id":"${randomUUID()}","category":"PLAIN_TEXT","data":"${data}"}`);
  }
  // Batches are gzipped like an SDK would (level 6); ~0.3 ms per 100 messages, counted in load-gen CPU.
  return gzipSync(`{"id":"p${randomUUID()}","action":"CREATE_PLAIN_MESSAGES","params":{"messages":[${items.join(",")}]}}`);
}

function nextBatch(sock: Sock): void {
  while (running && sock.inflight < batchWindow && (batchTotal === 0 || sock.batchSent < batchTotal)) {
    const ws = sock.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    sock.inflight++;
    sock.batchSent += batchSize;
    ws.send(batchFrame(sock));
  }
  if (batchTotal > 0 && batchWaiter && socks.every((s) => !s.spec.dests || (s.batchSent >= batchTotal && s.inflight === 0))) {
    const w = batchWaiter;
    batchWaiter = undefined;
    w();
  }
}

// ---- drainers (drain and storm) -----------------------------------------------------------------

const ACK_FLUSH_MS = Number(process.env.OPENBLAZE_BENCH_ACK_FLUSH_MS ?? 10);

function drainPush(sock: Sock, mid: string, t: number): void {
  if (sock.firstAt === 0) sock.firstAt = t;
  if (sock.got!.has(mid)) c.dupPushes++;
  else sock.got!.add(mid);
  sock.ackBuf.push(mid);
  if (sock.ackBuf.length >= 100) flushAcks(sock);
  else if (!sock.ackScheduled) {
    // Like BlazeClient's ack batching (which waits up to 100 ms): a short wait for companions, so a
    // fast drain acks in frames of up to 100 rather than one frame per socket read.
    sock.ackScheduled = true;
    setTimeout(() => flushAcks(sock), ACK_FLUSH_MS);
  }
}

function flushAcks(sock: Sock): void {
  sock.ackScheduled = false;
  if (sock.ackBuf.length === 0) return;
  const items = sock.ackBuf.map((mid) => `{"message_id":"${mid}","status":"DELIVERED"}`).join(",");
  sock.ackBuf = [];
  sock.ackPending++;
  c.acksSent++;
  sock.ws?.send(gzipSync(`{"id":"k${randomUUID()}","action":"ACKNOWLEDGE_MESSAGE_RECEIPTS","params":{"messages":[${items}]}}`));
}

function drainCheck(sock: Sock, t: number): void {
  if (sock.doneAt === 0 && sock.got!.size >= sock.expect && sock.ackPending === 0 && sock.ackBuf.length === 0) {
    sock.doneAt = t;
    if (drainWaiter && socks.every((s) => !s.got || s.doneAt > 0)) {
      const w = drainWaiter;
      drainWaiter = undefined;
      w();
    }
  }
}

function listFrame(): Buffer {
  return storedGzipOf(`{"id":"l${randomUUID()}","action":"LIST_PENDING_MESSAGES"}`);
}

// ---- connections --------------------------------------------------------------------------------

function connect(sock: Sock, subscribe: boolean): Promise<void> {
  const { userId, sessionId } = sock.spec;
  const token = sock.token ?? tokenFor(sock);
  sock.token = undefined;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${sock.spec.url ?? url}?uid=${userId}&sid=${sessionId}`, ["Mixin-Blaze-1"], {
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: 60_000,
    });
    sock.ws = ws;
    let opened = false;
    ws.on("open", () => {
      opened = true;
      if (!subscribe) return resolve();
      sock.onList = resolve;
      ws.send(listFrame());
    });
    ws.on("message", (data: Buffer) => onFrame(sock, data));
    ws.on("error", (err) => {
      c.errors++;
      if (errorSamples.length < 5) errorSamples.push(`socket error: ${err.message}`);
      if (!opened) reject(err);
    });
    ws.on("close", () => {
      if (!dropping) c.closed++;
      if (!opened) reject(new Error("closed before open"));
      else if (sock.onList) reject(new Error("closed before LIST_PENDING_MESSAGES reply"));
    });
  });
}

/** Ed25519 key import and signing: ~0.43 ms of generator CPU per token here (5,000 tokens: 2.2 s of its core). */
function tokenFor(sock: Sock): string {
  const { userId, sessionId, seed } = sock.spec;
  return signToken({ userId, sessionId, seed: Buffer.from(seed, "hex") }, { method: "GET", uri: "/", body: "" });
}

async function connectAll(list: Sock[], subscribe: boolean, concurrency: number): Promise<{ ok: number; failed: number }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (next < list.length) {
      const s = list[next++]!;
      try {
        await connect(s, subscribe);
        ok++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return { ok, failed };
}

function snapshot(): SnapReply {
  c.inflateFallbacks = inflater.fallbacks;
  return {
    op: "snap",
    counters: { ...c },
    inflight: msgs.size,
    undelivered: [...msgs.values()].filter((m) => m.reply && m.pushes < m.need).length,
    pushLat: pushLat.take(),
    replyLat: replyLat.take(),
    doneLat: doneLat.take(),
    errorSamples: errorSamples.slice(),
  };
}

async function settle(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (msgs.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function handle(cmd: LoadgenCommand): Promise<void> {
  switch (cmd.op) {
    case "connect": {
      url = cmd.url;
      socks = cmd.sockets.map((s) => new Sock(s));
      const t0 = Date.now();
      const list = cmd.only === "senders" ? socks.filter((s) => s.spec.dests) : cmd.only === "none" ? [] : socks;
      const r = await connectAll(list, cmd.subscribe, cmd.concurrency ?? 64);
      send({ op: "connected", ok: r.ok, failed: r.failed, ms: Date.now() - t0, errorSamples: errorSamples.slice() });
      return;
    }
    case "closed":
    case "open": {
      running = true;
      closedLoop = cmd.op === "closed";
      acking = cmd.ack;
      needReceipts = cmd.needReceipts;
      needAckReplies = cmd.needAckReplies;
      fanout = cmd.fanout;
      stallUs = cmd.stallMs * 1000;
      sweeper = setInterval(sweep, 250);
      const senders = socks.filter((s) => s.template && s.spec.send !== false);
      if (cmd.op === "closed") {
        const now = monoMicros();
        for (const s of senders) for (let i = 0; i < cmd.window; i++) sendMessage(s, now);
      } else {
        const rate = cmd.rate;
        const t0 = monoMicros();
        let n = 0;
        let at = 0;
        openTimer = setInterval(() => {
          const due = Math.floor(((monoMicros() - t0) * rate) / 1e6);
          // The payload carries the scheduled time, so a late generator shows up as latency.
          for (; n < due; n++) sendMessage(senders[at++ % senders.length]!, t0 + (n * 1e6) / rate);
        }, 1);
      }
      send({ op: "started" });
      return;
    }
    case "batch": {
      running = true;
      batchSize = cmd.batchSize;
      batchWindow = cmd.window;
      batchTotal = cmd.totalPerSender ?? 0;
      const senders = socks.filter((s) => s.spec.dests);
      const done = batchTotal > 0 ? new Promise<void>((r) => (batchWaiter = r)) : undefined;
      for (const s of senders) nextBatch(s);
      send({ op: "started" });
      if (done) {
        const t0 = Date.now();
        await done;
        running = false;
        send({ op: "seeded", ms: Date.now() - t0, counters: { ...c }, errorSamples: errorSamples.slice() });
      }
      return;
    }
    case "snap":
      send(snapshot());
      return;
    case "stop": {
      running = false;
      clearInterval(openTimer);
      await settle(cmd.settleMs);
      clearInterval(sweeper);
      const snap = snapshot();
      send({ ...snap, op: "stopped" });
      return;
    }
    case "drop": {
      dropping = true;
      for (const s of socks) s.ws?.terminate();
      await new Promise((r) => setTimeout(r, 50));
      dropping = false;
      send({ op: "dropped" });
      return;
    }
    case "drain": {
      // Each drainer: (optionally reconnect after a random delay), LIST_PENDING_MESSAGES, ack in batches.
      const drainers = socks.filter((s) => !s.spec.dests);
      for (const s of drainers) {
        s.expect = cmd.expect;
        s.got = new Set();
        s.firstAt = s.doneAt = s.listAt = 0;
        s.ackPending = 0;
        s.ackBuf = [];
        // Signed before the clock starts: a storm measures the server's reconnects, not the
        // generator's signing (which ran it at 80-100% CPU on its core).
        if (cmd.reconnect) s.token = tokenFor(s);
      }
      const t0 = monoMicros();
      const done = new Promise<void>((r) => (drainWaiter = r));
      let connectFailed = 0;
      for (const s of drainers) {
        const go = async () => {
          try {
            if (cmd.reconnect) await connect(s, false);
            s.listAt = monoMicros();
            s.ws!.send(listFrame());
          } catch {
            connectFailed++;
          }
        };
        if (cmd.jitterMs > 0) setTimeout(go, Math.random() * cmd.jitterMs);
        else void go();
      }
      const timeout = new Promise<void>((r) => setTimeout(r, cmd.timeoutMs));
      await Promise.race([done, timeout]);
      const t1 = monoMicros();
      let got = 0;
      let lost = 0;
      const ttf: number[] = [];
      const finish: number[] = [];
      for (const s of drainers) {
        got += s.got!.size;
        lost += Math.max(0, s.expect - s.got!.size);
        if (s.firstAt > 0) ttf.push((s.firstAt - s.listAt) / 1000);
        if (s.doneAt > 0) finish.push((s.doneAt - t0) / 1000);
      }
      send({
        op: "drained",
        ms: (t1 - t0) / 1000,
        sockets: drainers.length,
        complete: drainers.filter((s) => s.doneAt > 0).length,
        got,
        lost,
        dups: c.dupPushes,
        connectFailed,
        firstPushMs: ttf,
        finishMs: finish,
        counters: { ...c },
        errorSamples: errorSamples.slice(),
      });
      return;
    }
    case "exit":
      for (const s of socks) s.ws?.terminate();
      setTimeout(() => process.exit(0), 20);
      return;
  }
}

process.on("message", (cmd: LoadgenCommand) => {
  handle(cmd).catch((e: unknown) => send({ op: "failed", error: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
});
process.on("disconnect", () => process.exit(0));
send({ op: "ready" });

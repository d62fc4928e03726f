/**
 * The relay baseline: the same Blaze framing as the server (gzip JSON binary frames, encodeFrame
 * with the same compression setting, the server's message/receipt view shapes, the same per-socket
 * send window), but no persistence, validation or auth. Run as its own process:
 *
 *   node bench/dist/relay.js --port 0 --compression gzip|gzip:N|stored [--queue-offline]
 *
 * Frame patterns: CREATE_MESSAGE -> reply + push (3 frames); the recipient's ack -> ack reply +
 * receipt to the sender (6 frames). Group conversations are registered with a BENCH_GROUP frame.
 * Without --queue-offline, messages for users with no socket are dropped ("transport ceiling");
 * with it they wait in memory until LIST_PENDING_MESSAGES (the drain and storm baselines).
 */
import { WebSocketServer, type WebSocket } from "ws";
import {
  Actions,
  KNOWN_SUBPROTOCOLS,
  Sources,
  buildMessageView,
  decodeFrame,
  encodeFrame,
  formatMicros,
  newUuid,
  parseCompression,
  type BlazeMessage,
  type Source,
} from "@openblaze/protocol";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : dflt;
};
const compression = parseCompression(arg("--compression", "gzip"));
const queueOffline = args.includes("--queue-offline");
const SEND_WINDOW = 512; // the server's defaults (config.ts)
const MAX_BUFFERED = 1024 * 1024;

interface Msg {
  messageId: string;
  conversationId: string;
  userId: string;
  sessionId: string;
  category: string;
  payload: Buffer;
  createdAt: number;
}

interface Queued {
  m: Msg;
  source: Source;
}

interface Peer {
  ws: WebSocket;
  uid: string;
  sid: string;
  subscribed: boolean;
  unflushed: number;
  queue: Queued[];
  head: number;
}

const online = new Map<string, Peer>();
const offline = new Map<string, Queued[]>();
const groups = new Map<string, string[]>();
/** message id -> sender and acks still expected, for receipts. */
const senders = new Map<string, { from: string; left: number }>();

const nowMicros = () => Date.now() * 1000;

function view(m: Msg, source: Source) {
  return buildMessageView({
    conversation_id: m.conversationId,
    user_id: m.userId,
    session_id: m.sessionId,
    message_id: m.messageId,
    category: m.category,
    payload: m.payload,
    status: "SENT",
    source,
    representative_id: "",
    quote_message_id: "",
    silent: false,
    expire_in: 0,
    created_at: formatMicros(m.createdAt),
  });
}

function sendAckView(m: Msg) {
  return buildMessageView({
    user_id: m.userId,
    message_id: m.messageId,
    status: "SENT",
    source: Sources.CREATE_MESSAGE,
    created_at: formatMicros(m.createdAt),
  });
}

function reply(peer: Peer, msg: BlazeMessage): void {
  if (peer.ws.readyState === peer.ws.OPEN) peer.ws.send(encodeFrame(msg, compression), { binary: true });
}

function canSend(peer: Peer): boolean {
  return peer.ws.readyState === peer.ws.OPEN && peer.unflushed < SEND_WINDOW && peer.ws.bufferedAmount < MAX_BUFFERED;
}

function sendFrame(peer: Peer, frame: Buffer): void {
  peer.unflushed++;
  peer.ws.send(frame, { binary: true }, () => {
    const wasBlocked = !canSend(peer);
    peer.unflushed--;
    if (wasBlocked && canSend(peer)) pump(peer);
  });
}

function pump(peer: Peer): void {
  if (!peer.subscribed) return;
  while (peer.head < peer.queue.length && canSend(peer)) {
    const q = peer.queue[peer.head++]!;
    sendFrame(peer, encodeFrame({ id: newUuid(), action: Actions.CREATE_MESSAGE, data: view(q.m, q.source) }, compression));
  }
  if (peer.head === peer.queue.length) {
    peer.queue = [];
    peer.head = 0;
  } else if (peer.head > 65536) {
    peer.queue = peer.queue.slice(peer.head);
    peer.head = 0;
  }
}

function accept(peer: Peer, p: Record<string, unknown>): Msg {
  const data = (typeof p.data === "string" && p.data !== "" ? p.data : p.data_base64) as string;
  return {
    messageId: String(p.message_id),
    conversationId: String(p.conversation_id),
    userId: peer.uid,
    sessionId: peer.sid,
    category: String(p.category),
    payload: Buffer.from(data ?? "", "base64"),
    createdAt: nowMicros(),
  };
}

function deliver(m: Msg, recipientId: unknown): void {
  const members = groups.get(m.conversationId);
  const recipients = members ? members.filter((u) => u !== m.userId) : typeof recipientId === "string" ? [recipientId] : [];
  if (senders.size > 2_000_000) senders.clear();
  senders.set(m.messageId, { from: m.userId, left: recipients.length });
  let shared: Buffer | undefined; // one compressed push per message, like the server's frame cache
  for (const r of recipients) {
    const peer = online.get(r);
    if (!peer) {
      if (!queueOffline) continue;
      let q = offline.get(r);
      if (!q) offline.set(r, (q = []));
      q.push({ m, source: Sources.LIST_PENDING_MESSAGES });
      continue;
    }
    if (peer.subscribed && peer.head === peer.queue.length && canSend(peer)) {
      shared ??= encodeFrame({ id: newUuid(), action: Actions.CREATE_MESSAGE, data: view(m, Sources.CREATE_MESSAGE) }, compression);
      sendFrame(peer, shared);
    } else {
      peer.queue.push({ m, source: Sources.CREATE_MESSAGE });
    }
  }
}

function acknowledge(items: unknown): void {
  if (!Array.isArray(items)) return;
  for (const item of items as Record<string, unknown>[]) {
    const mid = String(item?.message_id);
    const s = senders.get(mid);
    if (!s) continue;
    if (--s.left <= 0) senders.delete(mid);
    const to = online.get(s.from);
    if (!to || !to.subscribed || to.ws.bufferedAmount >= MAX_BUFFERED) continue;
    reply(to, {
      id: newUuid(),
      action: Actions.ACKNOWLEDGE_MESSAGE_RECEIPT,
      data: buildMessageView({
        message_id: mid,
        status: String(item.status ?? "DELIVERED"),
        source: Sources.ACKNOWLEDGE_MESSAGE_RECEIPT,
        created_at: formatMicros(nowMicros()),
      }),
    });
  }
}

function onFrame(peer: Peer, data: Buffer): void {
  let req: BlazeMessage<Record<string, unknown>>;
  try {
    req = decodeFrame(data) as BlazeMessage<Record<string, unknown>>;
  } catch (e) {
    reply(peer, { id: newUuid(), action: Actions.ERROR, error: { status: 202, code: 400, description: String(e) } });
    return;
  }
  const p = req.params ?? {};
  switch (req.action) {
    case Actions.LIST_PENDING_MESSAGES: {
      peer.subscribed = true;
      reply(peer, { id: req.id, action: req.action });
      const q = offline.get(peer.uid);
      if (q) {
        offline.delete(peer.uid);
        peer.queue = peer.queue.slice(peer.head).concat(q);
        peer.head = 0;
      }
      pump(peer);
      return;
    }
    case Actions.CREATE_MESSAGE: {
      const m = accept(peer, p);
      reply(peer, { id: req.id, action: req.action, data: sendAckView(m) });
      deliver(m, p.recipient_id);
      return;
    }
    case Actions.CREATE_PLAIN_MESSAGES: {
      const items = Array.isArray(p.messages) ? (p.messages as Record<string, unknown>[]) : [];
      for (const item of items) deliver(accept(peer, item), item.recipient_id);
      reply(peer, { id: req.id, action: req.action });
      return;
    }
    case Actions.ACKNOWLEDGE_MESSAGE_RECEIPT:
      acknowledge([p]);
      reply(peer, { id: req.id, action: req.action });
      return;
    case Actions.ACKNOWLEDGE_MESSAGE_RECEIPTS:
      acknowledge(p.messages);
      reply(peer, { id: req.id, action: req.action });
      return;
    case "BENCH_GROUP":
      groups.set(String(p.conversation_id), (p.members as string[]) ?? []);
      reply(peer, { id: req.id, action: req.action });
      return;
    default:
      reply(peer, { id: req.id, action: req.action, error: { status: 202, code: 400, description: "unknown action" } });
  }
}

const wss = new WebSocketServer({
  host: arg("--host", "127.0.0.1"),
  port: Number(arg("--port", "0")),
  // The server's listen backlog, so a reconnect storm meets the same accept queue.
  backlog: 4096,
  perMessageDeflate: false,
  maxPayload: 4 * 1024 * 1024,
  handleProtocols: (offered) => KNOWN_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
});

wss.on("connection", (ws, req) => {
  const q = new URL(req.url ?? "/", "http://relay").searchParams;
  const peer: Peer = { ws, uid: q.get("uid") ?? newUuid(), sid: q.get("sid") ?? "", subscribed: false, unflushed: 0, queue: [], head: 0 };
  online.set(peer.uid, peer);
  ws.on("message", (data: Buffer) => onFrame(peer, data));
  ws.on("error", () => {});
  ws.on("close", () => {
    if (online.get(peer.uid) !== peer) return;
    online.delete(peer.uid);
    // Unsent messages of a dropped socket go back to its offline queue (they were never acked).
    if (queueOffline && peer.head < peer.queue.length) {
      const rest = peer.queue.slice(peer.head).map((x) => ({ m: x.m, source: Sources.LIST_PENDING_MESSAGES }) as Queued);
      offline.set(peer.uid, rest.concat(offline.get(peer.uid) ?? []));
    }
  });
});

wss.on("listening", () => {
  const addr = wss.address() as { port: number; address: string };
  process.stdout.write(`relay listening on ws://${addr.address}:${addr.port}/ (compression ${arg("--compression", "gzip")})\n`);
});

const stop = () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

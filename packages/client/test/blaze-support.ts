import { once } from "node:events";
import { createServer as createTcpServer, connect as tcpConnect, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { decodeFrame, encodeFrame, newUuid, type BlazeMessage } from "@openblaze/protocol";
import { Harness, type TestUser } from "@openblaze/server/test/harness";
import { BlazeClient, type BlazeClientOptions, type ErrorContext } from "../src/index.js";

export { Harness, type TestUser };

/** Polls until `pred` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Test timings: fast backoff and timeouts, so drops and retries take milliseconds. */
export const FAST: Partial<BlazeClientOptions> = {
  backoff: { initialMs: 20, maxMs: 100, factor: 2, jitter: 0.2, resetAfterMs: 1000 },
  requestTimeoutMs: 2000,
  ackFlushMs: 20,
  closeTimeoutMs: 2000,
};

const created = new Set<BlazeClient>();

/** A client on the harness (or a proxy in front of it), with errors collected instead of warned. */
export function client(url: string | (() => string), user: TestUser, options: Partial<BlazeClientOptions> = {}): BlazeClient & { errors: [Error, ErrorContext][] } {
  const c = new BlazeClient({ ...FAST, keystore: user.keystore, url, ...options }) as BlazeClient & { errors: [Error, ErrorContext][] };
  c.errors = [];
  c.on("error", (e, ctx) => c.errors.push([e, ctx]));
  created.add(c);
  return c;
}

/** Closes every client a test created, so a failed assertion cannot leave one reconnecting forever. */
export async function closeClients(): Promise<void> {
  await Promise.all([...created].map((c) => c.close()));
  created.clear();
}

/**
 * A TCP proxy in front of the server: counts connections (server-side view of attempts) and can
 * cut them all at once, like a network failure, without restarting the server.
 */
export class TcpProxy {
  private server!: TcpServer;
  private readonly pairs = new Set<[Socket, Socket]>();
  connections = 0;
  url = "";

  constructor(public targetPort: number) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort);
    p.server = createTcpServer((inbound) => {
      p.connections++;
      const outbound = tcpConnect(p.targetPort, "127.0.0.1");
      const pair: [Socket, Socket] = [inbound, outbound];
      p.pairs.add(pair);
      const end = () => {
        inbound.destroy();
        outbound.destroy();
        p.pairs.delete(pair);
      };
      inbound.on("error", end).on("close", end);
      outbound.on("error", end).on("close", end);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    p.server.listen(0, "127.0.0.1");
    await once(p.server, "listening");
    p.url = `ws://127.0.0.1:${(p.server.address() as AddressInfo).port}/`;
    return p;
  }

  /** Cuts every open connection (both directions, no close handshake). */
  dropAll(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  get open(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/**
 * A scriptable fake Blaze server (a bare ws server), for what the real one never does: stay
 * silent, refuse the upgrade with HTTP 401, send garbage, refuse batch acks, not answer pings.
 */
export class FakeBlaze {
  readonly wss: WebSocketServer;
  readonly received: BlazeMessage[] = [];
  readonly sockets = new Set<WebSocket>();
  upgrades = 0;
  url = "";
  /** Answers a request; return undefined to stay silent. Default: an empty success reply. */
  reply: (req: BlazeMessage, ws: WebSocket) => BlazeMessage | undefined = (req) => ({ id: req.id, action: req.action });

  private constructor(options: { rejectStatus?: number; autoPong?: boolean }) {
    this.wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      autoPong: options.autoPong ?? true,
      verifyClient: (_info, cb) => {
        this.upgrades++;
        if (options.rejectStatus) cb(false, options.rejectStatus);
        else cb(true);
      },
    });
    this.wss.on("connection", (ws) => {
      this.sockets.add(ws);
      ws.on("close", () => this.sockets.delete(ws));
      ws.on("message", (data) => {
        const req = decodeFrame(data as Buffer) as BlazeMessage;
        this.received.push(req);
        const answer = this.reply(req, ws);
        if (answer) ws.send(encodeFrame(answer));
      });
    });
  }

  static async start(options: { rejectStatus?: number; autoPong?: boolean } = {}): Promise<FakeBlaze> {
    const f = new FakeBlaze(options);
    await once(f.wss, "listening");
    f.url = `ws://127.0.0.1:${(f.wss.address() as AddressInfo).port}/`;
    return f;
  }

  /** Pushes a frame to every connected client. */
  push(frame: BlazeMessage): void {
    for (const ws of this.sockets) ws.send(encodeFrame(frame));
  }

  pushRaw(data: Buffer | string, binary = true): void {
    for (const ws of this.sockets) ws.send(data, { binary });
  }

  requests(action: string): BlazeMessage[] {
    return this.received.filter((f) => f.action === action);
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}

/** A MessageView for the fake server to push. */
export function fakeView(fields: Partial<Record<string, unknown>> & { category: string; data_base64: string }): Record<string, unknown> {
  return {
    type: "message",
    conversation_id: newUuid(),
    user_id: newUuid(),
    session_id: newUuid(),
    message_id: newUuid(),
    data: "",
    status: "SENT",
    source: "CREATE_MESSAGE",
    representative_id: "",
    quote_message_id: "",
    silent: false,
    expire_in: 0,
    created_at: "2024-05-01T08:30:00.123456Z",
    updated_at: "2024-05-01T08:30:00.123456Z",
    ...fields,
  };
}

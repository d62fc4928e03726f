import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import {
  decodeFrame,
  encodeFrame,
  newUuid,
  signToken,
  type Keystore,
  type SessionCredentials,
} from "@openblaze/protocol";
import { createServer, type BlazeServer, type ServerConfig } from "../src/index.js";

export interface TestUser {
  userId: string;
  sessionId: string;
  creds: SessionCredentials;
  keystore: Keystore;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
}

/** A real server on port 0 over a temporary data directory. */
export class Harness {
  server!: BlazeServer;
  httpUrl = "";
  wsUrl = "";
  private readonly sockets = new Set<TestSocket>();

  private constructor(
    readonly dataDir: string,
    private readonly overrides: Partial<ServerConfig>,
  ) {}

  static async start(overrides: Partial<ServerConfig> = {}): Promise<Harness> {
    const h = new Harness(await mkdtemp(join(tmpdir(), "openblaze-test-")), overrides);
    await h.boot();
    return h;
  }

  private async boot(): Promise<void> {
    this.server = createServer({
      port: 0,
      dataDir: this.dataDir,
      logLevel: (process.env.OPENBLAZE_TEST_LOG as ServerConfig["logLevel"]) ?? "silent",
      ...this.overrides,
    });
    const addr = await this.server.start();
    this.httpUrl = addr.httpUrl;
    this.wsUrl = addr.wsUrl;
  }

  /** Stops and starts again on the same data directory (a new port). */
  async restart(): Promise<void> {
    await this.server.stop();
    await this.boot();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.ws.terminate();
    await this.server.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  async user(name = "user", bot = false): Promise<TestUser> {
    const acc = await this.server.services.users.createAccount(name, bot);
    const creds = { userId: acc.user.userId, sessionId: acc.sessionId, seed: acc.seed! };
    return {
      userId: acc.user.userId,
      sessionId: acc.sessionId,
      creds,
      keystore: {
        app_id: acc.user.userId,
        session_id: acc.sessionId,
        session_private_key: acc.seed!.toString("hex"),
        server_public_key: "00".repeat(32),
      },
    };
  }

  token(u: TestUser, method: string, uri: string, body = ""): string {
    return signToken(u.creds, { method, uri, body });
  }

  /** A signed request, like the official SDKs send. */
  async http(u: TestUser | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    const raw = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    const h: Record<string, string> = { "content-type": "application/json", "x-request-id": newUuid(), ...headers };
    if (u && !("authorization" in headers)) h.authorization = `Bearer ${this.token(u, method, path, raw)}`;
    const res = await fetch(this.httpUrl + path, { method, headers: h, ...(raw !== "" && { body: raw }) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
  }

  /** Opens a socket for the user (optionally with a custom Authorization header). */
  async socket(u: TestUser | undefined, opts: { authorization?: string; protocols?: string[] } = {}): Promise<TestSocket> {
    const authorization = opts.authorization ?? (u ? `Bearer ${this.token(u, "GET", "/")}` : undefined);
    const ws = new WebSocket(this.wsUrl, opts.protocols ?? ["Mixin-Blaze-1"], {
      headers: authorization ? { authorization } : {},
      perMessageDeflate: false,
    });
    const s = new TestSocket(ws);
    this.sockets.add(s);
    ws.on("close", () => this.sockets.delete(s));
    await s.opened;
    return s;
  }
}

/** A decoded inbound frame; `data` and `error` are left loose so tests can probe them. */
export interface Frame {
  id: string;
  action: string;
  data: any;
  error: any;
}

/** A raw Blaze socket for tests: every inbound frame is decoded and kept. */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  upgradeHeaders: Record<string, string | string[] | undefined> = {};
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    ws.on("upgrade", (res) => (this.upgradeHeaders = res.headers));
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("message", (data, isBinary) => {
      if (!isBinary) throw new Error("server sent a text frame");
      this.frames.push(decodeFrame(data as Buffer) as Frame);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  sendRaw(data: Buffer | string, binary = true): void {
    this.ws.send(data, { binary });
  }

  send(message: unknown): void {
    this.ws.send(encodeFrame(message), { binary: true });
  }

  /** Waits for the first frame (not yet taken) matching `pred`, and takes it. */
  async next(pred: (f: Frame) => boolean = () => true, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; have ${JSON.stringify(this.frames.map((f) => f.action))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async request(action: string, params?: unknown): Promise<Frame> {
    const id = newUuid();
    this.send(params === undefined ? { id, action } : { id, action, params });
    return this.next((f) => f.id === id);
  }

  /** Next pushed message (CREATE_MESSAGE frame that is not a reply to us). */
  async push(timeoutMs = 3000): Promise<Frame> {
    return this.next((f) => f.action === "CREATE_MESSAGE" && f.data?.category !== "" && f.data?.source !== undefined && f.data.conversation_id !== "", timeoutMs);
  }

  /** Resolves true if no push arrives within `ms`. */
  async noPush(ms = 300): Promise<boolean> {
    try {
      await this.push(ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): void {
    this.ws.close();
  }
}

export function b64(text: string | Buffer): string {
  return Buffer.from(text).toString("base64");
}

export function textParams(conversationId: string, recipientId: string, text: string, extra: Record<string, unknown> = {}) {
  return { conversation_id: conversationId, recipient_id: recipientId, message_id: newUuid(), category: "PLAIN_TEXT", data: b64(text), ...extra };
}

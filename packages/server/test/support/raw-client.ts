/**
 * A minimal Blaze client for load: many requests in flight, replies matched by id, everything else
 * handed to `onPush`. No side effects on import.
 */
import { WebSocket } from "ws";
import { decodeFrame, encodeFrame, newUuid, signToken } from "@openblaze/protocol";
import type { Frame } from "../harness.js";
import type { TestUser } from "../harness.js";

export class SocketClosedError extends Error {
  constructor(readonly code: number) {
    super(`socket closed (${code}) before the reply`);
  }
}

export class RawClient {
  private readonly pending = new Map<string, { resolve: (f: Frame) => void; reject: (e: Error) => void }>();
  onPush: (f: Frame) => void = () => {};
  readonly closed: Promise<number>;
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once("close", (code) => {
        this.closeCode = code;
        for (const p of this.pending.values()) p.reject(new SocketClosedError(code));
        this.pending.clear();
        resolve(code);
      }),
    );
    ws.on("error", () => {});
    ws.on("message", (data) => {
      const f = decodeFrame(data as Buffer) as Frame;
      const p = this.pending.get(f.id);
      if (p) {
        this.pending.delete(f.id);
        p.resolve(f);
      } else this.onPush(f);
    });
  }

  static async open(wsUrl: string, u: TestUser): Promise<RawClient> {
    const ws = new WebSocket(wsUrl, ["Mixin-Blaze-1"], {
      headers: { authorization: `Bearer ${signToken(u.creds, { method: "GET", uri: "/" })}` },
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new RawClient(ws);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Resolves with the reply (error replies included); rejects if the socket closes first. */
  request(action: string, params?: unknown): Promise<Frame> {
    const id = newUuid();
    return new Promise((resolve, reject) => {
      if (!this.open) return reject(new SocketClosedError(this.closeCode ?? 0));
      this.pending.set(id, { resolve, reject });
      this.ws.send(encodeFrame(params === undefined ? { id, action } : { id, action, params }), { binary: true });
    });
  }

  terminate(): void {
    this.ws.terminate();
  }

  close(): void {
    this.ws.close();
  }
}

import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export { Harness } from "@openblaze/server/test/harness";
export type { TestUser, TestSocket, Frame } from "@openblaze/server/test/harness";

/** A request as it crossed the wire into the proxy. */
export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What the proxy does with one request:
 * - "forward": pass it on and relay the answer;
 * - "drop": close the client's connection without forwarding;
 * - "forward-then-drop": forward, let the server finish, then close the client's connection, so
 *   the client never learns that its request succeeded (the case retries must survive);
 * - "hang": never answer;
 * - a response to send instead of forwarding;
 * - forward, but override response headers on the way back.
 */
export type ProxyAction =
  | "forward"
  | "drop"
  | "forward-then-drop"
  | "hang"
  | { status: number; headers?: Record<string, string>; body?: string }
  | { forwardWithHeaders: Record<string, string> };

export type ProxyScript = (req: Recorded, index: number) => ProxyAction;

/** A real HTTP proxy in front of a real server, failing on cue. No client code is mocked. */
export class FaultProxy {
  readonly requests: Recorded[] = [];
  url = "";

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    public script: ProxyScript,
  ) {}

  /** `stripPrefix` serves the API under a path prefix, as a reverse proxy would. */
  static async start(upstream: string, script: ProxyScript = () => "forward", opts: { stripPrefix?: string } = {}): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, new URL(upstream), script);
    const prefix = opts.stripPrefix ?? "";
    server.on("request", (req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (b: Buffer) => parts.push(b));
      req.on("end", () => {
        const url = req.url ?? "";
        if (!url.startsWith(prefix)) return void res.writeHead(404).end();
        const rec: Recorded = { method: req.method ?? "", url: url.slice(prefix.length) || "/", headers: req.headers, body: Buffer.concat(parts) };
        const index = proxy.requests.push(rec) - 1;
        const action = proxy.script(rec, index);
        if (action === "hang") return;
        if (action === "drop") return void req.socket.destroy();
        if (typeof action === "object" && "status" in action) {
          res.writeHead(action.status, action.headers ?? {});
          return void res.end(action.body ?? "");
        }
        const override = typeof action === "object" ? action.forwardWithHeaders : undefined;
        proxy.forward(rec, (status, headers, body) => {
          if (action === "forward-then-drop") return void req.socket.destroy();
          res.writeHead(status, { ...headers, ...override });
          res.end(body);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** How many requests matched, e.g. count("POST", "/messages"). */
  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.url === path).length;
  }

  private forward(rec: Recorded, done: (status: number, headers: IncomingHttpHeaders, body: Buffer) => void): void {
    // The Host header is kept, so URLs the server derives from it (upload/view) point back here.
    const up = httpRequest(
      { host: this.upstream.hostname, port: this.upstream.port, method: rec.method, path: rec.url, headers: rec.headers },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (b: Buffer) => parts.push(b));
        res.on("end", () => {
          const headers = { ...res.headers };
          delete headers["transfer-encoding"];
          headers["content-length"] = String(Buffer.concat(parts).length);
          done(res.statusCode ?? 502, headers, Buffer.concat(parts));
        });
      },
    );
    up.end(rec.body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A plain HTTP server answering every request with `respond` (for non-Blaze upstreams). */
export async function staticServer(respond: (method: string, url: string) => { status: number; headers?: Record<string, string>; body: string }) {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const r = respond(req.method ?? "", req.url ?? "");
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

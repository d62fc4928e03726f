/**
 * A reconnect storm, run in a worker thread so it has its own CPU: `concurrency` loops, each opening
 * a raw TCP connection, sending a WebSocket upgrade with a bad token, and reconnecting as soon as the
 * server closes it (what the official Node SDK does on a 401: client-anchors.md §2.3).
 * Does nothing when node --test runs this file on its own.
 */
import { connect } from "node:net";
import { gunzipSync } from "node:zlib";
import { isMainThread, parentPort, workerData } from "node:worker_threads";

export interface StormOptions {
  kind: "storm";
  host: string;
  port: number;
  /** Authorization header values, used in turn. */
  tokens: string[];
  concurrency: number;
}

export interface StormResult {
  attempts: number;
  /** Upgrades the server accepted (101) before refusing in-band. */
  upgraded: number;
  /** Attempts whose response carried the 401 ERROR frame. */
  refused401: number;
  errors: number;
  ms: number;
}

/** Complete unmasked server frames at the start of `buf` (payloads under 64 KiB). */
function serverFrames(buf: Buffer): { op: number; payload: Buffer }[] {
  const out: { op: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 2 <= buf.length) {
    let len = buf[at + 1]! & 0x7f;
    let start = at + 2;
    if (len === 126) {
      if (at + 4 > buf.length) break;
      len = buf.readUInt16BE(at + 2);
      start = at + 4;
    }
    if (start + len > buf.length) break;
    out.push({ op: buf[at]! & 0x0f, payload: buf.subarray(start, start + len) });
    at = start + len;
  }
  return out;
}

function storm(opts: StormOptions): void {
  const result: StormResult = { attempts: 0, upgraded: 0, refused401: 0, errors: 0, ms: 0 };
  const started = Date.now();
  let stopping = false;
  let live = 0;
  let done: (() => void) | undefined;

  const loop = (i: number) => {
    if (stopping) {
      if (--live === 0) done?.();
      return;
    }
    const token = opts.tokens[(result.attempts + i) % opts.tokens.length]!;
    result.attempts++;
    const s = connect(opts.port, opts.host);
    let seen = Buffer.alloc(0);
    let next = false;
    const again = () => {
      if (next) return;
      next = true;
      s.destroy();
      // Immediately, like the SDK; setImmediate only keeps the loop from starving I/O.
      setImmediate(() => loop(i));
    };
    s.on("connect", () => {
      s.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          `Authorization: ${token}\r\n\r\n`,
      );
    });
    s.on("data", (b: Buffer) => {
      seen = Buffer.concat([seen, b]);
      const head = seen.indexOf("\r\n\r\n");
      if (head < 0) return;
      const frames = serverFrames(seen.subarray(head + 4));
      const close = frames.find((f) => f.op === 0x8);
      if (!close) return;
      if (seen.subarray(0, 12).toString() === "HTTP/1.1 101") result.upgraded++;
      const error = frames.find((f) => f.op === 0x2);
      try {
        const body = error && (JSON.parse(gunzipSync(error.payload).toString()) as { action?: string; error?: { code?: number } });
        if (body?.action === "ERROR" && body.error?.code === 401 && close.payload.readUInt16BE(0) === 1008) result.refused401++;
      } catch {
        result.errors++;
      }
      again();
    });
    s.on("error", () => {
      result.errors++;
      again();
    });
    s.on("close", again);
  };

  for (let i = 0; i < opts.concurrency; i++) {
    live++;
    loop(i);
  }
  parentPort!.on("message", (m) => {
    if (m !== "stop") return;
    stopping = true;
    result.ms = Date.now() - started;
    done = () => parentPort!.postMessage(result);
  });
}

if (!isMainThread && (workerData as StormOptions | undefined)?.kind === "storm") storm(workerData as StormOptions);

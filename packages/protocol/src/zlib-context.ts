/**
 * Synchronous gzip and gunzip on one long-lived zlib context each, instead of a new one per call.
 *
 * `gzipSync`/`gunzipSync` create, initialise and destroy a zlib stream per call (by zlib's documented
 * sizes ~256 KiB of deflate state and ~40 KiB of inflate state, reported to V8 as external memory),
 * which was most of the cost of compressing an 800-byte push (~36 µs, ~21 µs reused) or inflating
 * one (~23 µs, ~13 µs reused) on this project's 2-core machine. Node has no public API to reuse a context synchronously, so
 * this drives the handle behind a stream object (`_handle.writeSync`, `_writeState`, `reset`), as
 * Node's own `processChunkSync` does. It is careful about it: any call whose outcome is not a
 * clean, complete result (an error, input left over, output that filled the buffer, a handle that
 * does not look as expected) is redone with the public `gzipSync`/`gunzipSync`, so results and
 * error messages are theirs, and a context that reported an error is replaced.
 */
import { constants, createGunzip, createGzip, gunzipSync, gzipSync, type ZlibOptions } from "node:zlib";

interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}

interface ZlibStreamInternals {
  _handle?: ZlibHandle;
  _writeState?: Uint32Array;
  close(): void;
}

/** One reusable context; `run` returns undefined whenever the caller must use the public API. */
class ReusedContext {
  private stream: ZlibStreamInternals | undefined;
  private handle: ZlibHandle | undefined;
  private state: Uint32Array | undefined;
  private failed = false;

  constructor(private readonly open: () => ZlibStreamInternals) {
    this.attach();
  }

  private attach(): void {
    // A context that reported an error is not trusted again; its native memory goes now, not at GC.
    this.stream?.close();
    const stream = (this.stream = this.open());
    const handle = stream._handle;
    const state = stream._writeState;
    if (!handle || typeof handle.writeSync !== "function" || typeof handle.reset !== "function" || !(state instanceof Uint32Array)) {
      this.handle = undefined; // not the Node internals this was written for: public API from now on
      return;
    }
    // Ours alone: the stream's own handler would destroy the stream on the first bad frame.
    handle.onerror = () => {
      this.failed = true;
    };
    this.handle = handle;
    this.state = state;
  }

  /** Bytes written to `out`, or undefined (error, leftover input, or `out` too small). */
  run(input: Buffer, out: Buffer): number | undefined {
    const handle = this.handle;
    if (!handle) return undefined;
    this.failed = false;
    try {
      handle.writeSync(constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
    } catch {
      this.failed = true;
    }
    const availOut = this.state![0]!;
    const availIn = this.state![1]!;
    if (this.failed) {
      this.attach();
      return undefined;
    }
    handle.reset();
    // availOut === 0: the output may have been cut short; availIn > 0: trailing bytes.
    return availIn === 0 && availOut > 0 ? out.length - availOut : undefined;
  }
}

/** Gunzip with one reused context. Output is a view of a shared buffer: valid until the next call. */
export class ReusedGunzip {
  private readonly ctx = new ReusedContext(() => createGunzip() as unknown as ZlibStreamInternals);
  private readonly out: Buffer;
  /** Calls the reused context could not finish (bad or oversized input, or no usable context). */
  fallbacks = 0;

  /** @param maxOutputLength largest inflated size; larger input throws ERR_BUFFER_TOO_LARGE as gunzipSync does. */
  constructor(private readonly maxOutputLength: number) {
    // One byte more than allowed, so "exactly the limit" still leaves room and is told from "over".
    this.out = Buffer.allocUnsafe(maxOutputLength + 1);
  }

  inflate(frame: Buffer): Buffer {
    const n = this.ctx.run(frame, this.out);
    if (n !== undefined && n <= this.maxOutputLength) return this.out.subarray(0, n);
    this.fallbacks++;
    return gunzipSync(frame, { maxOutputLength: this.maxOutputLength });
  }
}

/** Gzip with one reused context per option set. Returns a fresh buffer the caller may keep. */
export class ReusedGzip {
  private readonly ctx: ReusedContext;
  private readonly out = Buffer.allocUnsafe(64 * 1024);
  /** Calls the reused context could not finish (output over 64 KiB, or no usable context). */
  fallbacks = 0;

  constructor(private readonly options: ZlibOptions) {
    this.ctx = new ReusedContext(() => createGzip(options) as unknown as ZlibStreamInternals);
  }

  deflate(raw: Buffer): Buffer {
    const n = this.ctx.run(raw, this.out);
    if (n !== undefined) return Buffer.from(this.out.subarray(0, n));
    this.fallbacks++;
    return gzipSync(raw, this.options);
  }
}

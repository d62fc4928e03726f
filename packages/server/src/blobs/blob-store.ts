import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomUUID } from "node:crypto";

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`blob exceeds ${maxBytes} bytes`);
    this.name = "BlobTooLargeError";
  }
}

/** Attachment bytes. Keys are opaque tokens chosen by the server, never user input. */
export interface BlobStore {
  /** Streams `source` in, replacing any previous bytes atomically; returns the size written. */
  write(key: string, source: Readable, maxBytes: number): Promise<number>;
  read(key: string): Promise<{ stream: Readable; size: number } | undefined>;
}

export class FsBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private pathOf(key: string): string {
    return join(this.dir, key.slice(0, 2), key);
  }

  async write(key: string, source: Readable, maxBytes: number): Promise<number> {
    const final = this.pathOf(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    const tmp = `${final}.${randomUUID()}.tmp`;
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(size > maxBytes ? new BlobTooLargeError(maxBytes) : null, chunk);
      },
    });
    try {
      await pipeline(source, counter, createWriteStream(tmp));
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return size;
  }

  async read(key: string): Promise<{ stream: Readable; size: number } | undefined> {
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      return { stream: createReadStream(path), size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }
}

import { fromUtf8, utf8 } from "./bytes.js";

/** Collects a stream of byte chunks; Response() would do it too but is absent in some workers. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function streamOf(bytes: Uint8Array<ArrayBuffer>): ReadableStream<BufferSource> {
  return new ReadableStream<BufferSource>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** One Blaze frame: one gzip member of one JSON envelope (protocol.md §1.5). */
export async function encodeFrame(message: unknown): Promise<Uint8Array> {
  return collect(streamOf(utf8(JSON.stringify(message))).pipeThrough(new CompressionStream("gzip")));
}

export async function decodeFrame(frame: ArrayBuffer): Promise<unknown> {
  const json = await collect(streamOf(new Uint8Array(frame)).pipeThrough(new DecompressionStream("gzip")));
  return JSON.parse(fromUtf8(json));
}

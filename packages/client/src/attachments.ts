import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isUuid } from "@openblaze/protocol";
import { compose, type Outgoing } from "./compose.js";
import { HttpError } from "./errors.js";
import type { ApiTransport } from "./http-transport.js";
import type { AttachmentView } from "./http-types.js";
import { detectMimeType, probeMedia, type MediaSource } from "./media-probe.js";

/** Bytes, a stream, or a file path. */
export type UploadInput = Buffer | Uint8Array | Readable | string;

export interface UploadOptions {
  /** Overrides detection when you know better (e.g. a text format with no magic bytes). */
  mimeType?: string;
  /** File name shown for PLAIN_DATA; defaults to the path's base name. */
  name?: string;
  signal?: AbortSignal;
}

/** An uploaded attachment and what we learnt about it: enough for any attachment message. */
export interface UploadedAttachment {
  attachmentId: string;
  viewUrl: string;
  mimeType: string;
  size: number;
  name: string;
  width?: number;
  height?: number;
  durationMs?: number;
  /** Base64 JPEG preview, for images. */
  thumbnail?: string;
}

export interface TransferSettings {
  transport: ApiTransport;
  /** Bounds each whole PUT or GET of attachment bytes. */
  timeoutMs: number;
}

/**
 * Create, PUT, describe, in one call. The POST is never retried (each one makes a new
 * attachment); the PUT is, as PUTs are idempotent and our body can always be replayed.
 */
export async function uploadAttachment(t: TransferSettings, input: UploadInput, opts: UploadOptions = {}): Promise<UploadedAttachment> {
  return withSource(input, async (src, nameFromInput) => {
    const provisional = opts.name ?? nameFromInput ?? "";
    const detected = await detectMimeType(src, provisional);
    const mimeType = opts.mimeType ?? detected.mimeType;
    // Probe before creating anything: a probe failure shouldn't leave an empty attachment behind.
    const facts = await probeMedia(src, mimeType);
    const created = await t.transport.call<AttachmentView>({ method: "POST", path: "/attachments", idempotent: false, signal: opts.signal });
    if (!created.upload_url) throw new HttpError(200, "POST /attachments returned no upload_url", "");
    await putBytes(t, created.upload_url, src, opts.signal);
    return {
      attachmentId: created.attachment_id,
      viewUrl: created.view_url,
      mimeType,
      size: "bytes" in src ? src.bytes.length : src.size,
      name: provisional || (detected.ext ? `attachment.${detected.ext}` : "attachment"),
      ...facts,
    };
  });
}

/**
 * To S3 on the real service, to /uploads/:token on openblaze. No Authorization header: the URL
 * is the capability, and our token must never leak to a third-party host. S3 presigned PUTs
 * refuse chunked bodies, so a file goes out as a stream with an explicit Content-Length.
 */
async function putBytes(t: TransferSettings, url: string, src: MediaSource, signal: AbortSignal | undefined): Promise<void> {
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream", "x-amz-acl": "public-read" };
  await t.transport.retrying({ method: "PUT", target: url, retryable: true, signal }, () => {
    const init: RequestInit & { duplex?: "half" } =
      "bytes" in src
        ? { method: "PUT", headers, body: src.bytes }
        : {
            method: "PUT",
            headers: { ...headers, "Content-Length": String(src.size) },
            body: Readable.toWeb(createReadStream(src.path)) as ReadableStream<Uint8Array>,
            duplex: "half",
          };
    return t.transport.fetchWithTimeout(`PUT ${url}`, url, init, t.timeoutMs, signal, async (res) => {
      const text = await res.text();
      if (!res.ok) throw new HttpError(res.status, text, "");
    });
  });
}

/**
 * A Buffer is used in place; a path is read from disk as needed; any other stream is spooled to
 * a temporary file first, so probing and retried PUTs can read it again without holding it all
 * in memory.
 */
async function withSource<T>(input: UploadInput, use: (src: MediaSource, name: string | undefined) => Promise<T>): Promise<T> {
  if (typeof input === "string") {
    const info = await stat(input);
    if (!info.isFile()) throw new TypeError(`${input} is not a file`);
    return use({ path: input, size: info.size }, basename(input));
  }
  if (input instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return use({ bytes }, undefined);
  }
  // fs.ReadStream knows its file name; other streams have none.
  const streamPath = (input as Readable & { path?: unknown }).path;
  const name = typeof streamPath === "string" ? basename(streamPath) : undefined;
  const dir = await mkdtemp(join(tmpdir(), "openblaze-upload-"));
  try {
    const path = join(dir, "spool");
    await pipeline(input, createWriteStream(path));
    return await use({ path, size: (await stat(path)).size }, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An attachment id (looked up with GET /attachments/:id) or a view URL, fetched unsigned. */
async function viewUrlOf(t: TransferSettings, idOrUrl: string, signal: AbortSignal | undefined): Promise<string> {
  if (isUuid(idOrUrl)) {
    const view = await t.transport.call<AttachmentView>({ method: "GET", path: `/attachments/${idOrUrl}`, idempotent: true, signal });
    return view.view_url;
  }
  if (!/^https?:\/\//i.test(idOrUrl)) throw new TypeError(`not an attachment id or http(s) URL: ${idOrUrl}`);
  return idOrUrl;
}

export async function downloadAttachment(t: TransferSettings, idOrUrl: string, signal?: AbortSignal): Promise<Buffer> {
  const url = await viewUrlOf(t, idOrUrl, signal);
  return t.transport.retrying({ method: "GET", target: url, retryable: true, signal }, () =>
    t.transport.fetchWithTimeout(`GET ${url}`, url, { method: "GET" }, t.timeoutMs, signal, async (res) => {
      if (!res.ok) throw new HttpError(res.status, await res.text(), "");
      return Buffer.from(await res.arrayBuffer());
    }),
  );
}

/** Retries until the response starts; after that, failures surface as stream errors. */
export async function downloadAttachmentStream(t: TransferSettings, idOrUrl: string, signal?: AbortSignal): Promise<Readable> {
  const url = await viewUrlOf(t, idOrUrl, signal);
  return t.transport.retrying({ method: "GET", target: url, retryable: true, signal }, () =>
    t.transport.fetchWithTimeout(`GET ${url}`, url, { method: "GET" }, t.timeoutMs, signal, async (res) => {
      if (!res.ok) throw new HttpError(res.status, await res.text(), "");
      if (!res.body) return Readable.from([]);
      return Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    }),
  );
}

// Formats every official app renders inline; other images still go out, as files.
const INLINE_IMAGES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
const INLINE_VIDEOS = new Set(["video/mp4", "video/quicktime", "video/x-m4v"]);

function base(u: UploadedAttachment) {
  return { attachment_id: u.attachmentId, mime_type: u.mimeType, size: u.size };
}

function requireSize(u: UploadedAttachment, what: string): { width: number; height: number } {
  if (!u.width || !u.height) throw new TypeError(`${what} needs width and height; ${u.mimeType} ${u.name} has none (send it as data)`);
  return { width: u.width, height: u.height };
}

/** Turns an upload into a validated message body of the matching category. */
export const composeUpload = {
  image: (u: UploadedAttachment, opts: { caption?: string } = {}): Outgoing =>
    compose.image({
      ...base(u),
      ...requireSize(u, "an image message"),
      ...(u.thumbnail !== undefined && { thumbnail: u.thumbnail }),
      ...(opts.caption !== undefined && { caption: opts.caption }),
    }),
  video: (u: UploadedAttachment, opts: { caption?: string } = {}): Outgoing => {
    if (u.durationMs === undefined) throw new TypeError(`a video message needs a duration; ${u.name} has none`);
    return compose.video({
      ...base(u),
      ...requireSize(u, "a video message"),
      duration: u.durationMs,
      ...(u.thumbnail !== undefined && { thumbnail: u.thumbnail }),
      ...(opts.caption !== undefined && { caption: opts.caption }),
    });
  },
  /** Voice notes: the apps expect Ogg Opus, with the duration and optional waveform you supply. */
  audio: (u: UploadedAttachment, opts: { durationMs?: number; waveform?: string } = {}): Outgoing => {
    const duration = opts.durationMs ?? u.durationMs;
    if (duration === undefined) throw new TypeError(`an audio message needs a duration; ${u.name} has none`);
    return compose.audio({ ...base(u), duration, ...(opts.waveform !== undefined && { waveform: opts.waveform }) });
  },
  data: (u: UploadedAttachment): Outgoing => compose.data({ ...base(u), name: u.name }),
  /** Image or video when the apps can show it inline and we know its size, otherwise a file. */
  auto: (u: UploadedAttachment, opts: { caption?: string } = {}): Outgoing => {
    if (INLINE_IMAGES.has(u.mimeType) && u.width && u.height) return composeUpload.image(u, opts);
    if (INLINE_VIDEOS.has(u.mimeType) && u.width && u.height && u.durationMs !== undefined) return composeUpload.video(u, opts);
    return composeUpload.data(u);
  },
};

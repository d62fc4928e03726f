import { open } from "node:fs/promises";
import { extname } from "node:path";
import type { ByteReader } from "./mp4-info.js";

// The media libraries (sharp is native) load on the first upload, not on import: a bot that only
// uses BlazeClient, or only sends text, never pays for them.
const fileType = () => import("file-type");
const sharpLib = async () => (await import("sharp")).default;
const mp4Info = () => import("./mp4-info.js");

/** Bytes to probe: in memory, or a file we may read (and re-read) from disk. */
export type MediaSource = { bytes: Buffer } | { path: string; size: number };

/** Everything an attachment message can say about its media besides id, type and size. */
export interface MediaFacts {
  width?: number;
  height?: number;
  durationMs?: number;
  /** Base64 (standard alphabet) of a small JPEG preview. */
  thumbnail?: string;
}

/** Longest side of the preview. Messenger apps show it blurred while the real image loads. */
export const THUMBNAIL_SIZE = 128;

export const OCTET_STREAM = "application/octet-stream";

// Formats magic bytes can't identify (mostly text); anything else we can't name is octet-stream.
const BY_EXTENSION: Readonly<Record<string, string>> = {
  ".txt": "text/plain",
  ".log": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".tsv": "text/tab-separated-values",
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".js": "text/javascript",
  ".json": "application/json",
  ".xml": "application/xml",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".svg": "image/svg+xml",
};

// ISO base media files whose moov carries duration and (for video) display size.
const ISO_BMFF = new Set(["video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp", "video/3gpp2", "audio/mp4", "audio/x-m4a", "audio/m4a"]);

export interface DetectedType {
  mimeType: string;
  /** Extension without the dot, when the content or the name tells one. */
  ext: string | undefined;
}

/** Magic bytes first (a name can lie), then the name's extension, then octet-stream. */
export async function detectMimeType(src: MediaSource, name: string): Promise<DetectedType> {
  const { fileTypeFromBuffer, fileTypeFromFile } = await fileType();
  const detected = "bytes" in src ? await fileTypeFromBuffer(src.bytes) : await fileTypeFromFile(src.path);
  if (detected) return { mimeType: detected.mime, ext: detected.ext };
  const ext = extname(name).toLowerCase();
  return { mimeType: BY_EXTENSION[ext] ?? OCTET_STREAM, ext: ext === "" ? undefined : ext.slice(1) };
}

export async function probeMedia(src: MediaSource, mimeType: string): Promise<MediaFacts> {
  if (mimeType.startsWith("image/")) return probeImage(src);
  if (ISO_BMFF.has(mimeType)) {
    const { readMp4Info } = await mp4Info();
    const info = await withReader(src, (read, size) => readMp4Info(read, size));
    return info ?? {};
  }
  return {};
}

/**
 * Dimensions as displayed (EXIF orientation applied, one frame of an animation) and a JPEG
 * preview. Formats sharp can't decode yield no facts: the file still uploads, as data.
 */
async function probeImage(src: MediaSource): Promise<MediaFacts> {
  const input = "bytes" in src ? src.bytes : src.path;
  try {
    const sharp = await sharpLib();
    const meta = await sharp(input).metadata();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.pages && meta.pages > 1 && meta.pageHeight ? meta.pageHeight : (meta.autoOrient?.height ?? meta.height);
    if (!width || !height) return {};
    const preview = await sharp(input)
      .autoOrient()
      .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: "inside", withoutEnlargement: true })
      // JPEG has no alpha; without a background transparent pixels would turn black.
      .flatten({ background: "#ffffff" })
      .jpeg({ quality: 70 })
      .toBuffer();
    return { width, height, thumbnail: preview.toString("base64") };
  } catch {
    return {};
  }
}

async function withReader<T>(src: MediaSource, use: (read: ByteReader, size: number) => Promise<T>): Promise<T> {
  if ("bytes" in src) {
    const bytes = src.bytes;
    return use(async (position, length) => bytes.subarray(position, position + length), bytes.length);
  }
  const handle = await open(src.path, "r");
  try {
    return await use(async (position, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    }, src.size);
  } finally {
    await handle.close();
  }
}

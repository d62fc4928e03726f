import { Categories } from "@openblaze/protocol/browser";
import type { Chat } from "../chat.js";

const THUMB_MAX = 64;

function canvasThumbnail(source: CanvasImageSource, width: number, height: number): string | undefined {
  const scale = Math.min(1, THUMB_MAX / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const ctx = canvas.getContext("2d");
  if (!ctx) return undefined;
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  const url = canvas.toDataURL("image/jpeg", 0.6);
  return url.startsWith("data:image/jpeg;base64,") ? url.slice("data:image/jpeg;base64,".length) : undefined;
}

async function imageInfo(file: File): Promise<{ width: number; height: number; thumbnail: string | undefined } | undefined> {
  try {
    const bitmap = await createImageBitmap(file);
    const info = { width: bitmap.width, height: bitmap.height, thumbnail: canvasThumbnail(bitmap, bitmap.width, bitmap.height) };
    bitmap.close();
    return info.width > 0 && info.height > 0 ? info : undefined;
  } catch {
    return undefined; // not an image this browser decodes: send it as a file
  }
}

function mediaInfo(file: File, kind: "video" | "audio"): Promise<{ width: number; height: number; duration: number; thumbnail?: string | undefined } | undefined> {
  return new Promise((resolve) => {
    const el = document.createElement(kind);
    const url = URL.createObjectURL(file);
    const done = (v: Awaited<ReturnType<typeof mediaInfo>>) => {
      clearTimeout(timer);
      URL.revokeObjectURL(url);
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), 5000);
    el.preload = "auto";
    el.muted = true;
    el.onerror = () => done(undefined);
    el.onloadeddata = () => {
      const duration = Number.isFinite(el.duration) ? Math.round(el.duration * 1000) : 0;
      if (kind === "audio") return done({ width: 0, height: 0, duration });
      const v = el as HTMLVideoElement;
      if (!(v.videoWidth > 0)) return done(undefined);
      done({ width: v.videoWidth, height: v.videoHeight, duration, thumbnail: canvasThumbnail(v, v.videoWidth, v.videoHeight) });
    };
    el.src = url;
  });
}

/**
 * Uploads a picked file (POST /attachments, then PUT to upload_url) and sends it as the richest
 * category the browser can describe: image, video, audio, or else a plain file.
 */
export async function sendFile(chat: Chat, conversationId: string, file: File, quote = ""): Promise<void> {
  const mime = file.type || "application/octet-stream";
  const image = mime.startsWith("image/") ? await imageInfo(file) : undefined;
  const video = !image && mime.startsWith("video/") ? await mediaInfo(file, "video") : undefined;
  const audio = !image && !video && mime.startsWith("audio/") ? await mediaInfo(file, "audio") : undefined;
  const attachmentId = await chat.upload(file);
  const base = { attachment_id: attachmentId, mime_type: mime, size: file.size };
  if (image) {
    chat.sendJson(conversationId, Categories.PLAIN_IMAGE, { ...base, width: image.width, height: image.height, ...(image.thumbnail && { thumbnail: image.thumbnail }) }, quote);
  } else if (video) {
    chat.sendJson(
      conversationId,
      Categories.PLAIN_VIDEO,
      { ...base, width: video.width, height: video.height, duration: video.duration, ...(video.thumbnail && { thumbnail: video.thumbnail }) },
      quote,
    );
  } else if (audio) {
    chat.sendJson(conversationId, Categories.PLAIN_AUDIO, { ...base, duration: audio.duration }, quote);
  } else {
    chat.sendJson(conversationId, Categories.PLAIN_DATA, { ...base, name: file.name || "file" }, quote);
  }
}

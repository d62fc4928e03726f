import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Scripts only from this origin (no inline script, no eval), so a message that slipped past the
 * sanitiser still cannot run code. Media may come from anywhere (app card covers, view URLs on a
 * public URL); connect-src allows other origins for an upload_url on a separate public URL.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: http: https:",
  "media-src 'self' data: blob: http: https:",
  "connect-src 'self' ws: wss: http: https:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface StaticFile {
  type: string;
  raw: Buffer;
  gzip: Buffer | undefined;
}

function load(path: string): StaticFile {
  const raw = readFileSync(path);
  const type = TYPES[extname(path)] ?? "application/octet-stream";
  const compressible = type.startsWith("text/") || type.includes("json") || type.includes("svg");
  return { type, raw, gzip: compressible && raw.length > 1024 ? gzipSync(raw, { level: 9 }) : undefined };
}

/** The built app: index.html plus the flat, content-hashed `assets/` directory Vite writes. */
export interface WebBundle {
  index: StaticFile;
  assets: Map<string, StaticFile>;
}

/**
 * Loads the bundle into memory (a few hundred KiB); lookups are by exact name, so no request path
 * ever reaches the file system. Returns undefined when `dir` holds no index.html.
 */
export function loadWebBundle(dir: string, options: { dev: boolean }): WebBundle | undefined {
  const indexPath = join(dir, "index.html");
  try {
    if (!statSync(indexPath).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const index = load(indexPath);
  // The page learns server settings from a meta tag, so it needs no extra round trip.
  const meta = `<meta name="openblaze-signup" content="${options.dev ? "on" : "off"}">`;
  const html = Buffer.from(index.raw.toString("utf8").replace("</head>", `${meta}</head>`));
  const assets = new Map<string, StaticFile>();
  const assetDir = join(dir, "assets");
  let names: string[] = [];
  try {
    names = readdirSync(assetDir);
  } catch {
    // An app without assets is odd but servable.
  }
  for (const name of names) {
    const path = join(assetDir, name);
    if (statSync(path).isFile()) assets.set(name, load(path));
  }
  return { index: { type: index.type, raw: html, gzip: gzipSync(html) }, assets };
}

function send(req: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  reply.header("Content-Type", file.type).header("X-Content-Type-Options", "nosniff").header("Vary", "Accept-Encoding");
  const accepts = String(req.headers["accept-encoding"] ?? "");
  if (file.gzip && /\bgzip\b/.test(accepts)) return reply.header("Content-Encoding", "gzip").send(file.gzip);
  return reply.send(file.raw);
}

/** `GET /` (not an upgrade: those never reach fastify) and `GET /assets/:name`. */
export async function webRoutes(app: FastifyInstance, opts: { bundle: WebBundle }): Promise<void> {
  const { index, assets } = opts.bundle;
  app.get("/", async (req, reply) => {
    reply
      .header("Cache-Control", "no-cache")
      .header("Content-Security-Policy", CSP)
      .header("Referrer-Policy", "no-referrer")
      .header("X-Frame-Options", "DENY");
    return send(req, reply, index);
  });
  app.get<{ Params: { name: string } }>("/assets/:name", async (req, reply) => {
    const file = assets.get(req.params.name);
    if (!file) return reply.callNotFound();
    // Vite puts a content hash in every asset name.
    reply.header("Cache-Control", "public, max-age=31536000, immutable");
    return send(req, reply, file);
  });
}

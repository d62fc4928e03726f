import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));

/** The app built by `npm run build` (vite → packages/web/dist/app); this file runs from dist/test. */
export const WEB_DIR = join(HERE, "..", "app");

/** Screenshots for people to look at: packages/web/test-results (gitignored). */
export const RESULTS_DIR = join(HERE, "..", "..", "test-results");

export const CHROMIUM = process.env.OPENBLAZE_CHROMIUM ?? "/usr/bin/chromium";

/** Debian's chromium, headless, with nothing that reaches out to the network on its own. */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * A browser context whose requests to anywhere but the test server are answered locally: link
 * targets get a stub page and images (app card covers) a generated PNG. Nothing leaves the machine.
 */
export async function newContext(browser: Browser, serverUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1, acceptDownloads: true });
  context.setDefaultTimeout(20_000);
  const origin = new URL(serverUrl).origin;
  await context.route(
    (url) => url.origin !== origin && (url.protocol === "http:" || url.protocol === "https:"),
    (route) => {
      const url = route.request().url();
      if (/\.(png|jpe?g)(\?|$)/i.test(url)) return route.fulfill({ status: 200, contentType: "image/png", body: png(480, 270, [61, 117, 227], [120, 200, 255]) });
      return route.fulfill({ status: 200, contentType: "text/html", body: `<!doctype html><title>stub</title><p>stub for ${url.replace(/</g, "")}</p>` });
    },
  );
  return context;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A real RGB PNG with a diagonal gradient between two colours (no image library needed). */
export function png(width: number, height: number, from: [number, number, number], to: [number, number, number]): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      for (let c = 0; c < 3; c++) row[1 + x * 3 + c] = Math.round(from[c]! + (to[c]! - from[c]!) * t);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

export function json(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64");
}

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer as readAll } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { BlazeError, HttpClient, HttpError, THUMBNAIL_SIZE, composeUpload, type RetryEvent, type UploadedAttachment } from "../src/index.js";
import { buildMp4 } from "./mp4-fixture.js";
import { FaultProxy, Harness, type TestSocket, type TestUser } from "./http-support.js";

describe("HttpClient: attachments", () => {
  let h: Harness;
  let alice: TestUser;
  let bob: TestUser;
  let proxy: FaultProxy;
  let a: HttpClient;
  let bobSocket: TestSocket;
  let dir: string;
  let png: Buffer;
  const retries: RetryEvent[] = [];

  before(async () => {
    h = await Harness.start();
    [alice, bob] = await Promise.all([h.user("alice"), h.user("bob")]);
    proxy = await FaultProxy.start(h.httpUrl);
    a = new HttpClient({ keystore: alice.keystore, apiUrl: proxy.url, retry: { baseDelayMs: 5, maxDelayMs: 20 }, onRetry: (e) => retries.push(e) });
    bobSocket = await h.socket(bob);
    await bobSocket.request("LIST_PENDING_MESSAGES");
    dir = await mkdtemp(join(tmpdir(), "openblaze-client-att-"));
    // Half-transparent red, 300x200: the preview must flatten alpha and keep the aspect ratio.
    png = await sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
  });
  after(async () => {
    await proxy.close();
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function assertPng(u: UploadedAttachment, expectedName: string): Promise<void> {
    assert.equal(u.mimeType, "image/png");
    assert.equal(u.size, png.length);
    assert.equal(u.width, 300);
    assert.equal(u.height, 200);
    assert.equal(u.name, expectedName);
    const thumb = await sharp(Buffer.from(u.thumbnail!, "base64")).metadata();
    assert.equal(thumb.format, "jpeg");
    assert.equal(thumb.width, THUMBNAIL_SIZE);
    assert.equal(thumb.height, Math.round((200 * THUMBNAIL_SIZE) / 300));
    assert.deepEqual(await a.download(u.attachmentId), png, "download by id returns the same bytes");
  }

  it("uploads a PNG from a Buffer: type, size, dimensions, thumbnail; PUT is unsigned with the S3 headers", async () => {
    const u = await a.upload(png);
    await assertPng(u, "attachment.png");
    const put = proxy.requests.find((r) => r.method === "PUT")!;
    assert.ok(put, "the upload URL pointed back through the proxy");
    assert.equal(put.headers.authorization, undefined, "no token goes to the upload host");
    assert.equal(put.headers["content-type"], "application/octet-stream");
    assert.equal(put.headers["x-amz-acl"], "public-read");
    assert.deepEqual(put.body, png);
  });

  it("uploads from a stream and from a path, with names and a Content-Length on streamed PUTs", async () => {
    const fromStream = await a.upload(Readable.from([png.subarray(0, 100), png.subarray(100)]), { name: "red.png" });
    await assertPng(fromStream, "red.png");

    const path = join(dir, "photo.png");
    await writeFile(path, png);
    await assertPng(await a.upload(path), "photo.png");
    const lastPut = proxy.requests.filter((r) => r.method === "PUT").at(-1)!;
    assert.equal(lastPut.headers["content-length"], String(png.length));
    assert.equal(lastPut.headers["transfer-encoding"], undefined, "S3 refuses chunked PUTs");

    // An fs stream knows its file name.
    await assertPng(await a.upload(createReadStream(path)), "photo.png");
  });

  it("falls back to the extension, then octet-stream, and honours an explicit type", async () => {
    const text = await a.upload(Buffer.from("just text\n"), { name: "notes.txt" });
    assert.equal(text.mimeType, "text/plain");
    assert.equal(text.width, undefined);
    const noise = await a.upload(randomBytes(2048));
    assert.equal(noise.mimeType, "application/octet-stream");
    assert.equal(noise.name, "attachment");
    const forced = await a.upload(Buffer.from("{}"), { mimeType: "application/x-custom", name: "x.json" });
    assert.equal(forced.mimeType, "application/x-custom");
  });

  it("reads MP4 dimensions and duration, portrait rotation and a moov after a large mdat included", async () => {
    const plain = await a.upload(buildMp4({ width: 320, height: 240, durationMs: 2500 }), { name: "clip.mp4" });
    assert.equal(plain.mimeType, "video/mp4");
    assert.deepEqual([plain.width, plain.height, plain.durationMs], [320, 240, 2500]);

    const portrait = await a.upload(buildMp4({ width: 640, height: 360, durationMs: 1234, timescale: 90_000, rotate90: true }));
    assert.deepEqual([portrait.width, portrait.height, portrait.durationMs], [360, 640, 1234]);

    const path = join(dir, "late-moov.mp4");
    await writeFile(path, buildMp4({ width: 1280, height: 720, durationMs: 61_000, moovLast: true, mdatBytes: 3 * 1024 * 1024 }));
    const late = await a.upload(path);
    assert.deepEqual([late.mimeType, late.width, late.height, late.durationMs], ["video/mp4", 1280, 720, 61_000]);
    assert.equal(late.thumbnail, undefined, "no decoder, so no video preview");
  });

  it("downloads by id, by view URL and as a stream, byte for byte", async () => {
    const bytes = randomBytes(300_000);
    const u = await a.upload(bytes);
    assert.deepEqual(await a.download(u.attachmentId), bytes);
    assert.deepEqual(await a.download(u.viewUrl), bytes);
    assert.deepEqual(await readAll(await a.downloadStream(u.attachmentId)), bytes);
    await assert.rejects(a.download("00000000-0000-4000-8000-000000000000"), (e: unknown) => e instanceof BlazeError && e.code === 404);
  });

  it("sendFile picks image, video or data, and the recipient gets a payload pointing at the bytes", async () => {
    const path = join(dir, "report.bin");
    await writeFile(path, randomBytes(1000));
    const cases: [string | Buffer, string][] = [
      [png, "PLAIN_IMAGE"],
      [buildMp4({ width: 320, height: 240, durationMs: 2500 }), "PLAIN_VIDEO"],
      [path, "PLAIN_DATA"],
    ];
    for (const [input, category] of cases) {
      const { attachment, message } = await a.sendFile({ userId: bob.userId }, input, { caption: "see this" });
      assert.equal(message.category, category);
      const push = await bobSocket.push();
      assert.equal(push.data.category, category);
      const payload = JSON.parse(Buffer.from(push.data.data, "base64").toString("utf8"));
      assert.equal(payload.attachment_id, attachment.attachmentId);
      assert.equal(payload.mime_type, attachment.mimeType);
      assert.equal(payload.size, attachment.size);
      if (category === "PLAIN_IMAGE") assert.deepEqual([payload.width, payload.height, payload.thumbnail, payload.caption], [300, 200, attachment.thumbnail, "see this"]);
      if (category === "PLAIN_VIDEO") assert.deepEqual([payload.width, payload.height, payload.duration], [320, 240, 2500]);
      if (category === "PLAIN_DATA") assert.equal(payload.name, "report.bin");
      // What the recipient would fetch is what was sent.
      const original = typeof input === "string" ? await readAll(createReadStream(input)) : input;
      assert.deepEqual(await client(bob).download(payload.attachment_id), original);
    }
  });

  it("retries a failed PUT (idempotent) but never the POST /attachments", async () => {
    const seen = { put: 0 };
    proxy.script = (r) => (r.method === "PUT" && seen.put++ === 0 ? { status: 503, body: "slow down" } : "forward");
    retries.length = 0;
    try {
      const u = await a.upload(png);
      assert.equal(retries.length, 1);
      assert.equal(retries[0]!.method, "PUT");
      assert.deepEqual(await a.download(u.attachmentId), png);

      const posts = proxy.count("POST", "/attachments");
      proxy.script = (r) => (r.url === "/attachments" ? { status: 500, body: "" } : "forward");
      await assert.rejects(a.upload(png), (e: unknown) => e instanceof HttpError && e.status === 500);
      assert.equal(proxy.count("POST", "/attachments") - posts, 1);
    } finally {
      proxy.script = () => "forward";
    }
  });

  it("composeUpload refuses what a category can't carry", () => {
    const data: UploadedAttachment = { attachmentId: "00000000-0000-4000-8000-000000000000", viewUrl: "", mimeType: "image/x-icon", size: 10, name: "i.ico" };
    assert.throws(() => composeUpload.image(data), TypeError);
    assert.throws(() => composeUpload.video({ ...data, width: 1, height: 1 }), TypeError);
    assert.equal(composeUpload.auto(data).category, "PLAIN_DATA");
    assert.equal(composeUpload.audio({ ...data, mimeType: "audio/ogg" }, { durationMs: 1500 }).category, "PLAIN_AUDIO");
  });

  const client = (u: TestUser) => new HttpClient({ keystore: u.keystore, apiUrl: h.httpUrl });
});

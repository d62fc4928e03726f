import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { LineReader, run, serve, type Served } from "./support.js";

describe("openblaze listen / send / upload", () => {
  let dir: string;
  let server: Served;
  let botKeystore: string;
  let aliceKeystore: string;
  let alice: { app_id: string };
  let api: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openblaze-cli-msg-"));
    server = await serve(["--data", join(dir, "data")]);
    botKeystore = join(dir, "bot.json");
    aliceKeystore = join(dir, "alice.json");
    await writeFile(botKeystore, (await run(["user", "create", "--name", "Bot", "--bot", "--data", join(dir, "data")])).stdout);
    const aliceJson = (await run(["user", "create", "--name", "Alice", "--data", join(dir, "data")])).stdout;
    await writeFile(aliceKeystore, aliceJson);
    alice = JSON.parse(aliceJson);
    api = ["--api", server.httpUrl];
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("send delivers every inline category and listen prints them as JSON lines, then acks", async () => {
    const listener = new LineReader(["listen", "--keystore", aliceKeystore, "--url", server.wsUrl, "--json"]);
    try {
      await listener.waitForStderr(/ready/);
      const cases: [string[], string, (payload: unknown) => void][] = [
        [["text", "hello", "world"], "text", (p) => assert.equal(p, "hello world")],
        [["post", "**bold**"], "post", (p) => assert.equal(p, "**bold**")],
        [["contact", alice.app_id], "contact", (p) => assert.deepEqual(p, { user_id: alice.app_id })],
        [["location", "31.2", "121.5", "The", "Bund"], "location", (p) => assert.deepEqual(p, { latitude: 31.2, longitude: 121.5, name: "The Bund" })],
        [["buttons", JSON.stringify([{ label: "Go", color: "#3D75E3", action: "https://x.org" }])], "buttons", (p) => assert.equal((p as { label: string }[])[0]!.label, "Go")],
        [["sticker", "2d0b8e8c-2d7a-4b1c-9e0f-3a1b5c7d9e11"], "sticker", (p) => assert.deepEqual(p, { sticker_id: "2d0b8e8c-2d7a-4b1c-9e0f-3a1b5c7d9e11" })],
      ];
      for (const [args, kind, check] of cases) {
        const { stdout } = await run(["send", ...args, "--keystore", botKeystore, "--to", alice.app_id, ...api]);
        const view = JSON.parse(stdout);
        assert.equal(view.status, "SENT");
        const line = JSON.parse(await listener.line());
        assert.equal(line.kind, kind);
        assert.equal(line.messageId, view.message_id);
        check(line.payload);
      }
    } finally {
      assert.equal(await listener.stop(), 0);
    }
    // Everything printed was acked: a new listener gets nothing old.
    const again = new LineReader(["listen", "--keystore", aliceKeystore, "--url", server.wsUrl, "--json"]);
    try {
      await again.waitForStderr(/ready/);
      await assert.rejects(again.line(500), /no output line/);
    } finally {
      await again.stop();
    }
  });

  it("send image uploads the file with its detected size; upload prints the attachment", async () => {
    const png = join(dir, "red.png");
    await sharp({ create: { width: 64, height: 48, channels: 3, background: "#ff0000" } }).png().toFile(png);
    const uploaded = JSON.parse((await run(["upload", png, "--keystore", botKeystore, ...api])).stdout);
    assert.equal(uploaded.mimeType, "image/png");
    assert.equal(uploaded.width, 64);
    assert.equal(uploaded.height, 48);
    const listener = new LineReader(["listen", "--keystore", aliceKeystore, "--url", server.wsUrl, "--json"]);
    try {
      await listener.waitForStderr(/ready/);
      await run(["send", "image", png, "--keystore", botKeystore, "--to", alice.app_id, "--caption", "red", ...api]);
      const line = JSON.parse(await listener.line());
      assert.equal(line.kind, "image");
      assert.equal(line.payload.width, 64);
      assert.equal(line.payload.height, 48);
      assert.equal(line.payload.mime_type, "image/png");
      assert.equal(line.payload.caption, "red");
      assert.equal(line.payload.size, (await readFile(png)).length);
    } finally {
      await listener.stop();
    }
  });

  it("pretty output names the category", async () => {
    const listener = new LineReader(["listen", "--keystore", aliceKeystore, "--url", server.wsUrl]);
    try {
      await listener.waitForStderr(/ready/);
      await run(["send", "text", "pretty", "--keystore", botKeystore, "--to", alice.app_id, ...api]);
      assert.match(await listener.line(), /PLAIN_TEXT: pretty$/);
    } finally {
      await listener.stop();
    }
  });

  it("bad usage fails with a clear message", async () => {
    await assert.rejects(run(["send", "text", "x", "--keystore", botKeystore, ...api]), /--to USER or --conversation ID/);
    await assert.rejects(run(["send", "hologram", "x", "--keystore", botKeystore, "--to", alice.app_id, ...api]), /unknown category hologram/);
    await assert.rejects(run(["send", "contact", "nope", "--keystore", botKeystore, "--to", alice.app_id, ...api]), /user_id/);
    await assert.rejects(run(["listen", "--keystore", join(dir, "missing.json")]), /cannot read keystore/);
  });
});

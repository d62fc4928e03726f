import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { bundledWebDir, serverConfigFrom } from "../src/config-from-env.js";
import { serve } from "./support.js";

async function withServe(args: string[], fn: (httpUrl: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "openblaze-cli-web-"));
  const server = await serve(["--data", dataDir, ...args]);
  try {
    await fn(server.httpUrl);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe("serve: the web chat and dev mode", () => {
  it("configures the bundled web chat by default, none turns it off, --dev / OPENBLAZE_DEV turn sign-up on", () => {
    assert.match(bundledWebDir()!, /packages[/\\]web[/\\]dist[/\\]app$/);
    assert.equal(serverConfigFrom({}, {}).webDir, bundledWebDir());
    assert.equal(serverConfigFrom({ webDir: "none" }, {}).webDir, "");
    assert.equal(serverConfigFrom({}, { OPENBLAZE_WEB_DIR: "/srv/chat" }).webDir, "/srv/chat");
    assert.equal(serverConfigFrom({}, {}).dev, false);
    assert.equal(serverConfigFrom({ dev: true }, {}).dev, true);
    assert.equal(serverConfigFrom({}, { OPENBLAZE_DEV: "1" }).dev, true);
  });

  it("serves the built web chat at / and keeps sign-up off", async () => {
    await withServe([], async (httpUrl) => {
      const res = await fetch(`${httpUrl}/`);
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.match(html, /<div id="app"><\/div>/);
      assert.match(html, /<meta name="openblaze-signup" content="off">/);
      const script = /src="\.\/assets\/([^"]+\.js)"/.exec(html)![1]!;
      const js = await fetch(`${httpUrl}/assets/${script}`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get("content-type")!, /javascript/);
      const signup = await fetch(`${httpUrl}/dev/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"full_name":"x"}' });
      assert.equal(((await signup.json()) as { error: { code: number } }).error.code, 404);
    });
  });

  it("--dev lets anyone sign up; --web-dir none serves no page", async () => {
    await withServe(["--dev", "--web-dir", "none"], async (httpUrl) => {
      const page = await fetch(`${httpUrl}/`);
      assert.equal(((await page.json()) as { error: { code: number } }).error.code, 404);
      const signup = await fetch(`${httpUrl}/dev/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"full_name":"Dev"}' });
      const body = (await signup.json()) as { data: { keystore: { session_private_key: string } } };
      assert.match(body.data.keystore.session_private_key, /^[0-9a-f]{64}$/);
    });
  });
});

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { newUuid, parseKeystore, signToken } from "@openblaze/protocol";
import { run, serve, type Served } from "./support.js";

describe("openblaze CLI", () => {
  let dataDir: string;
  let server: Served;
  let httpUrl: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "openblaze-cli-"));
    server = await serve(["--data", dataDir]);
    httpUrl = server.httpUrl;
  });

  after(async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  it("prints help for every command", async () => {
    for (const args of [["--help"], ["serve", "--help"], ["user", "--help"], ["user", "create", "--help"], ["listen", "--help"], ["send", "--help"], ["upload", "--help"]]) {
      const { stdout } = await run(args);
      assert.match(stdout, /Usage: openblaze/);
    }
  });

  it("serve prints where it listens and where data lives", async () => {
    assert.match(httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("user create works while the server runs, and the keystore signs in", async () => {
    const { stdout } = await run(["user", "create", "--name", "Echo Bot", "--bot", "--data", dataDir]);
    const keystore = JSON.parse(stdout);
    assert.deepEqual(Object.keys(keystore).sort(), ["app_id", "server_public_key", "session_id", "session_private_key"]);
    assert.match(keystore.session_private_key, /^[0-9a-f]{64}$/);
    assert.match(keystore.server_public_key, /^[0-9a-f]{64}$/);
    const creds = parseKeystore(keystore);
    const res = await fetch(`${httpUrl}/me`, {
      headers: { authorization: `Bearer ${signToken(creds, { method: "GET", uri: "/me" })}`, "x-request-id": newUuid() },
    });
    const body = (await res.json()) as { data: { user_id: string; full_name: string; app_id: string } };
    assert.equal(body.data.user_id, keystore.app_id);
    assert.equal(body.data.full_name, "Echo Bot");
    assert.equal(body.data.app_id, keystore.app_id);

    const second = JSON.parse((await run(["user", "create", "--name", "Alice", "--data", dataDir])).stdout);
    assert.equal(second.server_public_key, keystore.server_public_key, "one server key per data directory");
    assert.notEqual(second.app_id, keystore.app_id);
  });

  it("rejects bad flags with a clear message", async () => {
    await assert.rejects(run(["user", "create"]), /--name/);
  });

  it("stops gracefully on SIGTERM", async () => {
    assert.equal(await server.stop(), 0);
  });
});

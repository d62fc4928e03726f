import assert from "node:assert/strict";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { newUuid, parseKeystore, signToken } from "@openblaze/protocol";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const run = promisify(execFile);

describe("openblaze CLI", () => {
  let dataDir: string;
  let child: ChildProcess;
  let httpUrl: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "openblaze-cli-"));
    child = spawn(process.execPath, [MAIN, "serve", "--port", "0", "--data", dataDir, "--log-level", "warn"], { stdio: ["ignore", "pipe", "inherit"] });
    httpUrl = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m && out.includes("data in")) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it("prints help for every command", async () => {
    for (const args of [["--help"], ["serve", "--help"], ["user", "--help"], ["user", "create", "--help"]]) {
      const { stdout } = await run(process.execPath, [MAIN, ...args]);
      assert.match(stdout, /Usage: openblaze/);
    }
  });

  it("serve prints where it listens and where data lives", async () => {
    assert.match(httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("user create works while the server runs, and the keystore signs in", async () => {
    const { stdout } = await run(process.execPath, [MAIN, "user", "create", "--name", "Echo Bot", "--bot", "--data", dataDir]);
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

    const second = JSON.parse((await run(process.execPath, [MAIN, "user", "create", "--name", "Alice", "--data", dataDir])).stdout);
    assert.equal(second.server_public_key, keystore.server_public_key, "one server key per data directory");
    assert.notEqual(second.app_id, keystore.app_id);
  });

  it("rejects bad flags with a clear message", async () => {
    await assert.rejects(run(process.execPath, [MAIN, "user", "create"]), /--name/);
  });

  it("stops gracefully on SIGTERM", async () => {
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  });
});

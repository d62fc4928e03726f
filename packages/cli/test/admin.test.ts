/**
 * The admin commands end to end: a real `openblaze serve` process, and the CLI run as separate
 * processes on the same data directory (as an operator would), with raw Blaze sockets watching.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { newUuid, parseKeystore, signToken, uniqueConversationId, type Keystore } from "@openblaze/protocol";
import { TestSocket } from "@openblaze/server/test/harness";
import { parseDuration } from "../src/commands/admin-store.js";
import { run, serve, type Served } from "./support.js";

async function socket(wsUrl: string, keystore: Keystore): Promise<TestSocket> {
  const creds = parseKeystore(keystore);
  const ws = new WebSocket(wsUrl, ["Mixin-Blaze-1"], { headers: { authorization: `Bearer ${signToken(creds, { method: "GET", uri: "/" })}` }, perMessageDeflate: false });
  const s = new TestSocket(ws);
  await s.opened;
  return s;
}

async function http(httpUrl: string, keystore: Keystore, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const raw = body === undefined ? "" : JSON.stringify(body);
  const res = await fetch(httpUrl + path, {
    method,
    headers: {
      "content-type": "application/json",
      "x-request-id": newUuid(),
      authorization: `Bearer ${signToken(parseKeystore(keystore), { method, uri: path, body: raw })}`,
    },
    ...(raw !== "" && { body: raw }),
  });
  return { status: res.status, body: await res.json() };
}

describe("openblaze admin commands", () => {
  let dir: string;
  let data: string[];
  let server: Served;
  let bot: Keystore;
  let alice: Keystore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openblaze-cli-admin-"));
    data = ["--data", dir];
    server = await serve(data);
    bot = JSON.parse((await run(["user", "create", "--name", "Admin Bot", "--bot", ...data])).stdout);
    alice = JSON.parse((await run(["user", "create", "--name", "Alice", ...data])).stdout);
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("user list and user show", async () => {
    const list = JSON.parse((await run(["user", "list", "--json", ...data])).stdout);
    assert.deepEqual(
      list.map((u: { user_id: string; is_bot: boolean; disabled: boolean }) => [u.user_id, u.is_bot, u.disabled]),
      [
        [bot.app_id, true, false],
        [alice.app_id, false, false],
      ],
    );
    const table = (await run(["user", "list", ...data])).stdout;
    assert.match(table, /USER_ID\s+IDENTITY\s+KIND/);
    assert.match(table, new RegExp(`${bot.app_id}.*bot.*active.*Admin Bot`));
    assert.equal(JSON.parse((await run(["user", "list", "--json", "--limit", "1", "--offset", "1", ...data])).stdout)[0].user_id, alice.app_id);

    const shown = JSON.parse((await run(["user", "show", bot.app_id, "--json", ...data])).stdout);
    assert.equal(shown.full_name, "Admin Bot");
    assert.equal(shown.pending_messages, 0);
    assert.deepEqual(shown.sessions.map((s: { session_id: string }) => s.session_id), [bot.session_id]);
    assert.match((await run(["user", "show", bot.app_id, ...data])).stdout, /state\s+active/);
    await assert.rejects(run(["user", "show", newUuid(), ...data]), /no user/);
  });

  it("session add prints a working keystore; session revoke refuses the old key at once and closes its socket", async () => {
    const old = await socket(server.wsUrl, bot);
    await old.request("LIST_PENDING_MESSAGES");
    assert.equal((await http(server.httpUrl, bot, "GET", "/me")).status, 200);

    const rotated: Keystore = JSON.parse((await run(["session", "add", "--user", bot.app_id, ...data])).stdout);
    assert.equal(rotated.app_id, bot.app_id);
    assert.notEqual(rotated.session_id, bot.session_id);
    assert.equal(rotated.server_public_key, bot.server_public_key);
    assert.equal((await http(server.httpUrl, rotated, "GET", "/me")).body.data.user_id, bot.app_id);
    const fresh = await socket(server.wsUrl, rotated);
    await fresh.request("LIST_PENDING_MESSAGES");

    const { stdout } = await run(["session", "revoke", bot.session_id, ...data]);
    assert.match(stdout, /revoked \(1 session left\)/);
    const me = await http(server.httpUrl, bot, "GET", "/me");
    assert.equal(me.body.error?.code, 401, "refused as soon as the command returned");
    const error = await old.next((f) => f.action === "ERROR", 3000);
    assert.equal(error.error.code, 401);
    assert.equal((await old.closed).code, 1008);
    const retry = await socket(server.wsUrl, bot);
    assert.equal((await retry.next((f) => f.action === "ERROR")).error.code, 401);

    // The new key keeps working and receives mail.
    const conv = uniqueConversationId(alice.app_id, bot.app_id);
    const sent = await http(server.httpUrl, alice, "POST", "/messages", {
      conversation_id: conv,
      recipient_id: bot.app_id,
      message_id: newUuid(),
      category: "PLAIN_TEXT",
      data: Buffer.from("after rotation").toString("base64"),
    });
    assert.equal(sent.status, 200);
    assert.equal((await fresh.push()).data.message_id, sent.body.data.message_id);
    fresh.close();
    assert.deepEqual(JSON.parse((await run(["user", "show", bot.app_id, "--json", ...data])).stdout).sessions.map((s: { session_id: string }) => s.session_id), [
      rotated.session_id,
    ]);
    bot = rotated;
    await assert.rejects(run(["session", "revoke", newUuid(), ...data]), /no session/);
    await assert.rejects(run(["session", "add", "--user", newUuid(), ...data]), /no user/);
  });

  it("user disable refuses the user's tokens and closes its sockets; user enable lets it back", async () => {
    const ws = await socket(server.wsUrl, alice);
    await ws.request("LIST_PENDING_MESSAGES");
    assert.match((await run(["user", "disable", alice.app_id, ...data])).stdout, /disabled/);
    assert.equal((await http(server.httpUrl, alice, "GET", "/me")).body.error?.code, 401);
    const e = await ws.next((f) => f.action === "ERROR", 3000);
    assert.equal(e.error.extra.reason, "account disabled");
    assert.equal((await ws.closed).code, 1008);
    assert.equal(JSON.parse((await run(["user", "show", alice.app_id, "--json", ...data])).stdout).disabled, true);

    await run(["user", "enable", alice.app_id, ...data]);
    assert.equal((await http(server.httpUrl, alice, "GET", "/me")).status, 200);
  });

  it("conversation show lists the participants", async () => {
    const conv = uniqueConversationId(alice.app_id, bot.app_id);
    const shown = JSON.parse((await run(["conversation", "show", conv, "--json", ...data])).stdout);
    assert.equal(shown.category, "CONTACT");
    assert.deepEqual(shown.participants.map((p: { user_id: string }) => p.user_id).sort(), [alice.app_id, bot.app_id].sort());
    assert.match((await run(["conversation", "show", conv, ...data])).stdout, /Admin Bot/);
    await assert.rejects(run(["conversation", "show", newUuid(), ...data]), /no conversation/);
  });

  it("stats summarises the node's /metrics", async () => {
    const { stdout } = await run(["stats", "--url", server.httpUrl]);
    assert.match(stdout, /ready\s+yes/);
    assert.match(stdout, /store\s+sqlite up/);
    assert.match(stdout, /mailbox\s+1 pending/, "the message to the bot is not acked");
    const s = JSON.parse((await run(["stats", "--json", "--url", server.httpUrl])).stdout);
    assert.equal(s.ready, true);
    assert.equal(s.messages.accepted, 1);
    assert.equal(s.messages.mailbox_pending, 1);
    assert.ok(s.auth_failures["ws revoked"] + s.auth_failures["ws unknown_session"] >= 1);
    assert.ok(s.auth_failures["http disabled"] >= 1);
    await assert.rejects(run(["stats", "--url", "http://127.0.0.1:1"]), /cannot reach/);
  });

  it("message purge --older-than drops old messages and their mailbox rows", async () => {
    assert.match((await run(["message", "purge", "--older-than", "1h", ...data])).stdout, /0 undelivered mailbox rows/);
    await new Promise((r) => setTimeout(r, 1100));
    assert.match((await run(["message", "purge", "--older-than", "1s", ...data])).stdout, /1 undelivered mailbox row dropped/);
    assert.equal(JSON.parse((await run(["user", "show", bot.app_id, "--json", ...data])).stdout).pending_messages, 0);
    await assert.rejects(run(["message", "purge", "--older-than", "5 days", ...data]), /invalid duration/);
  });

  it("durations", () => {
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("1d12h"), 36 * 3_600_000);
    assert.equal(parseDuration("2w"), 14 * 86_400_000);
    assert.throws(() => parseDuration("0s"), /more than zero/);
    assert.throws(() => parseDuration("7"), /invalid/);
  });
});

describe("openblaze serve --drain-delay", () => {
  it("SIGTERM turns /readyz to 503 at once while the node still serves, then it exits 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "openblaze-cli-drain-"));
    const node = await serve(["--data", dir, "--drain-delay", "1500"]);
    try {
      assert.equal((await fetch(`${node.httpUrl}/readyz`)).status, 200);
      const exited = node.stop();
      let status = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        status = (await fetch(`${node.httpUrl}/readyz`)).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 503, "not ready as soon as SIGTERM arrived");
      assert.equal((await fetch(`${node.httpUrl}/healthz`)).status, 200, "still alive while draining");
      assert.equal(await exited, 0);
    } finally {
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { signToken, uniqueConversationId, generateEd25519, type SessionCredentials } from "@openblaze/protocol";
import { Harness, TestSocket, textParams, type TestUser } from "./harness.js";

function openSocket(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<TestSocket> {
  const s = new TestSocket(new WebSocket(url, protocols, { headers, perMessageDeflate: false }));
  return s.opened.then(() => s);
}

describe("browser token on the WebSocket (openblaze extension)", () => {
  let h: Harness;
  let bot: TestUser;
  let alice: TestUser;
  const sockets: TestSocket[] = [];
  const track = (s: TestSocket) => (sockets.push(s), s);

  before(async () => {
    h = await Harness.start();
    bot = await h.user("bot", true);
    alice = await h.user("alice");
  });
  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await h.close();
  });

  const wsToken = (u: TestUser) => signToken(u.creds, { method: "GET", uri: "/" });

  it("accepts the token as a second subprotocol and echoes only Mixin-Blaze-1", async () => {
    const s = track(await openSocket(h.wsUrl, ["Mixin-Blaze-1", `openblaze.token.${wsToken(alice)}`]));
    assert.equal(s.ws.protocol, "Mixin-Blaze-1");
    assert.equal(s.upgradeHeaders["sec-websocket-protocol"], "Mixin-Blaze-1");
    const listed = await s.request("LIST_PENDING_MESSAGES");
    assert.equal(listed.error, undefined);
    // The socket is alice's: a message to her arrives on it.
    const b = track(await h.socket(bot));
    const sent = await b.request("CREATE_MESSAGE", textParams(uniqueConversationId(bot.userId, alice.userId), alice.userId, "hi browser"));
    assert.equal(sent.error, undefined);
    const push = await s.push();
    assert.equal(push.data.message_id, sent.data.message_id);
    assert.equal(push.data.user_id, bot.userId);
  });

  it("accepts the token as the access_token query parameter, signed over / all the same", async () => {
    const s = track(await openSocket(`${h.wsUrl}?access_token=${encodeURIComponent(wsToken(alice))}`, ["Mixin-Blaze-1"]));
    const listed = await s.request("LIST_PENDING_MESSAGES");
    assert.equal(listed.error, undefined);
    assert.equal(s.ws.protocol, "Mixin-Blaze-1");
  });

  it("refuses a token signed over the query instead of /", async () => {
    const bad = signToken(alice.creds, { method: "GET", uri: "/?access_token=x" });
    const s = track(await openSocket(`${h.wsUrl}?access_token=${bad}`, ["Mixin-Blaze-1"]));
    const closed = await s.closed;
    assert.equal(closed.code, 1008);
    assert.equal(s.frames[0]?.error?.code, 401);
  });

  for (const [name, make] of [
    ["forged", (u: TestUser) => signToken({ ...u.creds, seed: generateEd25519().seed } as SessionCredentials, { method: "GET", uri: "/" })],
    ["expired", (u: TestUser) => signToken(u.creds, { method: "GET", uri: "/", nowSeconds: Math.floor(Date.now() / 1000) - 7200, ttlSeconds: 60 })],
    ["malformed", () => "not-a-jwt"],
  ] as const) {
    it(`a ${name} subprotocol token gets one ERROR 401 frame, then close 1008`, async () => {
      const s = track(await openSocket(h.wsUrl, ["Mixin-Blaze-1", `openblaze.token.${make(alice)}`]));
      const closed = await s.closed;
      assert.equal(closed.code, 1008);
      assert.equal(s.frames.length, 1);
      assert.equal(s.frames[0]!.action, "ERROR");
      assert.equal(s.frames[0]!.error.code, 401);
    });
  }

  it("lets the Authorization header win over a subprotocol token", async () => {
    const s = track(await openSocket(h.wsUrl, ["Mixin-Blaze-1", "openblaze.token.garbage"], { authorization: `Bearer ${wsToken(bot)}` }));
    const listed = await s.request("LIST_PENDING_MESSAGES");
    assert.equal(listed.error, undefined);
  });
});

describe("web chat static files", () => {
  let dir: string;
  let h: Harness;
  const js = `console.log(${JSON.stringify("x".repeat(4000))});`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openblaze-web-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), '<!doctype html><html><head><title>t</title><script type="module" src="./assets/app-abc123.js"></script></head><body></body></html>');
    await writeFile(join(dir, "assets", "app-abc123.js"), js);
    await writeFile(join(dir, "assets", "app-abc123.css"), "body{}");
    await writeFile(join(dir, "secret.txt"), "do not serve");
    h = await Harness.start({ webDir: dir });
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves index.html at / with a strict CSP and no-cache", async () => {
    const res = await fetch(`${h.httpUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const html = await res.text();
    assert.match(html, /<meta name="openblaze-signup" content="off"><\/head>/);
  });

  it("serves hashed assets immutable, gzipped when the client accepts it", async () => {
    const res = await fetch(`${h.httpUrl}/assets/app-abc123.js`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/javascript/);
    assert.match(res.headers.get("cache-control")!, /immutable/);
    assert.equal(await res.text(), js); // fetch inflates it
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      import("node:http").then(({ get }) =>
        get(`${h.httpUrl}/assets/app-abc123.js`, { headers: { "accept-encoding": "gzip" } }, (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () => resolve({ encoding: r.headers["content-encoding"], body: Buffer.concat(chunks) }));
        }).on("error", reject),
      );
    });
    assert.equal(raw.encoding, "gzip");
    assert.equal(gunzipSync(raw.body).toString(), js);
    const css = await fetch(`${h.httpUrl}/assets/app-abc123.css`);
    assert.match(css.headers.get("content-type")!, /^text\/css/);
  });

  it("serves nothing outside the bundle", async () => {
    for (const path of ["/assets/missing.js", "/assets/..%2Fsecret.txt", "/secret.txt", "/assets/../secret.txt", "/index.html/../secret.txt"]) {
      const res = await fetch(`${h.httpUrl}${path}`);
      const body = await res.text();
      assert.ok(!body.includes("do not serve"), path);
      assert.notEqual(res.status, 200, path);
    }
  });

  it("keeps WebSocket upgrades at / working exactly as before", async () => {
    const u = await h.user("ws-user");
    const s = await h.socket(u);
    assert.equal(s.ws.protocol, "Mixin-Blaze-1");
    const listed = await s.request("LIST_PENDING_MESSAGES");
    assert.equal(listed.error, undefined);
    s.close();
  });

  it("keeps GET / a Blaze 404 when no web chat is configured", async () => {
    const plain = await Harness.start();
    try {
      const res = await fetch(`${plain.httpUrl}/`);
      assert.equal(res.status, 202);
      assert.equal(((await res.json()) as { error: { code: number } }).error.code, 404);
    } finally {
      await plain.close();
    }
  });
});

describe("dev-mode self-signup (POST /dev/signup)", () => {
  it("does not exist outside dev mode", async () => {
    const h = await Harness.start();
    try {
      const res = await h.http(undefined, "POST", "/dev/signup", { full_name: "Mallory" });
      assert.equal(res.body.error.code, 404);
    } finally {
      await h.close();
    }
  });

  describe("in dev mode", () => {
    let h: Harness;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "openblaze-web-"));
      await writeFile(join(dir, "index.html"), "<html><head></head><body></body></html>");
      h = await Harness.start({ dev: true, webDir: dir });
    });
    after(async () => {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    });

    const creds = (keystore: { app_id: string; session_id: string }, seed: Buffer): TestUser => ({
      userId: keystore.app_id,
      sessionId: keystore.session_id,
      creds: { userId: keystore.app_id, sessionId: keystore.session_id, seed },
      keystore: { ...keystore, server_public_key: "", session_private_key: seed.toString("hex") },
    });

    it("creates a user for a client-made key and never sees its private half", async () => {
      const keys = generateEd25519();
      const res = await h.http(undefined, "POST", "/dev/signup", { full_name: "Browser User", session_secret: keys.publicKey.toString("base64url") });
      assert.equal(res.status, 200);
      const { user, keystore } = res.body.data;
      assert.equal(user.full_name, "Browser User");
      assert.equal(user.user_id, keystore.app_id);
      assert.equal(keystore.session_private_key, undefined);
      assert.match(keystore.server_public_key, /^[0-9a-f]{64}$/);
      const me = await h.http(creds(keystore, keys.seed), "GET", "/me");
      assert.equal(me.body.data.user_id, keystore.app_id);
      assert.equal(me.body.data.session_id, keystore.session_id);
    });

    it("makes the key itself when none is sent, and returns a complete keystore", async () => {
      const res = await h.http(undefined, "POST", "/dev/signup", { full_name: "Curl User" });
      const { keystore } = res.body.data;
      assert.match(keystore.session_private_key, /^[0-9a-f]{64}$/);
      const me = await h.http(creds(keystore, Buffer.from(keystore.session_private_key, "hex")), "GET", "/me");
      assert.equal(me.body.data.full_name, "Curl User");
    });

    it("validates the name and the key", async () => {
      assert.equal((await h.http(undefined, "POST", "/dev/signup", { full_name: "" })).body.error.code, 10002);
      assert.equal((await h.http(undefined, "POST", "/dev/signup", { full_name: "x", session_secret: "AAAA" })).body.error.code, 10002);
      assert.equal((await h.http(undefined, "POST", "/dev/signup", "not json")).body.error.code, 400);
    });

    it("tells the web chat that sign-up is on", async () => {
      const html = await (await fetch(`${h.httpUrl}/`)).text();
      assert.match(html, /<meta name="openblaze-signup" content="on">/);
    });
  });
});

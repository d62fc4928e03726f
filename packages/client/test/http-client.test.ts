import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { generateEd25519, isUuid, newUuid, requestSignature, uniqueConversationId } from "@openblaze/protocol";
import { AuthError, BlazeError, HttpClient, HttpError, TimeoutError, compose, type HttpClientOptions, type RetryEvent } from "../src/index.js";
import { FaultProxy, Harness, staticServer, type TestSocket, type TestUser } from "./http-support.js";

// Fast, deterministic backoff for tests; the policy itself is the production one.
const FAST = { baseDelayMs: 5, maxDelayMs: 20 };

function claimsOf(authorization: string | string[] | undefined): Record<string, unknown> {
  const token = String(authorization).replace(/^Bearer /, "");
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
}

describe("HttpClient: signing, errors, retries", () => {
  let h: Harness;
  let alice: TestUser;
  let bob: TestUser;
  let bobSocket: TestSocket;

  before(async () => {
    h = await Harness.start();
    alice = await h.user("alice");
    bob = await h.user("bob");
    bobSocket = await h.socket(bob);
    await bobSocket.request("LIST_PENDING_MESSAGES");
  });
  after(() => h.close());

  /** A client for alice, optionally through a proxy, recording every retry. */
  function client(apiUrl: string, extra: Partial<HttpClientOptions> = {}) {
    const retries: RetryEvent[] = [];
    const c = new HttpClient({ keystore: alice.keystore, apiUrl, retry: FAST, onRetry: (e) => retries.push(e), ...extra });
    return { c, retries };
  }

  /** Exactly one push of `messageId` reaches bob, and nothing after it. */
  async function deliveredOnce(messageId: string): Promise<void> {
    const push = await bobSocket.push();
    assert.equal(push.data.message_id, messageId);
    assert.ok(await bobSocket.noPush(300), "the message was delivered twice");
  }

  it("signs every request over the exact bytes sent, with a fresh request id the server echoes", async () => {
    const proxy = await FaultProxy.start(h.httpUrl);
    try {
      const { c } = client(proxy.url);
      const me = await c.me();
      assert.equal(me.user_id, alice.userId);
      assert.equal((await c.user(bob.userId)).full_name, "bob");
      // Non-ASCII, a line separator and quotes: any re-serialisation between signing and sending would break sig.
      const view = await c.sendText({ userId: bob.userId }, 'héllo 🚀 \u2028 "quoted" </script>');
      assert.equal(view.conversation_id, uniqueConversationId(alice.userId, bob.userId));
      await deliveredOnce(view.message_id);

      assert.equal(proxy.requests.length, 3);
      const ids = new Set<string>();
      for (const r of proxy.requests) {
        const requestId = r.headers["x-request-id"] as string;
        assert.ok(isUuid(requestId));
        ids.add(requestId);
        const claims = claimsOf(r.headers.authorization);
        assert.equal(claims.uid, alice.userId);
        assert.equal(claims.sid, alice.sessionId);
        assert.equal(claims.jti, requestId);
        assert.equal(claims.sig, requestSignature(r.method, r.url, r.body));
      }
      assert.equal(ids.size, 3, "each request has its own id");
      assert.equal(proxy.requests[0]!.body.length, 0, "GET sends no body");
    } finally {
      await proxy.close();
    }
  });

  it("signs the URI as sent: re-encoded characters, and without an apiUrl path prefix", async () => {
    // A space goes out as %20; had the raw path been signed, this would be a 401, not a 10002.
    const { c } = client(h.httpUrl);
    await assert.rejects(c.request("GET", "/users/not a uuid"), (e: unknown) => e instanceof BlazeError && e.code === 10002);

    const proxy = await FaultProxy.start(h.httpUrl, () => "forward", { stripPrefix: "/mixin-api" });
    try {
      const prefixed = client(`${proxy.url}/mixin-api/`).c;
      assert.equal((await prefixed.me()).user_id, alice.userId);
      const view = await prefixed.sendText({ userId: bob.userId }, "via a prefix");
      await deliveredOnce(view.message_id);
    } finally {
      await proxy.close();
    }
  });

  it("rejects a response whose X-Request-Id is not the one it sent", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, () => ({ forwardWithHeaders: { "x-request-id": newUuid() } }));
    try {
      const { c, retries } = client(proxy.url);
      await assert.rejects(c.me(), (e: unknown) => e instanceof HttpError && /X-Request-Id mismatch/.test(e.message));
      assert.equal(retries.length, 0);
    } finally {
      await proxy.close();
    }
  });

  it("turns a refused keystore into AuthError, without retrying", async () => {
    const stranger = { ...alice.keystore, session_private_key: generateEd25519().seed.toString("hex") };
    const { c, retries } = client(h.httpUrl, { keystore: stranger });
    await assert.rejects(c.me(), (e: unknown) => e instanceof AuthError && e instanceof BlazeError && e.code === 401);
    assert.equal(retries.length, 0);
  });

  it("turns error envelopes into BlazeError with code and field", async () => {
    const { c, retries } = client(h.httpUrl);
    await assert.rejects(c.user(newUuid()), (e: unknown) => e instanceof BlazeError && !(e instanceof AuthError) && e.code === 10404);
    // Hand-built body that skips compose's validation, so the server is the one refusing it.
    const bad = { category: "PLAIN_LOCATION", payload: Buffer.from('{"latitude":0,"longitude":0}') };
    await assert.rejects(c.send({ userId: bob.userId }, bad), (e: unknown) => e instanceof BlazeError && e.code === 10002 && e.extra?.field === "data");
    assert.equal(retries.length, 0, "4xx-class Blaze errors are final");
    assert.ok(await bobSocket.noPush(100));
  });

  it("reports non-envelope answers as HttpError; retries 5xx but not 4xx", async () => {
    const upstream = await staticServer((_m, url) =>
      url === "/me" ? { status: 404, body: "<html>not here</html>" } : { status: 502, body: "<html>bad gateway</html>" },
    );
    try {
      const { c, retries } = client(upstream.url, { retries: 2 });
      await assert.rejects(c.me(), (e: unknown) => e instanceof HttpError && e.status === 404);
      assert.equal(retries.length, 0);
      await assert.rejects(c.user(bob.userId), (e: unknown) => e instanceof HttpError && e.status === 502);
      assert.equal(retries.length, 2);
    } finally {
      await upstream.close();
    }
  });

  it("retries a send that got a 500 with the same body, and it is delivered once", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, (r, i) => (i === 0 && r.url === "/messages" ? { status: 500, body: "oops" } : "forward"));
    try {
      const { c, retries } = client(proxy.url);
      const view = await c.sendText({ userId: bob.userId }, "after a 500");
      assert.equal(retries.length, 1);
      assert.equal(proxy.count("POST", "/messages"), 2);
      assert.deepEqual(proxy.requests[0]!.body, proxy.requests[1]!.body, "a retry resends the same bytes");
      assert.notEqual(proxy.requests[0]!.headers["x-request-id"], proxy.requests[1]!.headers["x-request-id"]);
      await deliveredOnce(view.message_id);
    } finally {
      await proxy.close();
    }
  });

  it("survives a dropped connection after the server accepted the send: same message_id, one delivery", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, (_r, i) => (i === 0 ? "forward-then-drop" : "forward"));
    try {
      const { c, retries } = client(proxy.url);
      const messageId = newUuid();
      const view = await c.sendText({ userId: bob.userId }, "lost reply", { messageId });
      assert.equal(view.message_id, messageId);
      assert.equal(retries.length, 1);
      assert.equal(proxy.count("POST", "/messages"), 2);
      await deliveredOnce(messageId);
    } finally {
      await proxy.close();
    }
  });

  it("times out a silent attempt and retries it", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, (_r, i) => (i === 0 ? "hang" : "forward"));
    try {
      const { c, retries } = client(proxy.url, { timeoutMs: 600 });
      const view = await c.sendText({ userId: bob.userId }, "after a timeout");
      assert.equal(retries.length, 1);
      assert.ok(retries[0]!.error instanceof TimeoutError);
      await deliveredOnce(view.message_id);
    } finally {
      await proxy.close();
    }
  });

  it("gives up with TimeoutError when every attempt times out", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, () => "hang");
    try {
      const { c, retries } = client(proxy.url, { timeoutMs: 150, retries: 1 });
      await assert.rejects(c.me(), TimeoutError);
      assert.equal(retries.length, 1);
      assert.equal(proxy.requests.length, 2);
    } finally {
      await proxy.close();
    }
  });

  it("retries a GET whose connection was dropped", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, (_r, i) => (i === 0 ? "drop" : "forward"));
    try {
      const { c, retries } = client(proxy.url);
      assert.equal((await c.me()).user_id, alice.userId);
      assert.equal(retries.length, 1);
    } finally {
      await proxy.close();
    }
  });

  it("honours Retry-After on a 429, and gives up at once when it asks too much", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, (_r, i) => (i === 0 ? { status: 429, headers: { "retry-after": "1" } } : "forward"));
    try {
      const { c, retries } = client(proxy.url);
      const started = Date.now();
      const view = await c.sendText({ userId: bob.userId }, "after a 429");
      assert.ok(Date.now() - started >= 950, "waited as asked");
      assert.equal(retries.length, 1);
      assert.equal(retries[0]!.delayMs, 1000);
      await deliveredOnce(view.message_id);

      proxy.script = () => ({ status: 429, headers: { "retry-after": "3600" } });
      const slow = client(proxy.url);
      await assert.rejects(slow.c.me(), (e: unknown) => e instanceof HttpError && e.status === 429);
      assert.equal(slow.retries.length, 0);
    } finally {
      await proxy.close();
    }
  });

  it("never retries non-idempotent calls (POST /attachments, POST /users)", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, (r) => (r.method === "POST" ? { status: 500, body: "" } : "forward"));
    try {
      const { c, retries } = client(proxy.url);
      await assert.rejects(c.upload(Buffer.from("bytes")), (e: unknown) => e instanceof HttpError && e.status === 500);
      await assert.rejects(c.createUser("net user"), (e: unknown) => e instanceof HttpError && e.status === 500);
      assert.equal(proxy.count("POST", "/attachments"), 1);
      assert.equal(proxy.count("POST", "/users"), 1);
      assert.equal(retries.length, 0);
    } finally {
      await proxy.close();
    }
  });

  it("stops at once when the caller aborts", async () => {
    const proxy = await FaultProxy.start(h.httpUrl, () => "hang");
    try {
      const { c, retries } = client(proxy.url);
      const ac = new AbortController();
      const pending = c.request("GET", "/me", undefined, { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(pending, (e: unknown) => e instanceof Error && e.name === "AbortError");
      assert.equal(retries.length, 0);
    } finally {
      await proxy.close();
    }
  });
});

describe("HttpClient against a rate-limited server", () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ rateLimitPerMinute: 2 });
  });
  after(() => h.close());

  it("retries a 429 with backoff, then surfaces it as BlazeError 429", async () => {
    const alice = await h.user("alice");
    const bob = await h.user("bob");
    const retries: RetryEvent[] = [];
    const c = new HttpClient({ keystore: alice.keystore, apiUrl: h.httpUrl, retries: 2, retry: FAST, onRetry: (e) => retries.push(e) });
    // Fixed one-minute windows: a boundary crossed mid-test resets the count, so allow a few sends.
    let limited: unknown;
    for (let i = 0; i < 6 && limited === undefined; i++) {
      await c.send({ userId: bob.userId }, compose.text(`#${i}`)).catch((e: unknown) => (limited = e));
    }
    assert.ok(limited instanceof BlazeError && limited.code === 429, `expected 429, got ${String(limited)}`);
    assert.equal(retries.length, 2);
    assert.ok(retries.every((r) => r.error instanceof BlazeError && r.error.code === 429));
    assert.ok(retries[1]!.delayMs >= retries[0]!.delayMs / 2, "backoff does not shrink");
  });
});

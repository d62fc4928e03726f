import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { newUuid, signToken } from "@openblaze/protocol";
import { Harness, textParams, type TestUser } from "./harness.js";

/**
 * HTTP abuse (RELIABILITY.md §3): every endpoint gets bad JSON, wrong types, huge and deep bodies,
 * path traversal in ids and tokens, and lying Content-Length headers. Signed endpoints answer
 * `202 {"error"}` with a client error code (never 500), blob URLs answer real 4xx statuses, nothing
 * is read or written outside the blob directory, and the server keeps serving.
 */

const CLIENT_ERRORS = new Set([400, 401, 403, 404, 429, 10002, 10404, 20116, 20150]);

/** Raw bytes to the server, no client-side normalisation; resolves with what came back. */
function rawRequest(port: number, data: Buffer | string, opts: { end?: boolean; waitMs?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    const timer = setTimeout(finish, opts.waitMs ?? 1500);
    s.on("connect", () => {
      s.write(data);
      if (opts.end) s.end();
    });
    s.on("data", (b) => chunks.push(b));
    s.on("error", finish);
    s.on("close", finish);
  });
}

/** Every status line in a raw response stream. */
function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

describe("HTTP abuse", () => {
  let h: Harness;
  let port: number;
  let bot: TestUser;
  let user: TestUser;
  let group: string;
  let attachment: { attachment_id: string; upload_url: string; view_url: string };
  const uploaded = randomBytes(2048);

  /** A request signed over exactly these body bytes. */
  async function signed(u: TestUser, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) {
    const raw = body === undefined ? undefined : Buffer.from(body);
    const rid = newUuid();
    const res = await fetch(h.httpUrl + path, {
      method,
      headers: { "content-type": "application/json", "x-request-id": rid, authorization: `Bearer ${signToken(u.creds, { method, uri: path, body: raw ?? "" })}`, ...headers },
      ...(raw !== undefined && { body: raw }),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, rid: res.headers.get("x-request-id"), sent: rid, body: json, text };
  }

  /** 200 {data} or 202 {error: client code}; never a fault; the request id echoed. */
  function wellAnswered(r: Awaited<ReturnType<typeof signed>>, what: string): void {
    assert.equal(r.rid, r.sent, `${what}: X-Request-Id echoed`);
    if (r.status === 200) return assert.ok(r.body && "data" in r.body, `${what}: ${r.text.slice(0, 200)}`);
    assert.equal(r.status, 202, `${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(CLIENT_ERRORS.has(r.body?.error?.code), `${what}: ${r.text.slice(0, 300)}`);
    assert.equal(r.body.error.status, 202);
  }

  before(async () => {
    h = await Harness.start({ maxAttachmentBytes: 256 * 1024 });
    port = Number(new URL(h.httpUrl).port);
    bot = await h.user("bot", true);
    user = await h.user("user");
    const g = await h.http(bot, "POST", "/conversations", { category: "GROUP", name: "g", participants: [{ user_id: user.userId }] });
    group = g.body.data.conversation_id;
    attachment = (await h.http(bot, "POST", "/attachments")).body.data;
    const up = await fetch(attachment.upload_url, { method: "PUT", body: uploaded });
    assert.equal(up.status, 200);
    // A file next to the database that no URL may ever reach.
    await writeFile(join(h.dataDir, "sentinel.txt"), "secret");
  });
  after(async () => h.close());

  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const bodies: [string, () => Buffer | string][] = [
    ["empty", () => ""],
    ["truncated object", () => '{"a":'],
    ["trailing comma", () => "[1,]"],
    ["trailing garbage", () => '{"a":1}garbage'],
    ["single quotes", () => "{'a':1}"],
    ["NUL", () => "\u0000"],
    ["invalid UTF-8", () => Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ["BOM then JSON", () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("{}")])],
    ["null", () => "null"],
    ["number", () => "1"],
    ["huge number", () => "1e999"],
    ["string", () => '"str"'],
    ["true", () => "true"],
    ["empty array", () => "[]"],
    ["empty object", () => "{}"],
    ["[null]", () => "[null]"],
    ["[[]]", () => "[[]]"],
    ["array of strings", () => JSON.stringify(["a", "b"])],
    ["__proto__ pollution", () => '{"__proto__":{"polluted":true},"full_name":"x","category":"GROUP","participants":[{"user_id":"__proto__"}]}'],
    ["constructor pollution", () => '[{"constructor":{"prototype":{"polluted":true}},"message_id":"x"}]'],
    ["deep nesting", () => deep(200_000)],
    ["deep object", () => '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000)],
    ["100k zeros", () => JSON.stringify(new Array(100_000).fill(0))],
    ["1000 junk objects", () => JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ message_id: i, status: [], user_id: {}, conversation_id: null })))],
    [
      "every field the wrong type",
      () =>
        JSON.stringify({
          full_name: [],
          session_secret: 1,
          category: {},
          participants: "x",
          conversation_id: 1,
          message_id: true,
          recipient_id: [],
          data: {},
          status: 0,
          name: null,
          announcement: [],
          user_id: {},
          messages: {},
        }),
    ],
    ["unicode edges", () => JSON.stringify({ full_name: "\ud800\u202e\u0000😀", name: "e\u0301".repeat(1000), category: "GROUP", participants: [] })],
    ["oversized batch", () => JSON.stringify(Array.from({ length: 101 }, () => textParams(group, "", "x")))],
    ["3 MiB string", () => JSON.stringify({ full_name: "x".repeat(3 * 1024 * 1024) })],
  ];

  const endpoints = (): [string, string][] => [
    ["GET", "/me"],
    ["GET", `/users/${user.userId}`],
    ["POST", "/users/fetch"],
    ["POST", "/users"],
    ["POST", "/conversations"],
    ["GET", `/conversations/${group}`],
    ["POST", `/conversations/${group}`],
    ["POST", `/conversations/${group}/participants/ADD`],
    ["POST", `/conversations/${group}/participants/ROLE`],
    ["POST", "/messages"],
    ["POST", "/acknowledgements"],
    ["POST", "/attachments"],
    ["GET", `/attachments/${attachment.attachment_id}`],
  ];

  it("every signed endpoint × bad JSON, wrong types, deep and huge bodies: 200 or a coded 202, never a fault", { timeout: 120_000 }, async () => {
    let n = 0;
    for (const [method, path] of endpoints()) {
      for (const [name, body] of bodies) {
        if (method === "GET" && name !== "empty") continue;
        wellAnswered(await signed(bot, method, path, method === "GET" ? undefined : body()), `${method} ${path} with ${name}`);
        n++;
      }
    }
    assert.ok(n > 200);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    // The bot is still in its group and the group is intact.
    const g = await h.http(bot, "GET", `/conversations/${group}`);
    assert.equal(g.status, 200);
  });

  it("a body over the 4 MiB API limit is refused with a coded error on every POST endpoint", async () => {
    const huge = Buffer.alloc(5 * 1024 * 1024, 0x20);
    for (const [method, path] of endpoints()) {
      if (method !== "POST") continue;
      const r = await signed(bot, method, path, huge);
      wellAnswered(r, `${path} with 5 MiB`);
      assert.equal(r.body.error.code, 400);
    }
  });

  it("path traversal and junk in ids: coded errors, never a file", async () => {
    const ids = [
      "..%2F..%2Fsentinel.txt",
      "..%2f..%2fopenblaze.db",
      "%2e%2e",
      "..",
      "%00",
      `${attachment.attachment_id}%00`,
      `${attachment.attachment_id.toUpperCase()}`,
      "a".repeat(4000),
      "%F0%9F%98%80",
      "%ff%fe",
      "%",
    ];
    for (const id of ids) {
      for (const base of ["/attachments/", "/users/", "/conversations/"]) {
        const path = base + id;
        const raw = await rawRequest(
          port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: r\r\nAuthorization: Bearer ${signToken(bot.creds, { method: "GET", uri: path })}\r\nConnection: close\r\n\r\n`,
        );
        // Always the Blaze envelope with a client code and the request id (the router's own
        // refusals of bad %-escapes and over-long parameters included).
        assert.equal(statuses(raw)[0], 202, `${path}: ${raw.slice(0, 200)}`);
        assert.match(raw, /x-request-id: r\r\n/i);
        assert.doesNotMatch(raw, /secret|SQLite format/);
        assert.ok(CLIENT_ERRORS.has(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)).error.code), raw);
      }
    }
  });

  it("upload and view tokens: traversal, swapped and forged tokens get 4xx and touch no file", async () => {
    const uploadToken = attachment.upload_url.split("/").pop()!;
    const viewToken = attachment.view_url.split("/").pop()!;
    const filesBefore = await readdir(h.dataDir, { recursive: true });
    const dbBefore = createHash("sha256").update(await readFile(join(h.dataDir, "sentinel.txt"))).digest("hex");
    const tokens = [
      "..%2F..%2Fsentinel.txt",
      "..%2Fsentinel.txt",
      "%2e%2e%2f%2e%2e%2fsentinel.txt",
      "../../sentinel.txt",
      "..",
      ".",
      viewToken.slice(0, 2),
      `${viewToken.slice(0, 2)}%2F${viewToken}`,
      `${viewToken}%00`,
      viewToken.toUpperCase(),
      "0".repeat(48),
      "a".repeat(5000),
    ];
    for (const t of [...tokens, viewToken]) {
      // Uploading to a view token, or to anything that is not an upload token.
      const put = await rawRequest(port, `PUT /uploads/${t} HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhacked`);
      const [status] = statuses(put);
      assert.ok(status !== undefined && status >= 400 && status < 500, `PUT /uploads/${t.slice(0, 60)}: ${put.slice(0, 120)}`);
    }
    for (const t of [...tokens, uploadToken]) {
      const get = await rawRequest(port, `GET /blobs/${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const [status] = statuses(get);
      assert.ok(status !== undefined && status >= 400 && status < 500, `GET /blobs/${t.slice(0, 60)}: ${get.slice(0, 120)}`);
      assert.doesNotMatch(get, /secret|SQLite format|hacked/);
    }
    // The real view URL still serves exactly the uploaded bytes; no file appeared or changed.
    const view = await fetch(attachment.view_url);
    assert.ok(Buffer.from(await view.arrayBuffer()).equals(uploaded));
    const filesAfter = await readdir(h.dataDir, { recursive: true });
    assert.deepEqual(
      filesAfter.filter((f) => !f.endsWith("-wal") && !f.endsWith("-shm")).sort(),
      filesBefore.filter((f) => !f.endsWith("-wal") && !f.endsWith("-shm")).sort(),
    );
    assert.equal(createHash("sha256").update(await readFile(join(h.dataDir, "sentinel.txt"))).digest("hex"), dbBefore);
  });

  it("lying Content-Length headers: refused or cut, no fault, and the server keeps serving", async () => {
    const body = JSON.stringify(textParams(group, "", "content length"));
    const auth = `Authorization: Bearer ${signToken(bot.creds, { method: "POST", uri: "/messages", body })}\r\n`;
    const head = (extra: string) => `POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${auth}${extra}`;
    const cases: [string, string, boolean, (s: number[]) => boolean][] = [
      // Longer than the body, then the client stops sending: no reply is owed, no fault either.
      ["longer than the body, then EOF", head(`Content-Length: ${body.length + 100}\r\n\r\n`) + body, true, (s) => s.every((x) => x === 400 || x === 202)],
      // Shorter: the body is cut (sig mismatch: 401), the rest is junk for the parser (400, close).
      ["shorter than the body", head(`Content-Length: ${body.length - 10}\r\n\r\n`) + body, false, (s) => s.length > 0 && s.every((x) => x === 202 || x === 400)],
      ["not a number", head("Content-Length: abc\r\n\r\n") + body, false, (s) => s[0] === 400],
      ["negative", head("Content-Length: -5\r\n\r\n") + body, false, (s) => s[0] === 400],
      ["two different values", head(`Content-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n`) + body, false, (s) => s[0] === 400],
      ["with chunked encoding (smuggling)", head(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n`) + body, false, (s) => s[0] === 400],
      ["a terabyte", head("Content-Length: 1099511627776\r\n\r\n") + body, false, (s) => s[0] === 202 || s[0] === 413],
    ];
    for (const [name, data, end, ok] of cases) {
      const raw = await rawRequest(port, data, { end, waitMs: 1000 });
      const s = statuses(raw);
      assert.ok(ok(s), `${name}: ${JSON.stringify(s)} ${raw.slice(0, 300)}`);
      assert.doesNotMatch(raw, /HTTP\/1\.1 5\d\d/);
    }
    // Uploads that lie: longer than sent then EOF, and over the attachment limit.
    const a = (await h.http(bot, "POST", "/attachments")).body.data;
    const path = new URL(a.upload_url).pathname;
    await rawRequest(port, `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${"x".repeat(1000)}`, { end: true, waitMs: 500 });
    const over = await rawRequest(port, `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024}\r\nConnection: close\r\n\r\n${"x".repeat(1000)}`, { waitMs: 1000 });
    assert.ok([413, 400].includes(statuses(over)[0]!), over.slice(0, 200));
    const view = await fetch(a.view_url);
    assert.equal(view.status, 404, "nothing half-uploaded is served");
    await view.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
    const leftovers = (await readdir(join(h.dataDir, "blobs"), { recursive: true })).filter((f) => f.endsWith(".tmp"));
    assert.deepEqual(leftovers, [], "aborted uploads leave no temp files");
    // Still serving.
    const fine = await h.http(bot, "POST", "/messages", textParams(group, "", "still here"));
    assert.equal(fine.status, 200);
  });
});

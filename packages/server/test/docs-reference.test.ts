/**
 * The reference docs (docs/*.md) against the code: every HTTP route, WebSocket action and metric
 * is documented, nothing documented is missing from the server, and every JSON example parses.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RouteOptions } from "fastify";
import { Actions } from "@openblaze/protocol";
import { FsBlobStore } from "../src/blobs/blob-store.js";
import { LocalBus } from "../src/bus/bus.js";
import { resolveConfig, blobDir, sqlitePath } from "../src/config.js";
import { buildHttpApp } from "../src/http/app.js";
import { installOps } from "../src/http/ops.js";
import { createLogger } from "../src/logging.js";
import { parsePrometheusText } from "../src/metrics-text.js";
import { createServices } from "../src/services.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { Harness } from "./harness.js";

const DOCS = new URL("../../../../docs/", import.meta.url);
const doc = (name: string) => readFileSync(new URL(name, DOCS), "utf8");

/** Every fenced ```json block (or, for blocks of several documents, each line) parses. */
function jsonBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("reference docs match the code", () => {
  let dir = "";
  let routes: { method: string; url: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openblaze-docs-"));
    const web = join(dir, "web");
    await mkdir(join(web, "assets"), { recursive: true });
    await writeFile(join(web, "index.html"), "<html><head></head><body></body></html>");
    // Every optional part on: dev routes and the web chat.
    const config = resolveConfig({ dataDir: dir, dev: true, webDir: web, logLevel: "silent" });
    const store = new SqliteStore({ path: sqlitePath(config) });
    const services = createServices(config, store, new LocalBus(), new FsBlobStore(blobDir(config)));
    const app = buildHttpApp(services, createLogger("silent"));
    const seen: { method: string; url: string }[] = [];
    app.addHook("onRoute", (r: RouteOptions) => {
      for (const method of [r.method].flat()) if (method !== "HEAD") seen.push({ method, url: r.url });
    });
    installOps(app, services.metrics);
    await app.ready();
    await app.close();
    await store.close();
    routes = seen;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("docs/http.md has a section for every HTTP route, and documents no route the server lacks", () => {
    const http = doc("http.md");
    assert.ok(routes.length >= 20, `found ${routes.length} routes`);
    for (const r of routes) {
      const heading = new RegExp(`^### ${r.method} ${r.url.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}( |$)`, "m");
      const combined = new RegExp(`^### GET / and GET /assets/:name$`, "m");
      assert.ok(heading.test(http) || ((r.url === "/" || r.url === "/assets/:name") && combined.test(http)), `${r.method} ${r.url} is documented`);
    }
    const documented = [...http.matchAll(/^### (GET|POST|PUT|DELETE) (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    const served = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const d of documented) assert.ok(served.has(d), `documented ${d} exists`);
  });

  it("docs/websocket.md documents every action", () => {
    const ws = doc("websocket.md");
    for (const action of Object.values(Actions)) {
      assert.match(ws, new RegExp(`^### ${action}( |$)`, "m"), `${action} has a section`);
    }
  });

  it("every JSON example in the docs parses", () => {
    for (const name of ["websocket.md", "http.md", "errors.md", "operations.md"]) {
      for (const block of jsonBlocks(doc(name))) {
        try {
          JSON.parse(block);
        } catch {
          for (const line of block.split("\n").filter((l) => l.trim() !== "")) {
            assert.doesNotThrow(() => JSON.parse(line), `${name}: ${line.slice(0, 80)}`);
          }
        }
      }
    }
  });

  it("docs/operations.md lists exactly the metrics a node exports", async () => {
    const h = await Harness.start();
    let exported: Set<string>;
    try {
      const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
      exported = new Set([...text.matchAll(/^# TYPE (openblaze_\S+) /gm)].map((m) => m[1]!));
      assert.ok(parsePrometheusText(text).length > 0);
    } finally {
      await h.close();
    }
    const ops = doc("operations.md");
    const documented = new Set([...ops.matchAll(/^\| `(openblaze_[a-z_]+)` \|/gm)].map((m) => m[1]!));
    assert.deepEqual([...exported].sort(), [...documented].sort());
  });
});

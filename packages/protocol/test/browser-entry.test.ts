import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { conversationIdFromDigest, conversationIdInput, uniqueConversationId } from "../src/index.js";
import * as browser from "../src/browser.js";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "../src");

/** Every module the compiled browser entry loads, transitively (relative imports only). */
function importGraph(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const code = readFileSync(file, "utf8");
    seen.set(file, code);
    for (const m of code.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) visit(join(dirname(file), spec));
      else seen.set(spec, "");
    }
  };
  visit(join(SRC, entry));
  return seen;
}

describe("browser entry (@openblaze/protocol/browser)", () => {
  it("loads no Node built-in and touches no Buffer", () => {
    const graph = importGraph("browser.js");
    for (const [file, code] of graph) {
      assert.ok(!file.startsWith("node:") && !["crypto", "zlib", "buffer"].includes(file), `browser entry imports ${file}`);
      const withoutComments = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
      assert.ok(!/\bBuffer\b/.test(withoutComments), `${file} uses Buffer`);
    }
    assert.ok(graph.size >= 3);
  });

  it("exports the names a browser client needs", () => {
    assert.equal(browser.Categories.APP_BUTTON_GROUP, "APP_BUTTON_GROUP");
    assert.equal(browser.Actions.LIST_PENDING_MESSAGES, "LIST_PENDING_MESSAGES");
    assert.equal(browser.BROWSER_TOKEN_SUBPROTOCOL_PREFIX, "openblaze.token.");
    assert.equal(browser.ErrorCodes.UNAUTHORIZED, 401);
  });

  it("derives the same conversation id as the Node helper", () => {
    const a = "773e5e77-4107-45c2-b648-8fc722ed77f5";
    const b = "06AED1E3-bd77-4a59-991a-5bb5ae6fbb09";
    const md5 = (s: string) => new Uint8Array(createHash("md5").update(s).digest());
    assert.equal(conversationIdFromDigest(md5(conversationIdInput(a, b))), "313a185c-7322-35c9-8ef5-94ba03459001");
    assert.equal(browser.conversationIdFromDigest(md5(browser.conversationIdInput(b, a))), uniqueConversationId(a, b));
    assert.throws(() => conversationIdFromDigest(new Uint8Array(15)), /16 bytes/);
  });
});

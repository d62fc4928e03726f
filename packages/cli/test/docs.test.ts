/**
 * Generated and hand-written docs against the code: docs/errors.md is exactly what the protocol's
 * ERROR_TABLE renders to, and every `serve` flag, environment variable, setting and command is in
 * the docs.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ERROR_TABLE } from "@openblaze/protocol";
import { DEFAULT_CONFIG } from "@openblaze/server";
import { ERROR_NOTES, renderErrorReference } from "../src/docs/error-reference.js";
import { run } from "./support.js";

const DOCS = new URL("../../../../docs/", import.meta.url);
const SRC = new URL("../../src/", import.meta.url);
const doc = (name: string) => readFileSync(new URL(name, DOCS), "utf8");

/** Long flags of a command, from its --help. */
async function flagsOf(args: string[]): Promise<string[]> {
  const { stdout } = await run([...args, "--help"]);
  return [...new Set([...stdout.matchAll(/(?:^|[\s,])(--[a-z][a-z-]*)/g)].map((m) => m[1]!))].filter((f) => f !== "--help");
}

describe("docs stay in step with the code", () => {
  it("docs/errors.md is generated from ERROR_TABLE (run `npm run docs` after changing the table)", () => {
    assert.equal(doc("errors.md"), renderErrorReference(), "docs/errors.md is out of date: run `npm run docs`");
    for (const code of Object.keys(ERROR_TABLE)) {
      assert.ok((ERROR_NOTES as Record<string, string>)[code]?.length, `code ${code} has a note`);
      assert.match(doc("errors.md"), new RegExp(`^\\| ${code} \\|`, "m"));
    }
  });

  it("every `serve` flag and its environment variable are in docs/configuration.md", async () => {
    const config = doc("configuration.md");
    const flags = await flagsOf(["serve"]);
    assert.ok(flags.length >= 12, `found ${flags.join(" ")}`);
    for (const flag of flags) assert.match(config, new RegExp(`\`${flag}[\` ]`), `${flag} is documented`);
    const source = readFileSync(new URL("config-from-env.ts", SRC), "utf8");
    const envs = new Set([...source.matchAll(/pick\([^)]*"([A-Z_]+)"\)/g)].map((m) => `OPENBLAZE_${m[1]}`));
    for (const m of source.matchAll(/env\.(OPENBLAZE_[A-Z_]+)/g)) envs.add(m[1]!);
    assert.ok(envs.size >= 12, `found ${[...envs].join(" ")}`);
    for (const env of envs) assert.match(config, new RegExp(`\`${env}\``), `${env} is documented`);
  });

  it("every client-side environment variable and every ServerConfig setting is in docs/configuration.md", () => {
    const config = doc("configuration.md");
    const keystore = readFileSync(new URL("commands/keystore-file.ts", SRC), "utf8");
    for (const m of keystore.matchAll(/(OPENBLAZE_[A-Z_]+)/g)) assert.match(config, new RegExp(`\`${m[1]}\``), `${m[1]} is documented`);
    for (const key of Object.keys(DEFAULT_CONFIG)) assert.match(config, new RegExp(`^\\| \`${key}\` \\|`, "m"), `setting ${key} is documented`);
  });

  it("every link between the docs points at an existing page and heading", () => {
    const pages = ["README.md", "websocket.md", "http.md", "errors.md", "configuration.md", "operations.md", "deployment.md"];
    /** GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
    const anchors = (md: string) => {
      const seen = new Map<string, number>();
      const out = new Set<string>();
      for (const m of md.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6} (.+)$/gm)) {
        const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        out.add(n === 0 ? base : `${base}-${n}`);
      }
      return out;
    };
    const byPage = new Map(pages.map((p) => [p, anchors(doc(p))]));
    for (const page of pages) {
      for (const m of doc(page).matchAll(/\]\(([^)\s]*)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target) || target.startsWith("../")) continue;
        const [file, anchor] = target.split("#") as [string, string | undefined];
        const name = file === "" ? page : file;
        assert.ok(byPage.has(name), `${page}: link to missing page ${target}`);
        if (anchor !== undefined) assert.ok(byPage.get(name)!.has(anchor), `${page}: link to missing heading ${target}`);
      }
    }
  });

  it("every command is documented, and the admin commands' flags are in docs/operations.md", async () => {
    const all = ["README.md", "operations.md", "configuration.md"].map((f) => (f === "README.md" ? readFileSync(new URL("../README.md", DOCS), "utf8") : doc(f))).join("\n");
    const { stdout } = await run(["--help"]);
    const commands = [...stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== "help");
    assert.ok(commands.length >= 9, `found ${commands.join(" ")}`);
    for (const c of commands) assert.match(all, new RegExp(`openblaze ${c}\\b`), `openblaze ${c} is documented`);
    const ops = doc("operations.md");
    const admin: string[][] = [
      ["user", "list"],
      ["user", "show"],
      ["user", "disable"],
      ["user", "enable"],
      ["session", "add"],
      ["session", "revoke"],
      ["conversation", "show"],
      ["message", "purge"],
      ["stats"],
    ];
    for (const cmd of admin) {
      assert.match(ops, new RegExp(`openblaze ${cmd.join(" ")}\\b`), `openblaze ${cmd.join(" ")} is in operations.md`);
      for (const flag of await flagsOf(cmd)) {
        if (flag === "--data" || flag === "--database") continue;
        assert.ok(ops.includes(flag), `openblaze ${cmd.join(" ")} ${flag} is in operations.md`);
      }
    }
  });
});

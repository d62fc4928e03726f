/**
 * Regenerates the generated parts of docs/ (today: docs/errors.md from the protocol's ERROR_TABLE).
 * Run with `npm run docs`; packages/cli/test/docs.test.ts fails while they are out of date.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderErrorReference } from "./error-reference.js";

export const DOCS_DIR = fileURLToPath(new URL("../../../../../docs/", import.meta.url));

const path = `${DOCS_DIR}errors.md`;
writeFileSync(path, renderErrorReference());
process.stdout.write(`wrote ${path}\n`);

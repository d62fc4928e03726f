import type { Command } from "commander";
import { HttpClient } from "@openblaze/client";
import { apiUrl, readKeystore } from "./keystore-file.js";

/** `openblaze upload`: stores a file as an attachment and prints what a message needs to use it. */
export function registerUpload(program: Command): void {
  program
    .command("upload")
    .description("upload a file as an attachment; prints its id, view URL, type, size and dimensions")
    .argument("<path>", "file to upload")
    .requiredOption("--keystore <file>", "keystore JSON of the uploader")
    .option("--api <url>", "HTTP API base (env OPENBLAZE_API_URL; default http://127.0.0.1:7777)")
    .option("--mime-type <type>", "override the detected mime type")
    .action(async (path: string, flags: { keystore: string; api?: string; mimeType?: string }) => {
      const client = new HttpClient({ keystore: await readKeystore(flags.keystore), apiUrl: apiUrl(flags.api) });
      const uploaded = await client.upload(path, flags.mimeType === undefined ? {} : { mimeType: flags.mimeType });
      process.stdout.write(`${JSON.stringify(uploaded, null, 2)}\n`);
    });
}

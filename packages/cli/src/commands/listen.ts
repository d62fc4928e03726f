import type { Command } from "commander";
import { BlazeClient, type ReceivedMessage, type MessageReceipt } from "@openblaze/client";
import { blazeUrl, readKeystore } from "./keystore-file.js";

interface ListenFlags {
  keystore: string;
  url?: string;
  json: boolean;
  ackStatus: "READ" | "DELIVERED";
}

function summary(m: ReceivedMessage): string {
  switch (m.kind) {
    case "text":
    case "post":
      return m.payload;
    case "raw":
      return `(${m.reason}) ${m.bytes.length} bytes`;
    default:
      return JSON.stringify(m.payload);
  }
}

function jsonLine(m: ReceivedMessage): string {
  const { bytes: _bytes, view: _view, ...rest } = m as ReceivedMessage & { bytes?: unknown; view?: unknown };
  return JSON.stringify(rest);
}

/** `openblaze listen`: prints every message live and acks it once printed. */
export function registerListen(program: Command): void {
  program
    .command("listen")
    .description("print messages live (pretty, or --json lines) and acknowledge them")
    .requiredOption("--keystore <file>", "keystore JSON of the account to listen as")
    .option("--url <ws-url>", "Blaze WebSocket URL (env OPENBLAZE_URL; default ws://127.0.0.1:7777/)")
    .option("--json", "one JSON object per line instead of pretty output", false)
    .option("--ack-status <status>", "READ or DELIVERED", "READ")
    .action(async (flags: ListenFlags) => {
      if (flags.ackStatus !== "READ" && flags.ackStatus !== "DELIVERED") throw new Error("--ack-status must be READ or DELIVERED");
      const out = (line: string) => process.stdout.write(`${line}\n`);
      const client = new BlazeClient({
        keystore: await readKeystore(flags.keystore),
        url: blazeUrl(flags.url),
        ackStatus: flags.ackStatus,
        handler: {
          message: (m) => out(flags.json ? jsonLine(m) : `${m.createdAt} ${m.conversationId.slice(0, 8)} ${m.userId.slice(0, 8)} ${m.category}: ${summary(m)}`),
          conversation: (m) => out(flags.json ? jsonLine(m) : `${m.createdAt} ${m.conversationId.slice(0, 8)} SYSTEM_CONVERSATION ${m.payload.action} ${m.payload.participant_id}`),
          receipt: (r: MessageReceipt) => out(flags.json ? JSON.stringify({ receipt: r }) : `receipt ${r.messageId} ${r.status}`),
        },
      });
      client.on("error", (error, { phase }) => process.stderr.write(`openblaze listen: ${phase}: ${error.message}\n`));
      client.on("reconnecting", (attempt, delayMs) => process.stderr.write(`openblaze listen: reconnecting (attempt ${attempt}) in ${delayMs} ms\n`));
      client.on("ready", () => process.stderr.write(`openblaze listen: ready\n`));
      const stop = () => void client.close().then(() => process.exit(0));
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await client.connect();
    });
}

#!/usr/bin/env node
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { createServer, redactUrl } from "@openblaze/server";
import { createAccountKeystore } from "./accounts.js";
import { serverConfigFrom, type ServeFlags } from "./config-from-env.js";
import { registerListen } from "./commands/listen.js";
import { registerSend } from "./commands/send.js";
import { registerUpload } from "./commands/upload.js";
import { registerConversationAdmin } from "./commands/conversation-admin.js";
import { registerMessageAdmin } from "./commands/message-admin.js";
import { registerSessionAdmin } from "./commands/session-admin.js";
import { registerStats } from "./commands/stats.js";
import { registerUserAdmin } from "./commands/user-admin.js";

const program = new Command()
  .name("openblaze")
  .description("Open, self-hostable Mixin Blaze server: WebSocket gateway, HTTP API, storage")
  .showHelpAfterError();

program
  .command("serve")
  .description("run the server (embedded SQLite under --data, or PostgreSQL + Redis for several nodes)")
  .option("--host <host>", "interface to listen on (env OPENBLAZE_HOST)", undefined)
  .option("--port <port>", "port for HTTP and WebSocket; 0 picks one (env OPENBLAZE_PORT)")
  .option("--data <dir>", "data directory for the database and attachments (env OPENBLAZE_DATA)")
  .option("--database <url>", "sqlite (default) or postgres://user@host:5432/db[?schema=NAME][&pool=N] (env OPENBLAZE_DATABASE)")
  .option("--bus <url>", "local (default) or redis://host:6379[/db][?prefix=P] to run several nodes (env OPENBLAZE_BUS)")
  .option("--public-url <url>", "base URL for attachment links (default: from each request's Host)")
  .option("--compression <mode>", "outbound frames: gzip, gzip:1..gzip:9, or stored (env OPENBLAZE_COMPRESSION)")
  .option("--max-buttons <n>", "APP_BUTTON_GROUP button limit, 1..18 (default 6)")
  .option("--web-dir <dir>", "built web chat served at / (default: the bundled one; none = off) (env OPENBLAZE_WEB_DIR)")
  .option("--dev", "development mode: anyone may create an account, e.g. from the web chat (env OPENBLAZE_DEV=1)")
  .option("--drain-delay <ms>", "on SIGTERM, answer /readyz 503 this long before closing sockets (env OPENBLAZE_DRAIN_DELAY_MS; default 0)")
  .addOption(new Option("--log-level <level>", "log level (env OPENBLAZE_LOG_LEVEL)").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
  .action(async (flags: ServeFlags) => {
    const server = createServer(serverConfigFrom(flags));
    const addr = await server.start();
    process.stdout.write(
      `openblaze listening on ${addr.httpUrl} (WebSocket ${addr.wsUrl})\n` +
        `data in ${server.config.dataDir}` +
        (server.config.database === "sqlite" ? "" : ` (database ${redactUrl(server.config.database)}, bus ${redactUrl(server.config.bus)})`) +
        "\n" +
        (server.config.webDir && existsSync(join(server.config.webDir, "index.html")) ? `web chat at ${addr.httpUrl}/\n` : "") +
        (server.config.dev ? "dev mode: anyone may create an account (POST /dev/signup)\n" : ""),
    );
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.log.info({ signal }, "shutting down");
      server.stop().then(
        () => process.exit(0),
        (err) => {
          server.log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });

const user = program.command("user").description("manage accounts");
user
  .command("create")
  .description("create a user (or --bot) and print its keystore JSON, in the official SDKs' format")
  .requiredOption("--name <name>", "full name")
  .option("--bot", "create a bot (app) account", false)
  .option("--data <dir>", "data directory of the server (env OPENBLAZE_DATA)")
  .option("--database <url>", "the server's database: sqlite (under --data) or postgres://… (env OPENBLAZE_DATABASE)")
  .action(async (flags: { name: string; bot: boolean; data?: string; database?: string }) => {
    const keystore = await createAccountKeystore(
      { dataDir: flags.data ?? process.env.OPENBLAZE_DATA, database: flags.database ?? process.env.OPENBLAZE_DATABASE },
      flags.name,
      flags.bot,
    );
    process.stdout.write(`${JSON.stringify(keystore, null, 2)}\n`);
  });

registerListen(program);
registerSend(program);
registerUpload(program);
registerUserAdmin(user);
registerSessionAdmin(program);
registerConversationAdmin(program);
registerMessageAdmin(program);
registerStats(program);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`openblaze: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

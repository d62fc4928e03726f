import type { Command } from "commander";
import { isoMicros, out, parseDuration, storeOptions, withStore, type StoreFlags } from "./admin-store.js";

/** `openblaze message purge --older-than DURATION`. */
export function registerMessageAdmin(program: Command): void {
  const message = program.command("message").description("manage stored messages");
  storeOptions(
    message
      .command("purge")
      .description("delete messages accepted before a cutoff, delivered or not, with their mailbox rows and statuses (the server does this itself after 7 days)")
      .requiredOption("--older-than <duration>", "age cutoff: 90s, 30m, 12h, 7d, 2w, 1d12h…"),
  ).action(async (flags: StoreFlags & { olderThan: string }) => {
    const ms = parseDuration(flags.olderThan);
    const before = (Date.now() - ms) * 1000;
    const rows = await withStore(flags, (store) => store.expire(before));
    out(`purged messages accepted before ${isoMicros(before)}: ${rows} undelivered mailbox row${rows === 1 ? "" : "s"} dropped`);
  });
}

import type { Command } from "commander";
import { UserService } from "@openblaze/server";
import { out, storeOptions, withStore, type StoreFlags } from "./admin-store.js";

/** `openblaze session add|revoke`: rotate a bot's (or user's) key. */
export function registerSessionAdmin(program: Command): void {
  const session = program.command("session").description("rotate keys: add a session, revoke a session");

  storeOptions(
    session
      .command("add")
      .description("add a session with a new key to an existing user and print its keystore JSON (the old sessions keep working until revoked)")
      .requiredOption("--user <user-id>", "the user or bot"),
  ).action(async (flags: StoreFlags & { user: string }) => {
    const keystore = await withStore(flags, async (store) => {
      if (!(await store.getUser(flags.user))) throw new Error(`no user ${flags.user}`);
      const users = new UserService(store);
      return users.keystore(await users.addSession(flags.user));
    });
    out(JSON.stringify(keystore, null, 2));
  });

  storeOptions(
    session
      .command("revoke")
      .description("revoke a session: its tokens are refused at once and its open sockets closed, on every node; its undelivered mailbox is dropped")
      .argument("<session-id>"),
  ).action(async (sessionId: string, flags: StoreFlags) => {
    const revoked = await withStore(flags, async (store) => {
      const s = await store.revokeSession(sessionId);
      if (!s) throw new Error(`no session ${sessionId}`);
      return { revoked: s, left: (await store.listSessions([s.userId])).length };
    });
    out(`session ${sessionId} of user ${revoked.revoked.userId} revoked (${revoked.left} session${revoked.left === 1 ? "" : "s"} left)`);
  });
}

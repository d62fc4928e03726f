import type { Command } from "commander";
import type { Store, User } from "@openblaze/server";
import { isoMicros, out, printJson, storeOptions, table, withStore, type StoreFlags } from "./admin-store.js";

function userJson(u: User) {
  return {
    user_id: u.userId,
    identity_number: u.identityNumber,
    full_name: u.fullName,
    is_bot: u.isBot,
    owner_id: u.ownerId,
    disabled: u.disabled,
    created_at: isoMicros(u.createdAt),
  };
}

async function requireUser(store: Store, userId: string): Promise<User> {
  const user = await store.getUser(userId);
  if (!user) throw new Error(`no user ${userId}`);
  return user;
}

/** `openblaze user list|show|disable|enable` (`user create` lives in main.ts). */
export function registerUserAdmin(user: Command): void {
  storeOptions(
    user
      .command("list")
      .description("list users and bots, oldest first")
      .option("--limit <n>", "at most this many", "100")
      .option("--offset <n>", "skip this many", "0")
      .option("--json", "JSON instead of a table", false),
  ).action(async (flags: StoreFlags & { limit: string; offset: string }) => {
    const limit = Number(flags.limit);
    const offset = Number(flags.offset);
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) throw new Error("--limit must be ≥ 1 and --offset ≥ 0");
    const users = await withStore(flags, (store) => store.listUsers(limit, offset));
    if (flags.json) return printJson(users.map(userJson));
    if (users.length === 0) return out("no users");
    out(
      table([
        ["USER_ID", "IDENTITY", "KIND", "STATE", "CREATED", "NAME"],
        ...users.map((u) => [u.userId, u.identityNumber, u.isBot ? "bot" : "user", u.disabled ? "disabled" : "active", isoMicros(u.createdAt), u.fullName]),
      ]),
    );
  });

  storeOptions(
    user
      .command("show")
      .description("one user: account, sessions, messages waiting in its mailbox")
      .argument("<user-id>")
      .option("--json", "JSON output", false),
  ).action(async (userId: string, flags: StoreFlags) => {
    const shown = await withStore(flags, async (store) => {
      const u = await requireUser(store, userId);
      const sessions = await store.listSessions([u.userId]);
      return { ...userJson(u), pending_messages: await store.pendingCount(u.userId), sessions: sessions.map((s) => ({ session_id: s.sessionId, public_key: s.publicKey.toString("base64url"), created_at: isoMicros(s.createdAt) })) };
    });
    if (flags.json) return printJson(shown);
    out(
      table([
        ["user_id", shown.user_id],
        ["identity_number", shown.identity_number],
        ["full_name", shown.full_name],
        ["kind", shown.is_bot ? "bot" : shown.owner_id ? `network user of ${shown.owner_id}` : "user"],
        ["state", shown.disabled ? "disabled" : "active"],
        ["created_at", shown.created_at],
        ["pending_messages", String(shown.pending_messages)],
      ]),
    );
    out();
    out(shown.sessions.length === 0 ? "no sessions" : table([["SESSION_ID", "CREATED", "PUBLIC_KEY"], ...shown.sessions.map((s) => [s.session_id, s.created_at, s.public_key])]));
  });

  for (const [name, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    storeOptions(
      user
        .command(name)
        .description(
          disabled
            ? "disable a user: its tokens are refused (401) and its open sockets closed, on every node"
            : "enable a disabled user again (its existing sessions work again)",
        )
        .argument("<user-id>"),
    ).action(async (userId: string, flags: StoreFlags) => {
      await withStore(flags, async (store) => {
        await requireUser(store, userId);
        await store.setUserDisabled(userId, disabled);
      });
      out(`user ${userId} ${disabled ? "disabled" : "enabled"}`);
    });
  }
}

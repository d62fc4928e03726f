import type { Command } from "commander";
import { isoMicros, out, printJson, storeOptions, table, withStore, type StoreFlags } from "./admin-store.js";

/** `openblaze conversation show`. */
export function registerConversationAdmin(program: Command): void {
  const conversation = program.command("conversation").description("inspect conversations");
  storeOptions(
    conversation
      .command("show")
      .description("one conversation: category, name, participants with their roles")
      .argument("<conversation-id>")
      .option("--json", "JSON output", false),
  ).action(async (conversationId: string, flags: StoreFlags) => {
    const shown = await withStore(flags, async (store) => {
      const c = await store.getConversation(conversationId);
      if (!c) throw new Error(`no conversation ${conversationId}`);
      const participants = await store.listParticipants(conversationId);
      const users = new Map((await store.getUsers(participants.map((p) => p.userId))).map((u) => [u.userId, u]));
      const sessions = await store.listSessions(participants.map((p) => p.userId));
      return {
        conversation_id: c.conversationId,
        category: c.category,
        name: c.name,
        announcement: c.announcement,
        creator_id: c.creatorId,
        code_id: c.codeId,
        created_at: isoMicros(c.createdAt),
        participants: participants.map((p) => ({
          user_id: p.userId,
          full_name: users.get(p.userId)?.fullName ?? "",
          role: p.role,
          sessions: sessions.filter((s) => s.userId === p.userId).length,
          joined_at: isoMicros(p.createdAt),
        })),
      };
    });
    if (flags.json) return printJson(shown);
    out(
      table([
        ["conversation_id", shown.conversation_id],
        ["category", shown.category],
        ["name", shown.name],
        ["announcement", shown.announcement],
        ["creator_id", shown.creator_id],
        ["created_at", shown.created_at],
        ["participants", String(shown.participants.length)],
      ]),
    );
    out();
    out(
      table([
        ["USER_ID", "ROLE", "SESSIONS", "JOINED", "NAME"],
        ...shown.participants.map((p) => [p.user_id, p.role || "MEMBER", String(p.sessions), p.joined_at, p.full_name]),
      ]),
    );
  });
}

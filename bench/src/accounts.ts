/** Accounts and conversations written straight into a data directory before the server starts. */
import { randomBytes, randomUUID } from "node:crypto";
import { SqliteStore, UserService, sqlitePath } from "@openblaze/server";
import { uniqueConversationId } from "@openblaze/protocol";
import type { SockSpec } from "./protocol.js";

export interface Account {
  userId: string;
  sessionId: string;
  seed: string;
}

export interface Population {
  accounts: Account[];
  groups: { conversationId: string; creator: Account; members: Account[] }[];
}

/**
 * For the server: real accounts via UserService.createAccount (one transaction for all of them),
 * and group conversations via the store. For the relay: random ids (it checks nothing).
 */
export async function populate(dataDir: string | undefined, count: number, groups: { size: number }[] = []): Promise<Population> {
  if (!dataDir) {
    const accounts = Array.from({ length: count }, () => ({ userId: randomUUID(), sessionId: randomUUID(), seed: randomBytes(32).toString("hex") }));
    return { accounts, groups: groups.map((g) => ({ conversationId: randomUUID(), creator: accounts[0]!, members: accounts.slice(1, 1 + g.size) })) };
  }
  const store = new SqliteStore({ path: sqlitePath({ dataDir }) });
  try {
    const users = new UserService(store);
    const accounts: Account[] = [];
    store.db.exec("BEGIN");
    for (let i = 0; i < count; i++) {
      const a = await users.createAccount(`bench user ${i}`, false);
      accounts.push({ userId: a.user.userId, sessionId: a.sessionId, seed: a.seed!.toString("hex") });
    }
    store.db.exec("COMMIT");
    const made: Population["groups"] = [];
    for (const g of groups) {
      const conversationId = randomUUID();
      const creator = accounts[0]!;
      const members = accounts.slice(1, 1 + g.size);
      await store.createConversation(
        { conversationId, category: "GROUP", creatorId: creator.userId, name: "bench group", announcement: "", codeId: randomUUID() },
        [{ userId: creator.userId, role: "OWNER" }, ...members.map((m) => ({ userId: m.userId, role: "" as const }))],
      );
      made.push({ conversationId, creator, members });
    }
    return { accounts, groups: made };
  } finally {
    await store.close();
  }
}

/** Socket i talks to socket i^1 (pairs stay inside one load-generator process). */
export function pairSpecs(accounts: readonly Account[]): SockSpec[] {
  return accounts.map((a, i) => {
    const peer = accounts[i ^ 1]!;
    return { ...a, peer: peer.userId, conv: uniqueConversationId(a.userId, peer.userId) };
  });
}

export function destOf(from: Account, to: Account): { peer: string; conv: string } {
  return { peer: to.userId, conv: uniqueConversationId(from.userId, to.userId) };
}

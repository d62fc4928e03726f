import type { Keystore } from "@openblaze/protocol";
import { UserService, openStore, resolveConfig, type ServerConfig } from "@openblaze/server";

/**
 * Creates a user or bot straight in the server's database (safe while servers run on it: SQLite WAL
 * with a busy timeout, or PostgreSQL) and returns a keystore in the official SDKs' format.
 */
export async function createAccountKeystore(
  where: { dataDir?: string | undefined; database?: string | undefined },
  name: string,
  bot: boolean,
): Promise<Keystore> {
  const partial: Partial<ServerConfig> = {};
  if (where.dataDir !== undefined) partial.dataDir = where.dataDir;
  if (where.database !== undefined) partial.database = where.database;
  const store = openStore(resolveConfig(partial));
  try {
    await store.migrate();
    const users = new UserService(store);
    // Server-generated key pair: the keystore always carries session_private_key.
    return (await users.keystore(await users.createAccount(name, bot))) as Keystore;
  } finally {
    await store.close();
  }
}

import { generateEd25519, privateKeyFromSeed, rawPublicKey, type Keystore } from "@openblaze/protocol";
import { UserService, openStore, resolveConfig, type ServerConfig } from "@openblaze/server";

const SERVER_KEY = "server_key_seed";

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
    const account = await new UserService(store).createAccount(name, bot);
    // Official keystores carry the server's public key (PIN/TIP encryption upstream); ours is stable per data dir.
    const serverSeed = await store.setMetaIfAbsent(SERVER_KEY, generateEd25519().seed.toString("hex"));
    return {
      app_id: account.user.userId,
      session_id: account.sessionId,
      server_public_key: rawPublicKey(privateKeyFromSeed(Buffer.from(serverSeed, "hex"))).toString("hex"),
      session_private_key: account.seed!.toString("hex"),
    };
  } finally {
    await store.close();
  }
}

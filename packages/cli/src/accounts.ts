import { generateEd25519, privateKeyFromSeed, rawPublicKey, type Keystore } from "@openblaze/protocol";
import { SqliteStore, UserService, resolveConfig, sqlitePath } from "@openblaze/server";

const SERVER_KEY = "server_key_seed";

/**
 * Creates a user or bot straight in the data directory's database (safe while a server runs on
 * it: SQLite WAL with a busy timeout) and returns a keystore in the official SDKs' format.
 */
export async function createAccountKeystore(dataDir: string | undefined, name: string, bot: boolean): Promise<Keystore> {
  const config = resolveConfig(dataDir === undefined ? {} : { dataDir });
  const store = new SqliteStore({ path: sqlitePath(config) });
  try {
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

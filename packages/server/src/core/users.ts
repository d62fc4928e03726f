import { BlazeError, ErrorCodes, decodeBase64Lenient, generateEd25519, invalidField, isUuid, newUuid, privateKeyFromSeed, rawPublicKey, type Keystore } from "@openblaze/protocol";
import type { Store, User } from "../store/store.js";
import type { Identity } from "./identity.js";

/** A Keystore whose private key is absent when the client generated it (and kept it). */
export type AccountKeystore = Omit<Keystore, "session_private_key"> & { session_private_key?: string };

export interface CreatedAccount {
  user: User;
  sessionId: string;
  /** Only when the server generated the key pair (CLI accounts). */
  seed?: Buffer;
  publicKey: Buffer;
}

const MAX_NAME = 128;

function requireName(v: unknown): string {
  if (typeof v !== "string" || v.trim() === "" || [...v].length > MAX_NAME) {
    throw invalidField("full_name", `full_name must be 1..${MAX_NAME} characters`);
  }
  return v;
}

function requireSessionSecret(v: unknown): Buffer {
  if (typeof v !== "string") throw invalidField("session_secret", "session_secret is required");
  const publicKey = decodeBase64Lenient(v, "session_secret");
  if (publicKey.length !== 32) throw invalidField("session_secret", "session_secret must be a base64url Ed25519 public key");
  return publicKey;
}

/** Meta key of the server's Ed25519 seed, whose public half official keystores carry (the CLI's too). */
const SERVER_KEY_META = "server_key_seed";

export class UserService {
  constructor(private readonly store: Store) {}

  async me(who: Identity): Promise<User> {
    const user = await this.store.getUser(who.userId);
    if (!user) throw new BlazeError(ErrorCodes.UNAUTHORIZED, { reason: "account no longer exists" });
    return user;
  }

  async get(userId: string): Promise<User> {
    if (!isUuid(userId)) throw invalidField("user_id", "user_id is not a valid uuid");
    const user = await this.store.getUser(userId);
    if (!user) throw new BlazeError(ErrorCodes.USER_NOT_FOUND);
    return user;
  }

  /** POST /users/fetch: unknown ids are skipped silently, as on the real service. */
  async fetch(ids: unknown): Promise<User[]> {
    if (!Array.isArray(ids)) throw invalidField("body", "body must be an array of user ids");
    if (ids.length > 100) throw invalidField("body", "at most 100 user ids");
    return this.store.getUsers([...new Set(ids.filter(isUuid))]);
  }

  /** Accounts made by the operator (CLI): the server generates the session key. */
  async createAccount(fullName: string, isBot: boolean): Promise<CreatedAccount> {
    const keys = generateEd25519();
    const sessionId = newUuid();
    const user = await this.store.createUser(
      { userId: newUuid(), fullName: requireName(fullName), isBot, ownerId: "" },
      { sessionId, publicKey: keys.publicKey },
    );
    return { user, sessionId, seed: keys.seed, publicKey: keys.publicKey };
  }

  /** POST /users: a bot creates a network user whose key it holds (protocol.md decision 15). */
  async createNetworkUser(who: Identity, body: unknown): Promise<CreatedAccount> {
    const caller = await this.me(who);
    if (!caller.isBot) throw new BlazeError(ErrorCodes.FORBIDDEN, { reason: "only bots can create network users" });
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const fullName = requireName(b.full_name);
    const publicKey = requireSessionSecret(b.session_secret);
    const sessionId = newUuid();
    const user = await this.store.createUser({ userId: newUuid(), fullName, isBot: false, ownerId: who.userId }, { sessionId, publicKey });
    return { user, sessionId, publicKey };
  }

  /**
   * Self-signup, offered only in dev mode (POST /dev/signup). With `session_secret` (a base64url
   * Ed25519 public key) the private key never leaves the caller; without it the server makes one.
   */
  async signup(body: unknown): Promise<CreatedAccount> {
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const fullName = requireName(b.full_name);
    if (b.session_secret === undefined || b.session_secret === null) return this.createAccount(fullName, false);
    const publicKey = requireSessionSecret(b.session_secret);
    const sessionId = newUuid();
    const user = await this.store.createUser({ userId: newUuid(), fullName, isBot: false, ownerId: "" }, { sessionId, publicKey });
    return { user, sessionId, publicKey };
  }

  /**
   * Key rotation (operator, CLI `session add`): a new session with a server-generated key for an
   * existing user. The old sessions keep working until revoked.
   */
  async addSession(userId: string): Promise<CreatedAccount> {
    const user = await this.store.getUser(userId);
    if (!user) throw new BlazeError(ErrorCodes.USER_NOT_FOUND, { field: "user_id", reason: `no user ${userId}` });
    const keys = generateEd25519();
    const session = await this.store.addSession(userId, { sessionId: newUuid(), publicKey: keys.publicKey });
    if (!session) throw new BlazeError(ErrorCodes.USER_NOT_FOUND, { field: "user_id", reason: `no user ${userId}` });
    return { user, sessionId: session.sessionId, seed: keys.seed, publicKey: keys.publicKey };
  }

  /** Hex public key of the server's own Ed25519 key (made once per database), for keystores. */
  /**
   * The keystore in the official SDKs' format for a new account or session. It carries
   * session_private_key only when the server generated the key pair.
   */
  async keystore(account: CreatedAccount): Promise<AccountKeystore> {
    const keystore: AccountKeystore = {
      app_id: account.user.userId,
      session_id: account.sessionId,
      server_public_key: await this.serverPublicKey(),
    };
    if (account.seed) keystore.session_private_key = account.seed.toString("hex");
    return keystore;
  }

  async serverPublicKey(): Promise<string> {
    const seed = await this.store.setMetaIfAbsent(SERVER_KEY_META, generateEd25519().seed.toString("hex"));
    return rawPublicKey(privateKeyFromSeed(Buffer.from(seed, "hex"))).toString("hex");
  }
}

import { BlazeError, ErrorCodes, decodeBase64Lenient, generateEd25519, invalidField, isUuid, newUuid } from "@openblaze/protocol";
import type { Store, User } from "../store/store.js";
import type { Identity } from "./identity.js";

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
    if (typeof b.session_secret !== "string") throw invalidField("session_secret", "session_secret is required");
    const publicKey = decodeBase64Lenient(b.session_secret, "session_secret");
    if (publicKey.length !== 32) throw invalidField("session_secret", "session_secret must be a base64url Ed25519 public key");
    const sessionId = newUuid();
    const user = await this.store.createUser({ userId: newUuid(), fullName, isBot: false, ownerId: who.userId }, { sessionId, publicKey });
    return { user, sessionId, publicKey };
  }
}

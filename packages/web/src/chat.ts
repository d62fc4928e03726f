import { Categories, MessageStatus, STATUS_RANK, type MessageView } from "@openblaze/protocol/browser";
import { BlazeSocket, NotConnectedError, type ConnectionState } from "./lib/blaze.js";
import { fromBase64, fromUtf8, toBase64, utf8 } from "./lib/bytes.js";
import { isUuid, newUuid, uniqueConversationId } from "./lib/crypto.js";
import { deleteDb, openDb, type LocalDb } from "./lib/db.js";
import { Api, ApiError, type ConversationView, type ParticipantView, type UserView } from "./lib/http.js";
import { forgetCredentials, type Credentials } from "./lib/keystore.js";

/** Wire statuses plus the two only this client knows. */
export type LocalStatus = MessageStatus | "SENDING" | "FAILED";

export interface LocalMessage {
  message_id: string;
  conversation_id: string;
  /** Who the message is shown as from: the represented user when a bot represents someone. */
  user_id: string;
  category: string;
  /** Payload, standard base64. */
  data: string;
  status: LocalStatus;
  created_at: string;
  quote_message_id: string;
  mine: boolean;
  /** Received messages: a READ ack has been queued. */
  read_acked?: boolean;
  recalled?: boolean;
  /** Why a send failed, shown beside the retry button. */
  error?: string;
}

export interface LocalConversation {
  conversation_id: string;
  category: "CONTACT" | "GROUP";
  name: string;
  announcement: string;
  creator_id: string;
  participants: ParticipantView[];
  /** CONTACT: the other party. */
  peer_id: string;
  last_at: string;
  unread: number;
  /** Details fetched from the server at least once. */
  synced: boolean;
  /** No longer a participant (removed or left). */
  left?: boolean;
}

export interface LocalUser {
  user_id: string;
  full_name: string;
  identity_number: string;
  is_bot: boolean;
}

const RANK: Record<LocalStatus, number> = { FAILED: -2, SENDING: -1, ...STATUS_RANK };

export function decodePayload(m: Pick<LocalMessage, "data">): Uint8Array {
  try {
    return fromBase64(m.data);
  } catch {
    return new Uint8Array(0);
  }
}

export function payloadText(m: Pick<LocalMessage, "data">): string {
  return fromUtf8(decodePayload(m));
}

export function payloadJson<T>(m: Pick<LocalMessage, "data">): T | undefined {
  try {
    return JSON.parse(payloadText(m)) as T;
  } catch {
    return undefined;
  }
}

/** Categories the list shows as a bubble (control messages are handled, not shown). */
const HIDDEN = new Set<string>([Categories.PLAIN_JSON, Categories.MESSAGE_RECALL]);

/**
 * The signed-in account: local history, the socket, and every action the UI offers. Components
 * subscribe and re-render on `version` changes.
 */
export class Chat {
  me: LocalUser | undefined;
  readonly users = new Map<string, LocalUser>();
  readonly conversations = new Map<string, LocalConversation>();
  private readonly byConversation = new Map<string, LocalMessage[]>();
  private readonly byId = new Map<string, LocalMessage>();
  private readonly attachmentUrls = new Map<string, Promise<string>>();
  private readonly fetchingUsers = new Set<string>();
  private readonly fetchingConversations = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private db!: LocalDb;
  readonly api: Api;
  readonly socket: BlazeSocket;
  selected: string | undefined;
  connection: ConnectionState = "offline";
  toast: string | undefined;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  version = 0;

  constructor(
    readonly creds: Credentials,
    baseUrl: string,
    wsUrl: string,
  ) {
    this.api = new Api(baseUrl, creds);
    this.socket = new BlazeSocket(wsUrl, creds, {
      onMessage: (v) => this.onMessage(v),
      onReceipt: (v) => this.onReceipt(v),
      onState: (s) => {
        this.connection = s;
        if (s === "online") this.flushOutbox();
        this.emit();
      },
    });
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  notify(text: string): void {
    this.toast = text;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      this.toast = undefined;
      this.emit();
    }, 4000);
    this.emit();
  }

  /** Loads history, checks the keystore against /me, then connects. Throws ApiError 401 on a bad key. */
  async start(): Promise<void> {
    this.db = await openDb(this.creds.userId);
    const [users, conversations, messages] = await Promise.all([
      this.db.all<LocalUser>("users"),
      this.db.all<LocalConversation>("conversations"),
      this.db.all<LocalMessage>("messages"),
    ]);
    for (const u of users) this.users.set(u.user_id, u);
    for (const c of conversations) this.conversations.set(c.conversation_id, c);
    for (const m of messages) this.index(m);
    for (const list of this.byConversation.values()) list.sort(byTime);
    const me = await this.api.me();
    this.me = this.putUser(me);
    this.socket.start();
    document.addEventListener("visibilitychange", this.onVisible);
    for (const c of this.conversations.values()) if (!c.synced) void this.syncConversation(c.conversation_id);
    this.emit();
  }

  stop(): void {
    document.removeEventListener("visibilitychange", this.onVisible);
    this.socket.stop();
  }

  /** Coming back to the tab reads what arrived in the open conversation meanwhile. */
  private readonly onVisible = () => {
    if (this.selected) this.markRead(this.selected);
  };

  /** Signs out: forgets the keystore and this account's history in this browser. */
  signOut(): void {
    this.stop();
    forgetCredentials();
    deleteDb(this.creds.userId);
  }

  // --- reading -------------------------------------------------------------------------------

  conversationList(): LocalConversation[] {
    return [...this.conversations.values()].sort((a, b) => (a.last_at < b.last_at ? 1 : a.last_at > b.last_at ? -1 : 0));
  }

  messages(conversationId: string): LocalMessage[] {
    return this.byConversation.get(conversationId) ?? [];
  }

  message(id: string): LocalMessage | undefined {
    return this.byId.get(id);
  }

  lastMessage(conversationId: string): LocalMessage | undefined {
    const list = this.messages(conversationId);
    return list[list.length - 1];
  }

  userName(userId: string): string {
    if (userId === this.me?.user_id) return "You";
    return this.users.get(userId)?.full_name || `${userId.slice(0, 8)}…`;
  }

  title(c: LocalConversation): string {
    if (c.category === "GROUP") return c.name || "Unnamed group";
    return this.users.get(c.peer_id)?.full_name || `${c.peer_id.slice(0, 8)}…`;
  }

  myRole(c: LocalConversation): ParticipantView["role"] | undefined {
    return c.participants.find((p) => p.user_id === this.me?.user_id)?.role;
  }

  /** view_url of an attachment, fetched once per page. */
  attachmentUrl(attachmentId: string): Promise<string> {
    let p = this.attachmentUrls.get(attachmentId);
    if (!p) {
      p = this.api.attachment(attachmentId).then((a) => a.view_url);
      p.catch(() => this.attachmentUrls.delete(attachmentId));
      this.attachmentUrls.set(attachmentId, p);
    }
    return p;
  }

  // --- inbound -------------------------------------------------------------------------------

  private index(m: LocalMessage): void {
    this.byId.set(m.message_id, m);
    let list = this.byConversation.get(m.conversation_id);
    if (!list) this.byConversation.set(m.conversation_id, (list = []));
    list.push(m);
  }

  private insert(m: LocalMessage): void {
    this.index(m);
    const list = this.byConversation.get(m.conversation_id)!;
    // Usually already the newest; otherwise keep the list in time order.
    if (list.length > 1 && byTime(list[list.length - 2]!, m) > 0) list.sort(byTime);
    this.db.put("messages", m);
  }

  private isVisible(conversationId: string): boolean {
    return this.selected === conversationId && document.visibilityState === "visible";
  }

  private onMessage(v: MessageView): void {
    const known = this.byId.get(v.message_id);
    if (known) {
      // Pushed again (not acked in time, or a reconnect): ack again, show nothing new.
      this.socket.ack(v.message_id, known.read_acked ? "READ" : "DELIVERED");
      return;
    }
    if (v.category === Categories.PLAIN_JSON) return this.socket.ack(v.message_id, "READ");
    if (v.category === Categories.MESSAGE_RECALL) {
      const target = this.byId.get(payloadJson<{ message_id?: string }>(v)?.message_id ?? "");
      if (target && !target.mine && target.user_id === (v.representative_id || v.user_id)) {
        target.recalled = true;
        target.data = "";
        this.db.put("messages", target);
        this.emit();
      }
      return this.socket.ack(v.message_id, "READ");
    }
    const mine = v.user_id === this.creds.userId;
    const m: LocalMessage = {
      message_id: v.message_id,
      conversation_id: v.conversation_id,
      user_id: v.representative_id || v.user_id,
      category: v.category,
      data: v.data,
      status: mine ? "SENT" : (v.status as LocalStatus),
      created_at: v.created_at,
      quote_message_id: v.quote_message_id,
      mine,
    };
    const c = this.ensureConversation(v.conversation_id, v.user_id);
    this.ensureUsers([m.user_id]);
    const shown = !HIDDEN.has(m.category);
    if (this.isVisible(c.conversation_id) || mine || !shown) {
      m.read_acked = true;
      this.socket.ack(m.message_id, "READ");
    } else {
      this.socket.ack(m.message_id, "DELIVERED");
      c.unread++;
    }
    if (m.created_at > c.last_at) c.last_at = m.created_at;
    this.insert(m);
    if (m.category === Categories.SYSTEM_CONVERSATION) void this.syncConversation(c.conversation_id);
    this.db.put("conversations", c);
    this.emit();
  }

  private onReceipt(v: MessageView): void {
    const m = this.byId.get(v.message_id);
    if (!m || !m.mine) return;
    const status = v.status as LocalStatus;
    if ((RANK[status] ?? -3) <= RANK[m.status]) return;
    m.status = status;
    this.db.put("messages", m);
    this.emit();
  }

  /** A conversation first seen in a message: a placeholder now, details from the server soon. */
  private ensureConversation(conversationId: string, senderId: string): LocalConversation {
    let c = this.conversations.get(conversationId);
    if (c) return c;
    const me = this.creds.userId;
    const isContact = senderId !== me && uniqueConversationId(me, senderId) === conversationId;
    c = {
      conversation_id: conversationId,
      category: isContact ? "CONTACT" : "GROUP",
      name: "",
      announcement: "",
      creator_id: "",
      participants: [],
      peer_id: isContact ? senderId : "",
      last_at: "",
      unread: 0,
      synced: false,
    };
    this.conversations.set(conversationId, c);
    void this.syncConversation(conversationId);
    return c;
  }

  private upsertConversation(v: ConversationView): LocalConversation {
    const me = this.creds.userId;
    const prev = this.conversations.get(v.conversation_id);
    const c: LocalConversation = {
      conversation_id: v.conversation_id,
      category: v.category,
      name: v.name,
      announcement: v.announcement,
      creator_id: v.creator_id,
      participants: v.participants.map((p) => ({ user_id: p.user_id, role: p.role })),
      peer_id: v.category === "CONTACT" ? (v.participants.find((p) => p.user_id !== me)?.user_id ?? "") : "",
      last_at: prev?.last_at ?? "",
      unread: prev?.unread ?? 0,
      synced: true,
      left: !v.participants.some((p) => p.user_id === me),
    };
    this.conversations.set(c.conversation_id, c);
    this.db.put("conversations", c);
    this.ensureUsers(c.participants.map((p) => p.user_id));
    this.emit();
    return c;
  }

  async syncConversation(conversationId: string): Promise<void> {
    if (this.fetchingConversations.has(conversationId)) return;
    this.fetchingConversations.add(conversationId);
    try {
      this.upsertConversation(await this.api.conversation(conversationId));
    } catch (e) {
      const c = this.conversations.get(conversationId);
      if (c && e instanceof ApiError && (e.code === 403 || e.code === 404)) {
        c.left = true;
        c.synced = true;
        this.db.put("conversations", c);
        this.emit();
      }
    } finally {
      this.fetchingConversations.delete(conversationId);
    }
  }

  private putUser(u: UserView): LocalUser {
    const user: LocalUser = { user_id: u.user_id, full_name: u.full_name, identity_number: u.identity_number, is_bot: u.app_id !== "" };
    this.users.set(user.user_id, user);
    this.db.put("users", user);
    return user;
  }

  ensureUsers(ids: string[]): void {
    const missing = [...new Set(ids)].filter((id) => isUuid(id) && !this.users.has(id) && !this.fetchingUsers.has(id));
    if (missing.length === 0) return;
    for (const id of missing) this.fetchingUsers.add(id);
    this.api
      .users(missing.slice(0, 100))
      .then((list) => {
        for (const u of list) this.putUser(u);
        this.emit();
      })
      .catch(() => undefined)
      .finally(() => {
        for (const id of missing) this.fetchingUsers.delete(id);
      });
  }

  // --- actions -------------------------------------------------------------------------------

  select(conversationId: string | undefined): void {
    this.selected = conversationId;
    if (conversationId) this.markRead(conversationId);
    this.emit();
  }

  /** Acks READ whatever this conversation shows that is not read yet. */
  markRead(conversationId: string): void {
    if (!this.isVisible(conversationId)) return;
    let changed = false;
    for (const m of this.messages(conversationId)) {
      if (m.mine || m.read_acked) continue;
      m.read_acked = true;
      this.socket.ack(m.message_id, "READ");
      this.db.put("messages", m);
      changed = true;
    }
    const c = this.conversations.get(conversationId);
    if (c && c.unread !== 0) {
      c.unread = 0;
      this.db.put("conversations", c);
      changed = true;
    }
    if (changed) this.emit();
  }

  /** Sends a message now (or as soon as the socket is up); the bubble shows its progress. */
  send(conversationId: string, category: string, payload: Uint8Array, quoteMessageId = ""): LocalMessage {
    const c = this.conversations.get(conversationId);
    if (!c) throw new Error("unknown conversation");
    const m: LocalMessage = {
      message_id: newUuid(),
      conversation_id: conversationId,
      user_id: this.creds.userId,
      category,
      data: toBase64(payload),
      status: "SENDING",
      created_at: new Date().toISOString(),
      quote_message_id: quoteMessageId,
      mine: true,
      read_acked: true,
    };
    c.last_at = m.created_at;
    this.insert(m);
    this.db.put("conversations", c);
    this.emit();
    this.deliver(m);
    return m;
  }

  sendText(conversationId: string, text: string, quote = ""): LocalMessage {
    return this.send(conversationId, Categories.PLAIN_TEXT, utf8(text), quote);
  }

  sendJson(conversationId: string, category: string, value: unknown, quote = ""): LocalMessage {
    return this.send(conversationId, category, utf8(JSON.stringify(value)), quote);
  }

  /** The same message_id again: the server deduplicates, so a retry never doubles a message. */
  retry(messageId: string): void {
    const m = this.byId.get(messageId);
    if (!m || m.status !== "FAILED") return;
    m.status = "SENDING";
    delete m.error;
    this.emit();
    this.deliver(m);
  }

  private deliver(m: LocalMessage): void {
    if (!this.socket.connected) return; // flushOutbox sends it once online
    const c = this.conversations.get(m.conversation_id);
    const params: Record<string, unknown> = {
      conversation_id: m.conversation_id,
      message_id: m.message_id,
      category: m.category,
      data_base64: m.data.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
      quote_message_id: m.quote_message_id,
    };
    if (c?.category === "CONTACT") params.recipient_id = c.peer_id;
    this.socket.sendMessage(params).then(
      (ack) => {
        if (RANK[m.status] < RANK.SENT) m.status = "SENT";
        if (ack?.created_at) m.created_at = ack.created_at;
        this.db.put("messages", m);
        this.emit();
      },
      (e: unknown) => {
        // A dropped connection leaves it SENDING: the outbox resends it on reconnect. Refusals and
        // timeouts fail it; a retry reuses the message_id, so it can never arrive twice.
        if (e instanceof NotConnectedError) return;
        m.status = "FAILED";
        m.error = (e as Error).message;
        this.db.put("messages", m);
        this.emit();
      },
    );
  }

  private flushOutbox(): void {
    for (const m of this.byId.values()) if (m.mine && m.status === "SENDING") this.deliver(m);
  }

  async startChat(userId: string): Promise<LocalConversation> {
    const id = userId.trim().toLowerCase();
    if (!isUuid(id)) throw new Error("That is not a user id (a UUID).");
    if (id === this.creds.userId) throw new Error("That is your own id.");
    const conversationId = uniqueConversationId(this.creds.userId, id);
    const v = await this.api.createConversation({ category: "CONTACT", conversation_id: conversationId, participants: [{ user_id: id }] });
    const c = this.upsertConversation(v);
    if (!c.last_at) c.last_at = new Date().toISOString();
    this.select(c.conversation_id);
    return c;
  }

  async createGroup(name: string, userIds: string[]): Promise<LocalConversation> {
    const ids = [...new Set(userIds.map((u) => u.trim().toLowerCase()).filter(Boolean))];
    const bad = ids.find((u) => !isUuid(u));
    if (bad) throw new Error(`"${bad}" is not a user id.`);
    const v = await this.api.createConversation({
      category: "GROUP",
      conversation_id: newUuid(),
      name: name.trim(),
      participants: ids.filter((u) => u !== this.creds.userId).map((user_id) => ({ user_id })),
    });
    const c = this.upsertConversation(v);
    if (!c.last_at) c.last_at = new Date().toISOString();
    this.select(c.conversation_id);
    return c;
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    const ids = userIds.map((u) => u.trim().toLowerCase()).filter(Boolean);
    const bad = ids.find((u) => !isUuid(u));
    if (bad) throw new Error(`"${bad}" is not a user id.`);
    this.upsertConversation(await this.api.participants(conversationId, "ADD", ids.map((user_id) => ({ user_id }))));
  }

  async removeMember(conversationId: string, userId: string): Promise<void> {
    this.upsertConversation(await this.api.participants(conversationId, "REMOVE", [{ user_id: userId }]));
  }

  async setRole(conversationId: string, userId: string, role: "ADMIN" | ""): Promise<void> {
    this.upsertConversation(await this.api.participants(conversationId, "ROLE", [{ user_id: userId, role }]));
  }

  async rename(conversationId: string, name: string): Promise<void> {
    this.upsertConversation(await this.api.updateConversation(conversationId, { name: name.trim() }));
  }

  async leave(conversationId: string): Promise<void> {
    await this.api.exit(conversationId);
    const c = this.conversations.get(conversationId);
    if (c) {
      c.left = true;
      this.db.put("conversations", c);
      this.emit();
    }
  }

  /** Uploads through POST /attachments and the returned upload_url; returns the attachment id. */
  async upload(file: Blob): Promise<string> {
    const a = await this.api.createAttachment();
    await this.api.upload(a.upload_url, file);
    this.attachmentUrls.set(a.attachment_id, Promise.resolve(a.view_url));
    return a.attachment_id;
  }

  /**
   * What a button does: `input:TEXT` sends TEXT here (Mixin's convention), http(s) opens a new
   * tab, `mixin://users/<id>` opens a chat with that user. Everything else is refused.
   */
  async runAction(conversationId: string, action: string): Promise<void> {
    const input = /^input:([\s\S]+)$/i.exec(action);
    if (input) {
      this.sendText(conversationId, input[1]!);
      return;
    }
    if (/^https?:\/\//i.test(action)) {
      window.open(action, "_blank", "noopener,noreferrer");
      return;
    }
    const user = /^mixin:\/\/users\/([0-9a-f-]{36})$/i.exec(action);
    if (user) {
      await this.startChat(user[1]!);
      return;
    }
    const conv = /^mixin:\/\/conversations\/([0-9a-f-]{36})$/i.exec(action);
    if (conv && this.conversations.has(conv[1]!.toLowerCase())) {
      this.select(conv[1]!.toLowerCase());
      return;
    }
    this.notify(`This action is not supported here: ${action.slice(0, 80)}`);
  }
}

function byTime(a: LocalMessage, b: LocalMessage): number {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0;
}

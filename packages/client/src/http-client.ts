import type { Readable } from "node:stream";
import {
  Limits,
  buildMessageView,
  generateEd25519,
  newUuid,
  parseKeystore,
  toBase64UrlRaw,
  uniqueConversationId,
  decodeBase64Lenient,
  type AppCardPayload,
  type AudioPayload,
  type ButtonGroupPayload,
  type DataPayload,
  type ImagePayload,
  type Keystore,
  type LivePayload,
  type LocationPayload,
  type MessageView,
  type ParticipantRole,
  type PayloadRules,
  type PinAction,
  type StickerPayload,
  type VideoPayload,
} from "@openblaze/protocol";
import {
  composeUpload,
  downloadAttachment,
  downloadAttachmentStream,
  uploadAttachment,
  type TransferSettings,
  type UploadInput,
  type UploadOptions,
  type UploadedAttachment,
} from "./attachments.js";
import { compose, toMessageParams, type MessageParams, type Outgoing, type SendOptions, type Target } from "./compose.js";
import { Endpoints } from "./endpoints.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./http-retry.js";
import { ApiTransport, type HttpMethod, type RetryEvent } from "./http-transport.js";
import type { ConversationView, CreatedUser, UserView } from "./http-types.js";

export interface HttpClientOptions {
  /** The official keystore JSON (or the older client_id/private_key form). */
  keystore: Keystore | Record<string, unknown>;
  /** API base URL; `Endpoints.mixin.apiUrl` for the real service. */
  apiUrl?: string;
  /** Per attempt of an API call. Default 10 s. */
  timeoutMs?: number;
  /** Extra attempts for calls that are safe to repeat. Default 3; 0 disables. */
  retries?: number;
  /** Fine-tuning of the backoff; `retries` above wins over `retry.retries`. */
  retry?: Partial<RetryPolicy>;
  /** Bounds each whole upload or download of attachment bytes. Default 5 min. */
  transferTimeoutMs?: number;
  /** Validation limits for buttons and cards (openblaze can allow up to 18 buttons). */
  payloadRules?: PayloadRules;
  /** Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Called before each retry: for logs and metrics. */
  onRetry?: (event: RetryEvent) => void;
}

export interface BatchItem {
  target: Target;
  message: Outgoing;
  options?: SendOptions;
}

export interface AckItem {
  messageId: string;
  /** Default READ. */
  status?: "DELIVERED" | "READ";
}

export interface CreateGroupInput {
  name: string;
  /** User ids, or ids with a role (ADMIN). The caller becomes OWNER. */
  participants: readonly (string | { userId: string; role?: ParticipantRole })[];
  announcement?: string;
  /** Generated when absent. Either way the id is sent, so a retried create is harmless. */
  conversationId?: string;
}

export interface RawRequestOptions {
  /** Only true when sending the same body twice is harmless. Default: true for GET, else false. */
  idempotent?: boolean;
  signal?: AbortSignal;
}

/** The result of sendFile: what was uploaded and the message that carries it. */
export interface SentFile {
  attachment: UploadedAttachment;
  message: MessageView;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function isMessageParams(v: BatchItem | MessageParams): v is MessageParams {
  return "conversation_id" in v && "message_id" in v;
}

/**
 * The signed REST client for openblaze and api.mixin.one (protocol.md §5): users, conversations,
 * messages, acknowledgements and attachments. Every call is signed over the exact bytes sent;
 * calls that are safe to repeat are retried on network errors, timeouts, 5xx and 429.
 */
export class HttpClient {
  /** The keystore's user id. */
  readonly userId: string;
  readonly apiUrl: string;
  private readonly transport: ApiTransport;
  private readonly transfers: TransferSettings;
  private readonly rules: PayloadRules | undefined;

  constructor(options: HttpClientOptions) {
    const credentials = parseKeystore(options.keystore);
    this.userId = credentials.userId;
    this.apiUrl = options.apiUrl ?? Endpoints.local.apiUrl;
    const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry, ...(options.retries !== undefined && { retries: options.retries }) };
    this.transport = new ApiTransport({
      credentials,
      apiUrl: this.apiUrl,
      timeoutMs: options.timeoutMs ?? 10_000,
      retry,
      fetch: options.fetch ?? globalThis.fetch,
      onRetry: options.onRetry,
    });
    this.transfers = { transport: this.transport, timeoutMs: options.transferTimeoutMs ?? 300_000 };
    this.rules = options.payloadRules;
  }

  /** Any API endpoint this class doesn't wrap; returns the `data` of the envelope. */
  request<T = unknown>(method: HttpMethod, path: string, body?: unknown, opts: RawRequestOptions = {}): Promise<T> {
    return this.transport.call<T>({ method, path, body, idempotent: opts.idempotent ?? method === "GET", signal: opts.signal });
  }

  // ------------------------------------------------------------------------------------------
  // Users

  me(): Promise<UserView> {
    return this.request<UserView>("GET", "/me");
  }

  /** Throws BlazeError 10404 when there is no such user. */
  user(userId: string): Promise<UserView> {
    return this.request<UserView>("GET", `/users/${encodeURIComponent(userId)}`);
  }

  /** Unknown ids are skipped, as the service does; more than 100 ids take several calls. */
  async users(userIds: readonly string[]): Promise<UserView[]> {
    const out: UserView[] = [];
    for (const part of chunks([...new Set(userIds)], Limits.MAX_BATCH)) {
      out.push(...(await this.request<UserView[]>("POST", "/users/fetch", part, { idempotent: true })));
    }
    return out;
  }

  /**
   * A network user owned by this bot, with a fresh Ed25519 session key generated here: the
   * private half never leaves the process. Not retried: each call creates a new user.
   */
  async createUser(fullName: string): Promise<CreatedUser> {
    const keys = generateEd25519();
    const user = await this.request<UserView>("POST", "/users", { full_name: fullName, session_secret: toBase64UrlRaw(keys.publicKey) });
    if (typeof user.session_id !== "string") throw new TypeError("POST /users returned no session_id");
    const keystore: Keystore = {
      app_id: user.user_id,
      session_id: user.session_id,
      // The real service returns its key for the session as pin_token_base64; openblaze has none.
      server_public_key: user.pin_token_base64 ? decodeBase64Lenient(user.pin_token_base64, "pin_token_base64").toString("hex") : "",
      session_private_key: keys.seed.toString("hex"),
    };
    return { user, keystore };
  }

  // ------------------------------------------------------------------------------------------
  // Conversations. Creates are idempotent because the id is always chosen here.

  createContact(userId: string): Promise<ConversationView> {
    const body = { category: "CONTACT", conversation_id: uniqueConversationId(this.userId, userId), participants: [{ user_id: userId }] };
    return this.request<ConversationView>("POST", "/conversations", body, { idempotent: true });
  }

  createGroup(input: CreateGroupInput): Promise<ConversationView> {
    const body: Record<string, unknown> = {
      category: "GROUP",
      conversation_id: input.conversationId ?? newUuid(),
      name: input.name,
      participants: input.participants.map((p) =>
        typeof p === "string" ? { user_id: p } : { user_id: p.userId, ...(p.role !== undefined && { role: p.role }) },
      ),
    };
    if (input.announcement !== undefined) body.announcement = input.announcement;
    return this.request<ConversationView>("POST", "/conversations", body, { idempotent: true });
  }

  conversation(conversationId: string): Promise<ConversationView> {
    return this.request<ConversationView>("GET", `/conversations/${encodeURIComponent(conversationId)}`);
  }

  /** Not retried: each update announces itself to the group with a system message. */
  updateGroup(conversationId: string, changes: { name?: string; announcement?: string }): Promise<ConversationView> {
    return this.request<ConversationView>("POST", `/conversations/${encodeURIComponent(conversationId)}`, changes);
  }

  // Membership changes are set operations (adding a member twice adds them once), so retryable.
  addParticipants(conversationId: string, userIds: readonly string[]): Promise<ConversationView> {
    return this.participants(conversationId, "ADD", userIds.map((id) => ({ user_id: id })));
  }

  removeParticipants(conversationId: string, userIds: readonly string[]): Promise<ConversationView> {
    return this.participants(conversationId, "REMOVE", userIds.map((id) => ({ user_id: id })));
  }

  /** `"ADMIN"` promotes, `""` demotes to member. Only the owner may. */
  setRole(conversationId: string, userId: string, role: "ADMIN" | ""): Promise<ConversationView> {
    return this.participants(conversationId, "ROLE", [{ user_id: userId, role }]);
  }

  /** Not retried: after a lost reply the second exit would fail with 403 (no longer a member). */
  async exitGroup(conversationId: string): Promise<void> {
    await this.request("POST", `/conversations/${encodeURIComponent(conversationId)}/exit`);
  }

  private participants(conversationId: string, action: string, body: unknown): Promise<ConversationView> {
    return this.request<ConversationView>("POST", `/conversations/${encodeURIComponent(conversationId)}/participants/${action}`, body, {
      idempotent: true,
    });
  }

  // ------------------------------------------------------------------------------------------
  // Messages

  /**
   * Sends one message and returns the stored MessageView. The message_id is fixed before the
   * first attempt, so a retry after a lost reply is deduplicated by the server.
   */
  async send(target: Target, message: Outgoing, opts: SendOptions = {}): Promise<MessageView> {
    const params = toMessageParams(this.userId, target, message, opts);
    const view = await this.request<Partial<MessageView> | undefined>("POST", "/messages", params, { idempotent: true });
    if (view && typeof view.message_id === "string" && view.message_id !== "") return view as MessageView;
    // A service that answers `{}` (as the docs describe for arrays) still sent it: describe it ourselves.
    return buildMessageView({
      conversation_id: params.conversation_id,
      user_id: this.userId,
      message_id: params.message_id,
      category: params.category,
      payload: message.payload,
      status: "SENT",
      representative_id: params.representative_id ?? "",
      quote_message_id: params.quote_message_id ?? "",
      silent: params.silent ?? false,
      expire_in: params.expire_in ?? 0,
      created_at: new Date().toISOString(),
    });
  }

  /**
   * Many messages in POSTs of at most 100. Returns the params sent, in order, so callers know
   * every message_id. If a chunk fails the error propagates; chunks before it were delivered,
   * and sending the returned-or-prebuilt params again is safe (ids dedupe).
   */
  async sendBatch(items: readonly (BatchItem | MessageParams)[]): Promise<MessageParams[]> {
    const params = items.map((item) => (isMessageParams(item) ? item : toMessageParams(this.userId, item.target, item.message, item.options)));
    for (const part of chunks(params, Limits.MAX_BATCH)) {
      await this.request("POST", "/messages", part, { idempotent: true });
    }
    return params;
  }

  /** Marks messages DELIVERED or READ, in POSTs of at most 100. Acks are idempotent. */
  async acknowledge(items: readonly (AckItem | string)[]): Promise<void> {
    const body = items.map((item) =>
      typeof item === "string" ? { message_id: item, status: "READ" } : { message_id: item.messageId, status: item.status ?? "READ" },
    );
    for (const part of chunks(body, Limits.MAX_BATCH)) {
      await this.request("POST", "/acknowledgements", part, { idempotent: true });
    }
  }

  sendText(target: Target, text: string, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.text(text), opts);
  }

  sendPost(target: Target, markdown: string, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.post(markdown), opts);
  }

  sendImage(target: Target, image: ImagePayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.image(image), opts);
  }

  sendVideo(target: Target, video: VideoPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.video(video), opts);
  }

  sendAudio(target: Target, audio: AudioPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.audio(audio), opts);
  }

  sendData(target: Target, data: DataPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.data(data), opts);
  }

  sendSticker(target: Target, sticker: StickerPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.sticker(sticker), opts);
  }

  sendContact(target: Target, userId: string, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.contact(userId), opts);
  }

  sendButtons(target: Target, buttons: ButtonGroupPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.buttons(buttons, this.rules), opts);
  }

  sendCard(target: Target, card: AppCardPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.card(card, this.rules), opts);
  }

  sendLive(target: Target, live: LivePayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.live(live), opts);
  }

  sendLocation(target: Target, location: LocationPayload, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.location(location), opts);
  }

  sendRecall(target: Target, messageId: string, opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.recall(messageId), opts);
  }

  sendPin(target: Target, action: PinAction, messageIds: string[], opts?: SendOptions): Promise<MessageView> {
    return this.send(target, compose.pin(action, messageIds), opts);
  }

  // ------------------------------------------------------------------------------------------
  // Attachments

  /** Creates an attachment, PUTs the bytes and describes them (type, size, dimensions, preview). */
  upload(input: UploadInput, opts?: UploadOptions): Promise<UploadedAttachment> {
    return uploadAttachment(this.transfers, input, opts);
  }

  /** By attachment id or view URL. */
  download(idOrViewUrl: string, signal?: AbortSignal): Promise<Buffer> {
    return downloadAttachment(this.transfers, idOrViewUrl, signal);
  }

  downloadStream(idOrViewUrl: string, signal?: AbortSignal): Promise<Readable> {
    return downloadAttachmentStream(this.transfers, idOrViewUrl, signal);
  }

  /** Uploads, then sends it as an image, a video or a file, whichever the content allows. */
  async sendFile(target: Target, input: UploadInput, opts: UploadOptions & SendOptions & { caption?: string } = {}): Promise<SentFile> {
    const attachment = await this.upload(input, opts);
    const message = await this.send(target, composeUpload.auto(attachment, opts.caption !== undefined ? { caption: opts.caption } : {}), opts);
    return { attachment, message };
  }
}

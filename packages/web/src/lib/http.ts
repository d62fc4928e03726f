import type { BlazeErrorBody } from "@openblaze/protocol/browser";
import { newUuid } from "./crypto.js";
import type { Credentials } from "./keystore.js";
import { noteServerTime, signToken } from "./token.js";

export class ApiError extends Error {
  constructor(
    readonly code: number,
    description: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(extra?.reason ? `${description} (${String(extra.reason)})` : description);
    this.name = "ApiError";
  }
}

export interface UserView {
  user_id: string;
  identity_number: string;
  full_name: string;
  app_id: string;
  relationship: string;
  session_id?: string;
}

export interface ParticipantView {
  user_id: string;
  role: "OWNER" | "ADMIN" | "";
}

export interface ConversationView {
  conversation_id: string;
  creator_id: string;
  category: "CONTACT" | "GROUP";
  name: string;
  announcement: string;
  participants: ParticipantView[];
}

export interface AttachmentView {
  attachment_id: string;
  upload_url: string;
  view_url: string;
}

async function unwrap<T>(res: Response): Promise<T> {
  noteServerTime(res.headers.get("x-server-time"));
  const text = await res.text();
  let body: { data?: T; error?: BlazeErrorBody };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new ApiError(res.status, `HTTP ${res.status}`);
  }
  if (body.error) throw new ApiError(body.error.code, body.error.description, body.error.extra);
  return body.data as T;
}

/** The signed REST API (protocol.md §5) on the page's own origin. */
export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly creds: Credentials,
  ) {}

  async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const raw = body === undefined ? "" : JSON.stringify(body);
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${signToken(this.creds, method, path, raw)}`,
        "content-type": "application/json",
        "x-request-id": newUuid(),
      },
      ...(raw !== "" && { body: raw }),
    });
    return unwrap<T>(res);
  }

  me = () => this.request<UserView>("GET", "/me");
  user = (id: string) => this.request<UserView>("GET", `/users/${id}`);
  users = (ids: string[]) => this.request<UserView[]>("POST", "/users/fetch", ids);
  conversation = (id: string) => this.request<ConversationView>("GET", `/conversations/${id}`);
  createConversation = (body: unknown) => this.request<ConversationView>("POST", "/conversations", body);
  updateConversation = (id: string, body: { name?: string; announcement?: string }) =>
    this.request<ConversationView>("POST", `/conversations/${id}`, body);
  participants = (id: string, action: "ADD" | "REMOVE" | "ROLE", list: { user_id: string; role?: string }[]) =>
    this.request<ConversationView>("POST", `/conversations/${id}/participants/${action}`, list);
  exit = (id: string) => this.request<unknown>("POST", `/conversations/${id}/exit`);
  createAttachment = () => this.request<AttachmentView>("POST", "/attachments", {});
  attachment = (id: string) => this.request<AttachmentView>("GET", `/attachments/${id}`);

  /** PUT the bytes to the presigned-style upload URL, as S3 clients do. */
  async upload(url: string, body: Blob): Promise<void> {
    const res = await fetch(url, {
      method: "PUT",
      body,
      headers: { "content-type": "application/octet-stream", "x-amz-acl": "public-read" },
    });
    if (!res.ok) throw new ApiError(res.status, `upload failed: HTTP ${res.status}`);
  }
}

export interface SignupResult {
  user: UserView;
  keystore: { app_id: string; session_id: string; server_public_key: string };
}

/** Dev mode only: creates a user whose private key never leaves this browser. */
export async function signup(baseUrl: string, fullName: string, sessionSecret: string): Promise<SignupResult> {
  const res = await fetch(`${baseUrl}/dev/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ full_name: fullName, session_secret: sessionSecret }),
  });
  return unwrap<SignupResult>(res);
}

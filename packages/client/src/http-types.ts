/**
 * Shapes the REST API answers with (protocol.md §5), as both openblaze and api.mixin.one send
 * them. The real service adds fields (wallet keys, app details...); they pass through untyped.
 */

import type { Keystore, ParticipantRole } from "@openblaze/protocol";

export interface UserView {
  type: "user";
  user_id: string;
  identity_number: string;
  full_name: string;
  biography: string;
  avatar_url: string;
  /** FRIEND, STRANGER, BLOCKING, ME... */
  relationship: string;
  mute_until: string;
  created_at: string;
  is_verified: boolean;
  is_scam: boolean;
  code_id: string;
  code_url: string;
  /** Set for bots. */
  app_id?: string;
  /** GET /me and POST /users: the calling (or created) session. */
  session_id?: string;
  /** The real service's public key for the session (base64url), used as the keystore's server key. */
  pin_token_base64?: string;
  [key: string]: unknown;
}

export interface ParticipantView {
  type: "participant";
  user_id: string;
  /** OWNER, ADMIN or "" for a plain member. */
  role: ParticipantRole;
  created_at: string;
}

export interface ParticipantSessionView {
  type: "participant";
  user_id: string;
  session_id: string;
  /** base64url Ed25519 public key. */
  public_key: string;
}

export interface ConversationView {
  type: "conversation";
  conversation_id: string;
  creator_id: string;
  category: "CONTACT" | "GROUP";
  name: string;
  icon_url: string;
  announcement: string;
  created_at: string;
  code_id: string;
  code_url: string;
  mute_until: string;
  expire_in: number;
  participants: ParticipantView[];
  participant_sessions?: ParticipantSessionView[];
  [key: string]: unknown;
}

export interface AttachmentView {
  type: "attachment";
  attachment_id: string;
  /** Presigned PUT target; empty when fetched with GET /attachments/:id. */
  upload_url: string;
  view_url: string;
  created_at: string;
}

/** A user created with POST /users, with the keystore that signs in as it. */
export interface CreatedUser {
  user: UserView;
  keystore: Keystore;
}

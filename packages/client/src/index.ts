export * from "./errors.js";
export * from "./endpoints.js";
export * from "./compose.js";
export { HttpClient, type HttpClientOptions, type BatchItem, type AckItem, type CreateGroupInput, type RawRequestOptions, type SentFile } from "./http-client.js";
export type { UserView, ConversationView, ParticipantView, ParticipantSessionView, AttachmentView, CreatedUser } from "./http-types.js";
export type { RetryEvent, HttpMethod } from "./http-transport.js";
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./http-retry.js";
export { composeUpload, type UploadInput, type UploadOptions, type UploadedAttachment } from "./attachments.js";
export { THUMBNAIL_SIZE } from "./media-probe.js";

// BlazeClient (WebSocket)
export * from "./blaze-client.js";

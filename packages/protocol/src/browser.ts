/**
 * The browser-safe part of the protocol package: names, limits and the pure conversation-id
 * helpers, plus every wire type. Nothing here (or below it) imports a Node built-in or uses
 * Buffer; test/browser-entry.test.ts keeps it that way.
 */
export * from "./names.js";
export * from "./conversation-id.js";
export * from "./errors.js";
export type * from "./categories.js";
export type { BlazeMessage } from "./envelope.js";
export type { MessageView } from "./message-view.js";
export type { Keystore } from "./keystore.js";
export type { TokenClaims } from "./token.js";

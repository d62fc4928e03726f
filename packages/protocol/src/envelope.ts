import type { BlazeErrorBody } from "./errors.js";
import { badRequest } from "./errors.js";

/** The five-key Blaze envelope, both directions (protocol.md §2). */
export interface BlazeMessage<P = unknown, D = unknown> {
  id: string;
  action: string;
  params?: P;
  data?: D;
  error?: BlazeErrorBody;
}

export interface RequestEnvelope {
  id: string;
  action: string;
  params: Record<string, unknown> | undefined;
}

/** Checks the envelope shape of an inbound request; params are validated per action elsewhere. */
export function parseRequestEnvelope(value: unknown): RequestEnvelope {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badRequest("envelope is not a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (typeof v.id !== "string" || v.id.length === 0) throw badRequest("envelope has no id");
  if (typeof v.action !== "string" || v.action.length === 0) throw badRequest("envelope has no action");
  if (v.params !== undefined && v.params !== null && (typeof v.params !== "object" || Array.isArray(v.params))) {
    throw badRequest("params is not an object");
  }
  const params = (v.params ?? undefined) as Record<string, unknown> | undefined;
  return { id: v.id, action: v.action, params };
}

/**
 * The id of a frame we could not parse fully, so an error reply can still be correlated. An empty
 * id correlates nothing: the caller then answers under a fresh id (never `"id":""`).
 */
export function salvageId(value: unknown): string | undefined {
  if (typeof value === "object" && value !== null) {
    const id = (value as { id?: unknown }).id;
    if (typeof id === "string" && id !== "") return id;
  }
  return undefined;
}

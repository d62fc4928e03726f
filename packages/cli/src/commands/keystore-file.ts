import { readFile } from "node:fs/promises";
import type { Keystore } from "@openblaze/protocol";
import { Endpoints, type Target } from "@openblaze/client";

export async function readKeystore(path: string): Promise<Keystore> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read keystore ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as Keystore;
  } catch {
    throw new Error(`keystore ${path} is not JSON`);
  }
}

/** Flag, then environment, then the local server's default. */
export function apiUrl(flag: string | undefined): string {
  return flag ?? process.env.OPENBLAZE_API_URL ?? Endpoints.local.apiUrl;
}

export function blazeUrl(flag: string | undefined): string {
  return flag ?? process.env.OPENBLAZE_URL ?? Endpoints.local.blazeUrl;
}

export function targetFrom(flags: { to?: string; conversation?: string; recipient?: string }): Target {
  if (flags.to && flags.conversation) throw new Error("give --to USER or --conversation ID, not both");
  if (flags.to) return { userId: flags.to };
  if (flags.conversation) return flags.recipient ? { conversationId: flags.conversation, recipientId: flags.recipient } : { conversationId: flags.conversation };
  throw new Error("give --to USER or --conversation ID");
}

import type { MessageView } from "@openblaze/protocol";

/**
 * The bus only says "these users have new mail" or carries a best-effort receipt. The store stays
 * the source of truth: a lost "mail" event is repaired by the next LIST_PENDING_MESSAGES.
 */
export type BusEvent =
  | { type: "mail"; userIds: readonly string[] }
  | { type: "receipt"; userId: string; view: MessageView };

export interface Bus {
  publish(event: BusEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(handler: (event: BusEvent) => void): () => void;
  close(): Promise<void>;
}

/** In-process bus for the single-node default. */
export class LocalBus implements Bus {
  private readonly handlers = new Set<(event: BusEvent) => void>();

  publish(event: BusEvent): void {
    for (const h of this.handlers) h(event);
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}

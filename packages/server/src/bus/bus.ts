import type { MessageView } from "@openblaze/protocol";
import type { MailboxRow, StoredMessage } from "../store/store.js";

/**
 * The bus only says "these users have new mail" or carries a best-effort receipt. The store stays
 * the source of truth: a lost "mail" event is repaired by polling while the bus is unhealthy, by a
 * catch-up read when it is healthy again, and by the next LIST_PENDING_MESSAGES.
 */
export type BusEvent =
  | {
      type: "mail";
      userIds: readonly string[];
      /**
       * The new rows themselves, in seq order, for this node's handlers only (never sent to other
       * nodes): set when the store reported them, so caught-up sockets need not read them back.
       */
      rows?: readonly DeliveredRow[];
      /** With `rows`: the seqs the request's messages took, first to last, none skipped (see AcceptOutcome.seq). */
      seqs?: { first: number; last: number };
    }
  | { type: "receipt"; userId: string; view: MessageView }
  /** Wake-ups may have been lost (a node's outage buffer overflowed): re-read every subscribed mailbox. */
  | { type: "resync" };

/** A mailbox row with its message, as just committed. */
export interface DeliveredRow extends MailboxRow {
  message: StoredMessage;
}

export interface Bus {
  /**
   * Never throws and never waits. This node's handlers get the event synchronously, before it
   * travels to other nodes, so local delivery does not depend on the bus being up.
   */
  publish(event: BusEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(handler: (event: BusEvent) => void): () => void;
  /**
   * True while events published on any node reach this node's handlers. While false, events may be
   * lost: the gateway polls its sessions' mailboxes, and re-reads them all once when it turns true.
   */
  readonly healthy: boolean;
  /** Called with the new value each time `healthy` changes. Returns an unsubscribe function. */
  onHealthChange(listener: (healthy: boolean) => void): () => void;
  close(): Promise<void>;
}

/** In-process bus for the single-node default: always healthy. */
export class LocalBus implements Bus {
  private readonly handlers = new Set<(event: BusEvent) => void>();
  readonly healthy = true;

  publish(event: BusEvent): void {
    for (const h of this.handlers) h(event);
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onHealthChange(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}

/** Resolves true once the bus is healthy, or false after `timeoutMs`. */
export function waitForHealthy(bus: Bus, timeoutMs: number): Promise<boolean> {
  if (bus.healthy) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(bus.healthy);
    }, timeoutMs);
    const off = bus.onHealthChange((h) => {
      if (!h) return;
      clearTimeout(timer);
      off();
      resolve(true);
    });
  });
}

/**
 * Remembers which message ids were handled, so a redelivery (the server re-pushes everything
 * unacked on every reconnect) does not run the handler twice. Pluggable: a bot that must not
 * repeat side effects across restarts backs it with its database or Redis. Methods may be async.
 *
 * An id is added only after its handler succeeded, so a failed message is simply never in the
 * store and its redelivery runs the handler again. That is safe without an "in progress" state
 * because one conversation is handled serially: a redelivered copy waits behind the original.
 */
export interface DedupStore {
  has(messageId: string): boolean | Promise<boolean>;
  add(messageId: string): void | Promise<void>;
}

/** In-memory, bounded: the least recently seen ids are forgotten first. */
export class LruDedup implements DedupStore {
  private readonly ids = new Map<string, true>();

  constructor(readonly capacity = 50_000) {
    if (!(capacity >= 1)) throw new RangeError("dedup capacity must be at least 1");
  }

  has(messageId: string): boolean {
    if (!this.ids.has(messageId)) return false;
    // Refresh recency: a message that keeps coming back is exactly the one to keep remembering.
    this.ids.delete(messageId);
    this.ids.set(messageId, true);
    return true;
  }

  add(messageId: string): void {
    this.ids.delete(messageId);
    this.ids.set(messageId, true);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.keys().next().value as string);
  }

  delete(messageId: string): void {
    this.ids.delete(messageId);
  }

  get size(): number {
    return this.ids.size;
  }
}

/** For `dedup: false`: every delivery runs the handler. */
export const NO_DEDUP: DedupStore = { has: () => false, add: () => {} };

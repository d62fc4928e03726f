import type { Revocation, Store } from "../store/store.js";

const PAGE = 500;
/** Entries kept in memory to check identities validated a little while ago. */
const RECENT = 4096;

/**
 * Follows the store's revocation log (sessions revoked, users disabled), which any process may
 * append to (the admin CLI writes it straight into the database). Every node reads the log:
 *
 * - before each authentication (one cheap indexed query, shared by concurrent callers), so a
 *   revoked session or disabled user is refused from the moment the revocation committed, on every
 *   node, whatever the caches hold;
 * - every `pollMs` in the background, so open sockets of a revoked session are closed promptly even
 *   when no one authenticates.
 *
 * Cached session keys are tagged with the log position at which they were read; a cached key is
 * used only if no later entry covers it, so a key cached concurrently with a revocation can never
 * outlive it.
 */
export class RevocationLog {
  /** Highest seq applied; -1 until the first read. */
  private known = -1;
  /** Positions at or above this are covered by `recent`. */
  private floor = 0;
  private readonly recent: Revocation[] = [];
  private readonly listeners = new Set<(r: Revocation) => void>();
  private inflight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: Store) {}

  /** The position after the last sync; identities validated now are covered up to here. */
  get position(): number {
    return this.known;
  }

  /**
   * Reads entries committed since the last read. A call made while a read is running waits for the
   * next read (which starts after it), so it always sees everything committed before the call.
   */
  sync(): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.read().finally(() => (this.inflight = undefined));
      return this.inflight;
    }
    this.queued ??= this.inflight.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued;
  }

  private next(): Promise<void> {
    this.queued = undefined;
    return this.sync();
  }

  private async read(): Promise<void> {
    if (this.known < 0) {
      // Start at the end: history cannot concern anything this node has cached or accepted.
      const last = await this.store.lastRevocationSeq();
      if (this.known < 0) this.known = this.floor = last;
      return;
    }
    for (;;) {
      const rows = await this.store.revocationsAfter(this.known, PAGE);
      for (const r of rows) {
        if (r.seq <= this.known) continue;
        this.known = r.seq;
        this.recent.push(r);
        if (this.recent.length > RECENT) this.floor = this.recent.shift()!.seq;
        for (const l of this.listeners) l(r);
      }
      if (rows.length < PAGE) return;
    }
  }

  /**
   * Whether an entry after position `since` covers this session (revoked, or its user disabled).
   * When entries that old are no longer kept, answers true: the caller re-reads the store.
   */
  revokedSince(since: number, userId: string, sessionId: string): boolean {
    if (since >= this.known) return false;
    if (since < this.floor) return true;
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const r = this.recent[i]!;
      if (r.seq <= since) break;
      if (r.userId === userId && (r.sessionId === "" || r.sessionId === sessionId)) return true;
    }
    return false;
  }

  /** Called for each new entry, in seq order. Returns an unsubscribe function. */
  onRevoked(listener: (r: Revocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Background polling; errors (store down) go to `onError` and the next round retries. */
  start(pollMs: number, onError: (err: unknown) => void): void {
    this.stop();
    if (pollMs <= 0) return;
    this.timer = setInterval(() => void this.sync().catch(onError), pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

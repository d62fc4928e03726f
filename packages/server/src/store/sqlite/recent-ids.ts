/**
 * The message ids of the newest messages, not yet in the `message_ids` table: message id -> the
 * message's rowid. Client message ids are random UUIDs, so adding each one to an on-disk B-tree as
 * its message is stored dirtied a random leaf page per message (most of the cost of storing a
 * message once the file is large, BENCHMARKS.md step 23). Held here, they go to the table sorted,
 * many at a time, so neighbouring keys share the page writes.
 *
 * Nothing here is the only copy: every entry is also a row of `messages` (newer than the
 * `ids_indexed` counter), so a restart rebuilds it from there.
 */
export class RecentIds {
  private readonly byId = new Map<string, number>();

  get size(): number {
    return this.byId.size;
  }

  get(messageId: string): number | undefined {
    return this.byId.get(messageId);
  }

  set(messageId: string, row: number): void {
    this.byId.set(messageId, row);
  }

  /** Forgets an entry once it is in the table, unless it was replaced meanwhile. */
  forget(messageId: string, row: number): void {
    if (this.byId.get(messageId) === row) this.byId.delete(messageId);
  }

  /**
   * Every entry, in runs that each cover one stretch of the key space (ids by their first two
   * characters: ~1/256 of it for UUIDs), for writing a run per transaction: a run's keys land on
   * neighbouring pages, and no transaction or sort is long enough to stall the event loop.
   */
  runs(): (() => [string, number][])[] {
    const byFirst = new Map<number, [string, number][]>();
    for (const e of this.byId) {
      const c = (e[0].charCodeAt(0) || 0) * 65536 + (e[0].charCodeAt(1) || 0);
      let run = byFirst.get(c);
      if (!run) byFirst.set(c, (run = []));
      run.push(e);
    }
    return [...byFirst.keys()].sort((a, b) => a - b).map((c) => () => byFirst.get(c)!.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }
}

import { formatMicros, parseTimestampMicros } from "@openblaze/protocol";

/**
 * The `offset` for LIST_PENDING_MESSAGES on reconnect (what official apps send; no bot SDK does):
 * the server then skips messages created at or before it. It must never skip a message we have not
 * finished, so it is a low-water mark: just below both the newest message handled and the oldest
 * message still outstanding (received but unfinished, or failed). It lags by one microsecond on
 * purpose: two messages may share a timestamp, and dedup absorbs the one we see again.
 */
export class OffsetTracker {
  private readonly outstanding = new Map<string, number>();
  private newestHandled: number | undefined;

  constructor(initial?: string) {
    if (initial !== undefined) {
      const micros = parseTimestampMicros(initial);
      if (micros === undefined) throw new TypeError(`resume offset ${JSON.stringify(initial)} is not an RFC 3339 timestamp`);
      // Stored one above so the lag below returns the caller's value unchanged.
      this.newestHandled = micros + 1;
    }
  }

  received(messageId: string, createdAt: string): void {
    const micros = parseTimestampMicros(createdAt);
    if (micros !== undefined && !this.outstanding.has(messageId)) this.outstanding.set(messageId, micros);
  }

  handled(messageId: string, createdAt: string): void {
    this.outstanding.delete(messageId);
    const micros = parseTimestampMicros(createdAt);
    if (micros !== undefined && (this.newestHandled === undefined || micros > this.newestHandled)) this.newestHandled = micros;
  }

  /** The offset to send, or undefined when nothing was handled yet. */
  get offset(): string | undefined {
    if (this.newestHandled === undefined) return undefined;
    let low = this.newestHandled;
    for (const m of this.outstanding.values()) if (m < low) low = m;
    return formatMicros(low - 1);
  }
}

import { BlazeError, ErrorCodes } from "@openblaze/protocol";

/** Fixed one-minute windows per user; cheap and good enough for a 100k/min quota. */
export class RateLimiter {
  private window = 0;
  private counts = new Map<string, number>();

  constructor(private readonly perMinute: number) {}

  /** Counts `n` messages for the user or throws 429 without counting them. */
  take(userId: string, n: number, nowMs = Date.now()): void {
    const w = Math.floor(nowMs / 60_000);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const used = this.counts.get(userId) ?? 0;
    if (used + n > this.perMinute) {
      throw new BlazeError(ErrorCodes.TOO_MANY_REQUESTS, { reason: `more than ${this.perMinute} messages per minute` });
    }
    this.counts.set(userId, used + n);
  }
}

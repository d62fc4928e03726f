import { Actions, encodeFrame, newUuid, type Compression, type Source } from "@openblaze/protocol";
import type { StoredMessage } from "../store/store.js";
import { messageView } from "../core/views.js";

/**
 * Compressed pushes, keyed by message and source: gzip is the largest per-frame cost
 * (server-anchors.md §3.1), so a group fan-out or a backlog redelivery compresses once.
 * Bounded by count and by bytes: 4,096 pushes of large messages would otherwise hold up to
 * 4,096 x 128 KiB in memory (found by the slow-consumer test, RELIABILITY.md §5).
 */
export class PushFrameCache {
  private readonly frames = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    private readonly compression: Compression,
    private readonly capacity = 4096,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  get(message: StoredMessage, source: Source): Buffer {
    const key = `${message.messageId}/${source}`;
    const hit = this.frames.get(key);
    if (hit) return hit;
    // Push ids only have to be unique per push stream; clients correlate on data.message_id.
    const frame = encodeFrame({ id: newUuid(), action: Actions.CREATE_MESSAGE, data: messageView(message, source) }, this.compression);
    while (this.frames.size > 0 && (this.frames.size >= this.capacity || this.bytes + frame.length > this.maxBytes)) {
      const [oldest, evicted] = this.frames.entries().next().value!;
      this.frames.delete(oldest);
      this.bytes -= evicted.length;
    }
    if (frame.length <= this.maxBytes) {
      this.frames.set(key, frame);
      this.bytes += frame.length;
    }
    return frame;
  }

  get size(): { frames: number; bytes: number } {
    return { frames: this.frames.size, bytes: this.bytes };
  }
}

import { Actions, encodeFrame, newUuid, type Compression, type Source } from "@openblaze/protocol";
import type { StoredMessage } from "../store/store.js";
import { messageView } from "../core/views.js";

/**
 * Compressed pushes, keyed by message and source: gzip is the largest per-frame cost
 * (server-anchors.md §3.1), so a group fan-out or a backlog redelivery compresses once.
 */
export class PushFrameCache {
  private readonly frames = new Map<string, Buffer>();

  constructor(
    private readonly compression: Compression,
    private readonly capacity = 4096,
  ) {}

  get(message: StoredMessage, source: Source): Buffer {
    const key = `${message.messageId}/${source}`;
    const hit = this.frames.get(key);
    if (hit) return hit;
    // Push ids only have to be unique per push stream; clients correlate on data.message_id.
    const frame = encodeFrame({ id: newUuid(), action: Actions.CREATE_MESSAGE, data: messageView(message, source) }, this.compression);
    if (this.frames.size >= this.capacity) this.frames.delete(this.frames.keys().next().value!);
    this.frames.set(key, frame);
    return frame;
  }
}

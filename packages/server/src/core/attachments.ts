import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { BlazeError, ErrorCodes, invalidField, isUuid, newUuid } from "@openblaze/protocol";
import { BlobTooLargeError, type BlobStore } from "../blobs/blob-store.js";
import type { Attachment, Store } from "../store/store.js";
import type { Identity } from "./identity.js";

/**
 * Attachments as the real service does them: create returns a presigned-style upload URL, the
 * bytes go there with a PUT, and a view URL serves them. Our URLs carry unguessable tokens.
 */
export class AttachmentService {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly maxBytes: number,
  ) {}

  async create(who: Identity): Promise<Attachment> {
    return this.store.createAttachment({
      attachmentId: newUuid(),
      userId: who.userId,
      uploadToken: randomBytes(24).toString("hex"),
      viewToken: randomBytes(24).toString("hex"),
    });
  }

  async get(attachmentId: string): Promise<Attachment> {
    if (!isUuid(attachmentId)) throw invalidField("attachment_id", "attachment_id is not a valid uuid");
    const a = await this.store.getAttachment(attachmentId);
    if (!a) throw new BlazeError(ErrorCodes.NOT_FOUND, { reason: "attachment not found" });
    return a;
  }

  async upload(uploadToken: string, body: Readable): Promise<Attachment> {
    const a = await this.store.getAttachmentByToken("upload", uploadToken);
    if (!a) throw new BlazeError(ErrorCodes.NOT_FOUND, { reason: "upload url not found" });
    let size: number;
    try {
      size = await this.blobs.write(a.viewToken, body, this.maxBytes);
    } catch (e) {
      if (e instanceof BlobTooLargeError) throw invalidField("body", e.message);
      throw e;
    }
    await this.store.markUploaded(a.attachmentId, size);
    return { ...a, size, uploaded: true };
  }

  async open(viewToken: string): Promise<{ stream: Readable; size: number }> {
    const blob = /^[0-9a-f]{48}$/.test(viewToken) ? await this.blobs.read(viewToken) : undefined;
    if (!blob) throw new BlazeError(ErrorCodes.NOT_FOUND, { reason: "attachment not found" });
    return blob;
  }
}

import { DEFAULT_PAYLOAD_RULES } from "@openblaze/protocol";
import type { BlobStore } from "./blobs/blob-store.js";
import type { Bus } from "./bus/bus.js";
import { commitBatchFor, commitLanesFor, type ServerConfig } from "./config.js";
import { AttachmentService } from "./core/attachments.js";
import { Authenticator } from "./core/auth.js";
import { ConversationService } from "./core/conversations.js";
import { AckCommitter } from "./core/ack-committer.js";
import { GroupCommitter } from "./core/group-commit.js";
import { MessagingService } from "./core/messaging.js";
import { RateLimiter } from "./core/rate-limit.js";
import { UserService } from "./core/users.js";
import { Metrics } from "./metrics.js";
import type { Store } from "./store/store.js";

/** Everything the transports call into, wired once per server. */
export interface Services {
  config: Readonly<ServerConfig>;
  store: Store;
  bus: Bus;
  auth: Authenticator;
  committer: GroupCommitter;
  ackCommitter: AckCommitter;
  messaging: MessagingService;
  conversations: ConversationService;
  users: UserService;
  attachments: AttachmentService;
  metrics: Metrics;
}

export function createServices(config: Readonly<ServerConfig>, store: Store, bus: Bus, blobs: BlobStore): Services {
  const metrics = new Metrics();
  const committer = new GroupCommitter(store, commitBatchFor(config), metrics, config.commitIntervalMs, commitLanesFor(config));
  const ackCommitter = new AckCommitter(store, undefined, config.ackCommitIntervalMs);
  const messaging = new MessagingService(
    store,
    bus,
    committer,
    new RateLimiter(config.rateLimitPerMinute),
    { ...DEFAULT_PAYLOAD_RULES, maxButtons: config.maxButtons },
    metrics,
    ackCommitter,
  );
  return {
    config,
    store,
    bus,
    auth: new Authenticator(store),
    committer,
    ackCommitter,
    messaging,
    conversations: new ConversationService(store, messaging),
    users: new UserService(store),
    attachments: new AttachmentService(store, blobs, config.maxAttachmentBytes),
    metrics,
  };
}

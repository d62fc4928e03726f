/** IPC between the harness and its load-generator processes. */

export interface SockSpec {
  userId: string;
  sessionId: string;
  /** Hex Ed25519 seed: the generator signs its own handshake tokens. */
  seed: string;
  /** Connect here instead of the command's url (scale-out: each half of a pair on its own node). */
  url?: string;
  /** CREATE_MESSAGE target (p2p) and conversation (p2p and group senders). */
  peer?: string;
  conv?: string;
  /** false: has a template but does not send (the receiving half of a pair in one-way runs). */
  send?: boolean;
  /** CREATE_PLAIN_MESSAGES sender: items cycle over these. */
  dests?: { peer: string; conv: string }[];
}

export interface Counters {
  sent: number;
  replies: number;
  pushes: number;
  acksSent: number;
  ackReplies: number;
  receipts: number;
  completed: number;
  errors: number;
  stalled: number;
  stallNoReply: number;
  stallNoPush: number;
  stallNoReceipt: number;
  stallNoAckReply: number;
  /** Stalled after the server had replied (committed) without every push arriving: a loss candidate. */
  stallRepliedNoPush: number;
  unknownPushes: number;
  dupPushes: number;
  batchFrames: number;
  batchMsgs: number;
  closed: number;
  inflateFallbacks: number;
}

export type LoadgenCommand =
  | { op: "connect"; url: string; sockets: SockSpec[]; subscribe: boolean; concurrency?: number; only?: "all" | "senders" | "none" }
  | {
      op: "closed";
      window: number;
      ack: boolean;
      needReceipts: boolean;
      needAckReplies: boolean;
      fanout: number;
      stallMs: number;
    }
  | {
      op: "open";
      rate: number;
      ack: boolean;
      needReceipts: boolean;
      needAckReplies: boolean;
      fanout: number;
      stallMs: number;
    }
  | { op: "batch"; batchSize: number; window: number; totalPerSender?: number }
  | { op: "snap" }
  | { op: "stop"; settleMs: number }
  | { op: "drop" }
  | { op: "drain"; expect: number; reconnect: boolean; jitterMs: number; timeoutMs: number }
  | { op: "exit" };

export interface SnapReply {
  op: "snap" | "stopped";
  counters: Counters;
  inflight: number;
  /** In flight and already replied to (committed) but not pushed to every recipient yet. */
  undelivered: number;
  pushLat: Float64Array;
  replyLat: Float64Array;
  doneLat: Float64Array;
  errorSamples: string[];
}

export interface DrainReply {
  op: "drained";
  ms: number;
  sockets: number;
  complete: number;
  got: number;
  lost: number;
  dups: number;
  connectFailed: number;
  firstPushMs: number[];
  finishMs: number[];
  counters: Counters;
  errorSamples: string[];
}

export type LoadgenReply =
  | { op: "ready" }
  | { op: "connected"; ok: number; failed: number; ms: number; errorSamples: string[] }
  | { op: "started" }
  | { op: "seeded"; ms: number; counters: Counters; errorSamples: string[] }
  | { op: "dropped" }
  | { op: "failed"; error: string }
  | SnapReply
  | DrainReply;

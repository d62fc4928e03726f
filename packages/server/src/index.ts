export { createServer, type BlazeServer, type ServerParts } from "./server.js";
export { DEFAULT_CONFIG, resolveConfig, sqlitePath, blobDir, type ServerConfig } from "./config.js";
export { SqliteStore } from "./store/sqlite/sqlite-store.js";
export type * from "./store/store.js";
export { LocalBus, type Bus, type BusEvent } from "./bus/bus.js";
export { FsBlobStore, type BlobStore } from "./blobs/blob-store.js";
export { UserService, type CreatedAccount } from "./core/users.js";

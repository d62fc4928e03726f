import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { FsBlobStore, type BlobStore } from "./blobs/blob-store.js";
import { waitForHealthy, type Bus } from "./bus/bus.js";
import { openBus } from "./bus/open-bus.js";
import { blobDir, resolveConfig, type ServerConfig } from "./config.js";
import { Gateway } from "./gateway/gateway.js";
import { PushFrameCache } from "./gateway/frame-cache.js";
import { buildHttpApp } from "./http/app.js";
import { installOps } from "./http/ops.js";
import { createLogger } from "./logging.js";
import { createServices, type Services } from "./services.js";
import { openStore, redactUrl } from "./store/open-store.js";
import { nowMicros, type Store } from "./store/store.js";

export interface ServerParts {
  store?: Store;
  bus?: Bus;
  blobs?: BlobStore;
  logger?: Logger;
}

export interface BlazeServer {
  readonly config: Readonly<ServerConfig>;
  readonly services: Services;
  readonly log: Logger;
  /** Listens; resolves with the bound address (port 0 picks one). */
  start(): Promise<{ host: string; port: number; httpUrl: string; wsUrl: string }>;
  /** Stops accepting, closes sockets, commits what was accepted, then closes storage. */
  stop(): Promise<void>;
}

export function createServer(partial: Partial<ServerConfig> = {}, parts: ServerParts = {}): BlazeServer {
  const config = resolveConfig(partial);
  const log = parts.logger ?? createLogger(config.logLevel);
  const store = parts.store ?? openStore(config, log, "server");
  const bus = parts.bus ?? openBus(config, log);
  const blobs = parts.blobs ?? new FsBlobStore(blobDir(config));
  const services = createServices(config, store, bus, blobs);
  const app = buildHttpApp(services, log);
  const gateway = new Gateway(services.auth, bus, {
    config,
    store,
    messaging: services.messaging,
    frames: new PushFrameCache(config.compression),
    log,
    metrics: services.metrics,
  });
  app.server.on("upgrade", (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  // Operations: /healthz, /readyz, /metrics; revoked sessions' sockets closed on every node.
  let ready = false;
  services.metrics.attach({
    connections: () => gateway.connectionCount,
    ready: () => ready,
    store,
    storeKind: config.database === "sqlite" ? "sqlite" : "postgres",
    bus,
    busKind: config.bus === "local" ? "local" : "redis",
  });
  installOps(app, services.metrics);
  const unwatchRevocations = services.auth.revocations.onRevoked((r) => gateway.closeRevoked(r));

  let expiryTimer: NodeJS.Timeout | undefined;
  const expire = () =>
    store
      .expire(nowMicros() - config.messageTtlSeconds * 1_000_000)
      .then((n) => n > 0 && log.info({ removed: n }, "expired undelivered messages"))
      .catch((err) => log.error({ err }, "expiry failed"));

  return {
    config,
    services,
    log,
    async start() {
      await store.migrate();
      await services.auth.revocations.sync();
      // Serving before the bus is up is safe (the gateway polls meanwhile), just slower to deliver.
      if (!(await waitForHealthy(bus, 5000))) log.warn("bus not reachable yet; polling mailboxes until it is");
      await app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
      const addr = app.server.address() as AddressInfo;
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      void expire();
      expiryTimer = setInterval(expire, config.expiryIntervalMs);
      expiryTimer.unref();
      services.auth.revocations.start(config.revocationPollMs, (err) => log.warn({ err }, "reading the revocation log failed"));
      ready = true;
      const result = { host: addr.address, port: addr.port, httpUrl: `http://${host}:${addr.port}`, wsUrl: `ws://${host}:${addr.port}/` };
      log.info({ ...result, dataDir: config.dataDir, database: redactUrl(config.database), bus: redactUrl(config.bus) }, "openblaze listening");
      return result;
    },
    async stop() {
      // Not ready first, so load balancers stop sending new clients while this node still serves.
      ready = false;
      if (config.drainDelayMs > 0) {
        log.info({ drainDelayMs: config.drainDelayMs }, "draining: /readyz answers 503 before sockets close");
        await new Promise((r) => setTimeout(r, config.drainDelayMs));
      }
      services.auth.revocations.stop();
      unwatchRevocations();
      clearInterval(expiryTimer);
      // close() drops only connections idle at that moment; one whose response was still in flight
      // would otherwise hold the stop until its keep-alive timeout (72 s), so sweep until closed.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      await Promise.all([gateway.close(), app.close()]).finally(() => clearInterval(sweep));
      await Promise.all([services.committer.drain(), services.ackCommitter.drain()]);
      services.metrics.detach();
      await bus.close();
      await store.close();
      log.info("openblaze stopped");
    },
  };
}

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import { BlazeError, ErrorCodes, newUuid } from "@openblaze/protocol";
import type { Services } from "../services.js";
import { apiRoutes, blobRoutes } from "./api.js";
import { devRoutes } from "./dev.js";
import { loadWebBundle, webRoutes } from "./web.js";

const API_BODY_LIMIT = 4 * 1024 * 1024;

/** Fastify errors a client caused become Blaze errors; anything else is a fault (500). */
function toBlazeError(e: FastifyError | BlazeError): BlazeError | undefined {
  if (e instanceof BlazeError) return e;
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new BlazeError(ErrorCodes.BAD_REQUEST, { reason: e.message });
  }
  return undefined;
}

/**
 * Upload and view URLs, and methods the API never uses (PUT to a mangled upload URL), must fail
 * with a real HTTP status: uploaders take any 2xx, 202 included, as success.
 */
function wantsRealStatus(method: string, url: string): boolean {
  return (method !== "GET" && method !== "POST" && method !== "HEAD") || url.startsWith("/uploads/") || url.startsWith("/blobs/");
}

export function buildHttpApp(services: Services, log: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: API_BODY_LIMIT,
    genReqId: (req) => {
      const id = req.headers["x-request-id"];
      return typeof id === "string" && id !== "" ? id : newUuid();
    },
    // The router's own refusals (a malformed %-escape, a path parameter over 100 characters) in
    // the Blaze envelope with the request id, instead of fastify's default body.
    frameworkErrors: (e, req, reply) => {
      reply.header("X-Request-Id", req.id);
      const error = new BlazeError(ErrorCodes.BAD_REQUEST, { reason: e.message }).toJSON();
      return (reply as unknown as FastifyReply).code(wantsRealStatus(req.method, req.url) ? (e.statusCode ?? 400) : 202).send({ error });
    },
  });

  // Android and fox-one reject a response whose X-Request-Id differs from the request's.
  app.addHook("onRequest", async (req, reply) => {
    reply.header("X-Request-Id", req.id);
    reply.header("X-Server-Time", String(BigInt(Date.now()) * 1_000_000n));
  });
  app.addHook("onResponse", async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, "request");
  });

  app.setErrorHandler((e: FastifyError | BlazeError, req, reply) => {
    const blaze = toBlazeError(e);
    if (!blaze) {
      req.log.error({ err: e, method: req.method, url: req.url }, "request failed");
      return reply.code(500).send({ error: new BlazeError(ErrorCodes.INTERNAL).toJSON() });
    }
    return reply.code(blaze.status === 500 ? 500 : 202).send({ error: blaze.toJSON() });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(wantsRealStatus(req.method, req.url) ? 404 : 202).send({ error: new BlazeError(ErrorCodes.NOT_FOUND).toJSON() }),
  );

  app.register(apiRoutes, { services });
  app.register(blobRoutes, { services });
  if (services.config.dev) app.register(devRoutes, { services });
  if (services.config.webDir) {
    const bundle = loadWebBundle(services.config.webDir, { dev: services.config.dev });
    if (bundle) app.register(webRoutes, { bundle });
    else log.warn({ webDir: services.config.webDir }, "no index.html in webDir: web chat not served");
  }
  return app;
}

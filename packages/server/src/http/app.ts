import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { BlazeError, ErrorCodes, newUuid } from "@openblaze/protocol";
import type { Services } from "../services.js";
import { apiRoutes, blobRoutes } from "./api.js";

const API_BODY_LIMIT = 4 * 1024 * 1024;

/** Fastify errors a client caused become Blaze errors; anything else is a fault (500). */
function toBlazeError(e: FastifyError | BlazeError): BlazeError | undefined {
  if (e instanceof BlazeError) return e;
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new BlazeError(ErrorCodes.BAD_REQUEST, { reason: e.message });
  }
  return undefined;
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
  app.setNotFoundHandler((_req, reply) => reply.code(202).send({ error: new BlazeError(ErrorCodes.NOT_FOUND).toJSON() }));

  app.register(apiRoutes, { services });
  app.register(blobRoutes, { services });
  return app;
}

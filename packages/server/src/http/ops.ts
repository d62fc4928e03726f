import type { FastifyError, FastifyInstance } from "fastify";
import { BlazeError, ErrorCodes } from "@openblaze/protocol";
import type { Metrics } from "../metrics.js";

/**
 * Operator endpoints, unauthenticated and outside the Blaze `{"data": …}` envelope (plain JSON and
 * Prometheus text, real HTTP statuses), plus the HTTP request metrics. Installed on the root
 * instance (not as an encapsulated plugin) so the hooks see every route.
 *
 * - `GET /healthz`: 200 while the process serves HTTP at all (liveness).
 * - `GET /readyz`: 200 when the store answers a ping, the bus is healthy and the node is not
 *   draining; 503 otherwise (readiness: take the node out of the load balancer).
 * - `GET /metrics`: Prometheus text exposition.
 */
export function installOps(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onError", async (_req, _reply, e: FastifyError | BlazeError) => {
    const code = e instanceof BlazeError ? e.code : typeof e.statusCode === "number" && e.statusCode < 500 ? ErrorCodes.BAD_REQUEST : ErrorCodes.INTERNAL;
    metrics.error(code, "http");
    if (code === ErrorCodes.UNAUTHORIZED && e instanceof BlazeError) metrics.authFailed(e.extra?.reason, "http");
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url;
    // Unmatched paths are answered by the not-found handler (Blaze 404) without throwing.
    if (route === undefined) metrics.error(ErrorCodes.NOT_FOUND, "http");
    metrics.httpRequest(req.method, route ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get("/healthz", async (_req, reply) => reply.header("Cache-Control", "no-store").send({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    const r = await metrics.readiness();
    return reply.code(r.ready ? 200 : 503).header("Cache-Control", "no-store").send(r);
  });

  app.get("/metrics", async (_req, reply) =>
    reply.header("Content-Type", metrics.contentType).header("Cache-Control", "no-store").send(await metrics.render()),
  );
}

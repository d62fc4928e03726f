import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { BlazeError, ErrorCodes, badRequest, invalidField } from "@openblaze/protocol";
import type { Identity } from "../core/identity.js";
import type { Services } from "../services.js";
import { attachmentView, conversationView, meView, messageView, userView } from "../core/views.js";

declare module "fastify" {
  interface FastifyRequest {
    rawBody: Buffer | undefined;
    identity: Identity;
  }
}

/** JSON bodies are kept raw: the token's `sig` covers the exact bytes sent. */
function parseJsonKeepingRaw(req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void {
  req.rawBody = body;
  if (body.length === 0) return done(null, undefined);
  try {
    done(null, JSON.parse(body.toString("utf8")));
  } catch {
    done(badRequest("body is not valid JSON"));
  }
}

function publicUrl(services: Services, req: FastifyRequest): string {
  return services.config.publicUrl ?? `${req.protocol}://${req.host}`;
}

const ok = (reply: FastifyReply, data: unknown) => reply.send({ data });

/** The signed REST API (protocol.md §5): thin handlers over the core services. */
export async function apiRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  const s = opts.services;
  app.decorateRequest("rawBody", undefined);
  app.decorateRequest("identity", undefined as unknown as Identity);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, parseJsonKeepingRaw);

  app.addHook("preHandler", async (req) => {
    req.identity = await s.auth.authenticate({
      authorization: req.headers.authorization,
      method: req.method,
      uri: req.url,
      body: req.rawBody ?? "",
    });
  });

  app.get("/me", async (req, reply) => ok(reply, meView(await s.users.me(req.identity), req.identity.sessionId)));

  app.get<{ Params: { id: string } }>("/users/:id", async (req, reply) =>
    ok(reply, userView(await s.users.get(req.params.id), req.identity.userId)),
  );

  app.post("/users/fetch", async (req, reply) =>
    ok(reply, (await s.users.fetch(req.body)).map((u) => userView(u, req.identity.userId))),
  );

  app.post("/users", async (req, reply) => {
    const created = await s.users.createNetworkUser(req.identity, req.body);
    return ok(reply, meView(created.user, created.sessionId));
  });

  const conversation = async (req: FastifyRequest, reply: FastifyReply, d: Awaited<ReturnType<Services["conversations"]["details"]>>) =>
    ok(reply, conversationView(d.conversation, d.participants, d.sessions, publicUrl(s, req)));

  app.post("/conversations", async (req, reply) => conversation(req, reply, await s.conversations.create(req.identity, req.body)));

  app.get<{ Params: { id: string } }>("/conversations/:id", async (req, reply) =>
    conversation(req, reply, await s.conversations.get(req.identity, req.params.id)),
  );

  app.post<{ Params: { id: string } }>("/conversations/:id", async (req, reply) =>
    conversation(req, reply, await s.conversations.update(req.identity, req.params.id, req.body)),
  );

  app.post<{ Params: { id: string; action: string } }>("/conversations/:id/participants/:action", async (req, reply) =>
    conversation(req, reply, await s.conversations.changeParticipants(req.identity, req.params.id, req.params.action, req.body)),
  );

  app.post<{ Params: { id: string } }>("/conversations/:id/exit", async (req, reply) => {
    await s.conversations.exit(req.identity, req.params.id);
    return ok(reply, {});
  });

  // An array answers {} (docs); one object answers its MessageView (Go posts single objects).
  app.post("/messages", async (req, reply) => {
    if (Array.isArray(req.body)) {
      await s.messaging.sendBatch(req.identity, req.body, "plain-and-app");
      return ok(reply, {});
    }
    const sent = await s.messaging.sendOne(req.identity, req.body);
    return ok(reply, messageView(sent.message, ""));
  });

  app.post("/acknowledgements", async (req, reply) => {
    await s.messaging.acknowledge(req.identity, req.body);
    return ok(reply, {});
  });

  app.post("/attachments", async (req, reply) => ok(reply, attachmentView(await s.attachments.create(req.identity), publicUrl(s, req), true)));

  app.get<{ Params: { id: string } }>("/attachments/:id", async (req, reply) =>
    ok(reply, attachmentView(await s.attachments.get(req.params.id), publicUrl(s, req), false)),
  );
}

/** Upload and view URLs: capability URLs (the token is the secret), unsigned like S3's. */
export async function blobRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  const s = opts.services;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
  // Uploaders (like S3 clients) take any 2xx as success, so these URLs fail with real HTTP statuses.
  app.setErrorHandler((e: FastifyError | BlazeError, req, reply) => {
    const status = blobErrorStatus(e);
    if (status === 500) req.log.error({ err: e, method: req.method, url: req.url }, "blob request failed");
    // An upload refused midway leaves body bytes on the socket: a reused connection would stall.
    if (!req.raw.complete) reply.header("Connection", "close");
    const body = e instanceof BlazeError ? e : new BlazeError(status === 500 ? ErrorCodes.INTERNAL : ErrorCodes.BAD_REQUEST, { reason: e.message });
    return reply.code(status).send({ error: body.toJSON() });
  });

  // Clients PUT with `x-amz-acl: public-read` (signed into real presigned URLs); accepted, ignored.
  app.put<{ Params: { token: string } }>("/uploads/:token", { bodyLimit: s.config.maxAttachmentBytes }, async (req, reply) => {
    // A declared size over the limit is refused at once, not after reading up to the limit.
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > s.config.maxAttachmentBytes) throw invalidField("body", `Content-Length ${declared} exceeds ${s.config.maxAttachmentBytes} bytes`);
    const body = (req.body as NodeJS.ReadableStream | undefined) ?? req.raw;
    await s.attachments.upload(req.params.token, body as import("node:stream").Readable);
    return reply.code(200).send();
  });

  app.get<{ Params: { token: string } }>("/blobs/:token", async (req, reply) => {
    const blob = await s.attachments.open(req.params.token);
    return reply.header("Content-Type", "application/octet-stream").header("Content-Length", blob.size).send(blob.stream);
  });
}

function blobErrorStatus(e: FastifyError | BlazeError): number {
  if (e instanceof BlazeError) {
    if (e.status === 500) return 500;
    if (e.code === ErrorCodes.NOT_FOUND) return 404;
    // The only invalid field here is a body over maxAttachmentBytes.
    return e.code === ErrorCodes.INVALID_FIELD ? 413 : 400;
  }
  return typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
}

export function notFound(): BlazeError {
  return new BlazeError(ErrorCodes.NOT_FOUND);
}

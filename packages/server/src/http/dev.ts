import type { FastifyInstance } from "fastify";
import type { Services } from "../services.js";
import { meView } from "../core/views.js";

/**
 * Development mode only (`openblaze serve --dev`): unauthenticated self-signup, used by the web
 * chat's "Create account". Never registered otherwise, so the route is a plain 404.
 */
export async function devRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  const users = opts.services.users;
  // `{full_name, session_secret?}` → the user and a keystore in the official SDKs' format; it
  // carries session_private_key only when the server generated the key (no session_secret sent).
  app.post("/dev/signup", async (req, reply) => {
    const account = await users.signup(req.body);
    return reply.send({ data: { user: meView(account.user, account.sessionId), keystore: await users.keystore(account) } });
  });
}

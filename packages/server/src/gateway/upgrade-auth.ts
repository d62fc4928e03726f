import type { IncomingMessage } from "node:http";
import { ACCESS_TOKEN_QUERY_PARAM, BROWSER_TOKEN_SUBPROTOCOL_PREFIX } from "@openblaze/protocol";

/**
 * The `Authorization` value of a WebSocket upgrade. Official clients send the header. Browsers
 * cannot set headers on a WebSocket, so openblaze also takes the token (an openblaze extension) as
 * an extra subprotocol `openblaze.token.<jwt>` offered beside `Mixin-Blaze-1` (never echoed), or as
 * the `access_token` query parameter. The header wins, then the subprotocol, then the query. The
 * token is verified exactly like the header's: its `sig` covers "GET" + "/" whatever the query.
 */
export function upgradeAuthorization(req: IncomingMessage): string | undefined {
  if (req.headers.authorization) return req.headers.authorization;
  const offered = req.headers["sec-websocket-protocol"];
  if (typeof offered === "string") {
    for (const value of offered.split(",")) {
      const p = value.trim();
      if (p.startsWith(BROWSER_TOKEN_SUBPROTOCOL_PREFIX)) return `Bearer ${p.slice(BROWSER_TOKEN_SUBPROTOCOL_PREFIX.length)}`;
    }
  }
  const q = (req.url ?? "").indexOf("?");
  if (q >= 0) {
    const token = new URLSearchParams((req.url ?? "").slice(q + 1)).get(ACCESS_TOKEN_QUERY_PARAM);
    if (token) return `Bearer ${token}`;
  }
  return undefined;
}

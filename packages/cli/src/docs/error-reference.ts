import { ERROR_TABLE, ErrorCodes, type ErrorCode } from "@openblaze/protocol";

/**
 * When openblaze answers each code. Keyed by every code of the protocol's ERROR_TABLE: a code added
 * there without a note here fails the docs test (packages/cli/test/docs.test.ts).
 */
export const ERROR_NOTES: Readonly<Record<ErrorCode, string>> = {
  400:
    "The HTTP body is not JSON, a WebSocket frame is not one gzip-compressed JSON envelope (text frames, bad gzip, over the size caps), an envelope lacks `id`/`action`, or the action is unknown (the reply keeps the request's `id` and `action`). The socket stays open; 50 bad frames in a row close it with 1008.",
  401:
    "The token is missing, malformed, expired, issued more than 5 minutes in the future, signed with the wrong key, or its `sig` does not match the request; the session is unknown or was revoked (`openblaze session revoke`), or the user is disabled (`openblaze user disable`). `extra.reason` says which. On the WebSocket: one `ERROR` frame, then close 1008 (also for open sockets of a session revoked later).",
  403:
    "The caller may not do this: send to a conversation it is not a participant of, acknowledge a message that was not sent to it, read a conversation it is not in, manage a group without being its owner or an admin, or create network users (`POST /users`) without being a bot.",
  404:
    "Unknown HTTP endpoint, conversation or attachment, unknown participants action, or an attachment upload/view token that does not exist (those URLs answer a real HTTP 404).",
  429:
    "Rate limits: more than `rateLimitPerMinute` messages per user per minute (100,000 by default); more than `maxRequestsPerSecond` requests on one socket (acknowledgements of delivered messages do not count; the socket stays open; sustained abuse closes it with 1008); more than `maxSocketsPerSession` open sockets for one session (the new socket gets this and close 1008).",
  500: "An internal fault on the HTTP API (logged with context). The only error answered with HTTP status 500; clients retry.",
  7000:
    "An internal fault while handling a WebSocket request (logged), or a request read while the server is shutting down (`extra.reason` says so: not processed, retry after reconnecting).",
  7001: "Not produced by openblaze (the real service's timeout code); clients treat it like 7000 and retry.",
  10001: "Not produced by openblaze (the real service's transaction error).",
  10002:
    "A field is invalid: `extra.field` names it and `extra.reason` explains (bad UUID, unsupported category, payload that fails its category's validation, batch over 100 items, `message_id` already used by another sender or conversation, bad `offset`, attachment over `maxAttachmentBytes`…). Batches are atomic: `extra.index` points at the first bad item.",
  10404: "A user id that does not exist: `GET /users/:id`, a CONTACT conversation or message to an unknown user, adding an unknown participant.",
  20116: "A group would have more than 256 participants.",
  20150: "Not produced by openblaze (the real service rejects duplicate receivers with it).",
};

const NAMES = new Map<number, string>(Object.entries(ErrorCodes).map(([name, code]) => [code, name]));

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** docs/errors.md, generated from the protocol's ERROR_TABLE (run `npm run docs`). */
export function renderErrorReference(): string {
  const codes = Object.keys(ERROR_TABLE)
    .map(Number)
    .sort((a, b) => a - b) as ErrorCode[];
  const rows = codes.map((code) => {
    const spec = ERROR_TABLE[code];
    return `| ${code} | \`${NAMES.get(code) ?? ""}\` | ${spec.status} | ${cell(spec.description)} | ${cell(ERROR_NOTES[code])} |`;
  });
  return `<!-- Generated from ERROR_TABLE in packages/protocol/src/errors.ts by \`npm run docs\`; do not edit by hand. -->

# Error codes

Every failure a client can cause has a Blaze error code. The same error object travels on both
transports:

\`\`\`json
{"status": 202, "code": 10002, "description": "The request data has invalid field.", "extra": {"field": "category", "reason": "category FOO cannot be sent"}}
\`\`\`

- **WebSocket**: in the \`error\` member of a frame. A reply to a request keeps the request's \`id\`
  and \`action\`: \`{"id": "…", "action": "CREATE_MESSAGE", "error": {…}}\`. Errors that belong to no
  request (a refused token, an unreadable frame) come as \`action: "ERROR"\`.
- **HTTP**: the body is \`{"error": {…}}\` with HTTP status **202** for every error a client caused,
  and **500** only for server faults (code 500), as on the real service. The \`status\` member
  repeats that HTTP status. The operator endpoints \`/healthz\`, \`/readyz\`, \`/metrics\` and the
  attachment upload/view URLs are the exceptions: they answer real HTTP statuses
  ([http.md](http.md)).
- \`extra\` is optional: \`reason\` (human-readable), \`field\` (the offending request field) and, for
  batches, \`index\` (the first bad item).

| code | name | status | description (sent as is) | when openblaze answers it |
|---|---|---|---|---|
${rows.join("\n")}

Codes of the real service that openblaze never sends (wallet, PIN, phone, Signal key and call
errors) are not in this table; clients written for Mixin may still know them.
`;
}

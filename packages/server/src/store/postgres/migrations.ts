/**
 * Versioned PostgreSQL schema, applied in order at start under an advisory lock (so nodes starting
 * together do not race); `schema_migrations` records what ran. Append only: an applied migration is
 * never edited.
 *
 * Ids that are UUIDs on the wire are `uuid` (16 bytes, fast B-tree keys); "" on the wire is NULL
 * for optional ids. Times are microseconds since the epoch in `bigint`, like the SQLite store.
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);

CREATE SEQUENCE identity_numbers START 7000100001;
CREATE TABLE users (
  user_id uuid PRIMARY KEY,
  identity_number bigint NOT NULL UNIQUE DEFAULT nextval('identity_numbers'),
  full_name text NOT NULL,
  is_bot boolean NOT NULL,
  owner_id uuid,
  created_at bigint NOT NULL
);
ALTER SEQUENCE identity_numbers OWNED BY users.identity_number;

CREATE TABLE sessions (
  session_id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (user_id),
  public_key bytea NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

CREATE TABLE conversations (
  conversation_id uuid PRIMARY KEY,
  category text NOT NULL,
  creator_id uuid NOT NULL,
  name text NOT NULL,
  announcement text NOT NULL,
  code_id text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE participants (
  conversation_id uuid NOT NULL,
  user_id uuid NOT NULL,
  role text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
);

CREATE TABLE messages (
  message_id uuid PRIMARY KEY,
  conversation_id uuid NOT NULL,
  user_id uuid NOT NULL,
  session_id uuid NOT NULL,
  category text NOT NULL,
  payload bytea NOT NULL,
  representative_id uuid,
  quote_message_id uuid,
  silent boolean NOT NULL,
  expire_in bigint NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX messages_by_created ON messages (created_at);

-- The identity sequence is never reset or cycled, so a delivery cursor (last seq pushed) can never
-- skip a newer row. Writers take an advisory lock before drawing numbers (see the store), so rows
-- become visible in seq order.
CREATE TABLE mailbox (
  seq bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME mailbox_seq) PRIMARY KEY,
  user_id uuid NOT NULL,
  session_id uuid NOT NULL,
  message_id uuid NOT NULL,
  created_at bigint NOT NULL
);
-- (message_id, session_id): acks look rows up by message; the session-first index below serves reads.
CREATE UNIQUE INDEX mailbox_by_message_session ON mailbox (message_id, session_id);
CREATE INDEX mailbox_by_session_seq ON mailbox (session_id, seq);
-- No index on created_at: expiry finds rows through messages_by_created, one index less per insert.

CREATE TABLE message_status (
  message_id uuid NOT NULL,
  user_id uuid NOT NULL,
  status smallint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (message_id, user_id)
);

CREATE TABLE attachments (
  attachment_id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  upload_token text NOT NULL UNIQUE,
  view_token text NOT NULL UNIQUE,
  size bigint NOT NULL,
  uploaded boolean NOT NULL,
  created_at bigint NOT NULL
);
`,
  },
  {
    // Operator controls: disabled users, and the revocation log every node follows (sessions
    // revoked, users disabled) to drop cached keys and close sockets. Writers lock the table, so
    // entries become visible in seq order and a reader's cursor never skips one.
    version: 2,
    sql: `
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;

CREATE TABLE revocations (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  -- NULL: the whole user was disabled.
  session_id uuid,
  created_at bigint NOT NULL
);
`,
  },
];

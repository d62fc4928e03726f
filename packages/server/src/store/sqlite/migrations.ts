/**
 * Versioned schema, applied in order at start; `PRAGMA user_version` records the last one run.
 * Append only: an applied migration is never edited.
 */
export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  identity_number INTEGER NOT NULL UNIQUE,
  full_name TEXT NOT NULL,
  is_bot INTEGER NOT NULL,
  owner_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(user_id),
  public_key BLOB NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE conversations (
  conversation_id TEXT PRIMARY KEY,
  category TEXT NOT NULL,
  creator_id TEXT NOT NULL,
  name TEXT NOT NULL,
  announcement TEXT NOT NULL,
  code_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE participants (
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;

-- rowid table with a unique message_id: client ids are random v4, and random-key B-tree
-- inserts are what costs (server-anchors.md §3.4).
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  category TEXT NOT NULL,
  payload BLOB NOT NULL,
  representative_id TEXT NOT NULL,
  quote_message_id TEXT NOT NULL,
  silent INTEGER NOT NULL,
  expire_in INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX messages_by_created ON messages(created_at);

-- AUTOINCREMENT: a sequence number is never reused after deletes, so a delivery cursor
-- (last seq pushed) can never skip a newer row.
CREATE TABLE mailbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX mailbox_by_session_message ON mailbox(session_id, message_id);
CREATE INDEX mailbox_by_session_seq ON mailbox(session_id, seq);
CREATE INDEX mailbox_by_created ON mailbox(created_at);

CREATE TABLE message_status (
  message_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;

CREATE TABLE attachments (
  attachment_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  upload_token TEXT NOT NULL UNIQUE,
  view_token TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  uploaded INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    // Operator controls: disabled users, and the revocation log every node follows (sessions
    // revoked, users disabled) to drop cached keys and close sockets.
    version: 2,
    sql: `
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    // Mailbox and status rows name their message by its rowid instead of its text UUID: status
    // keys (message_row, user) then grow at the right edge of the B-tree instead of landing on a
    // random page, both tables shrink, and reads join on the rowid. `seq` values and the mailbox's
    // AUTOINCREMENT high-water mark carry over, so delivery cursors stay valid.
    version: 3,
    sql: `
CREATE TABLE mailbox_v3 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  message_row INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
INSERT INTO mailbox_v3 (seq, user_id, session_id, message_row, created_at)
  SELECT mb.seq, mb.user_id, mb.session_id, m.id, mb.created_at FROM mailbox mb JOIN messages m ON m.message_id = mb.message_id;
DELETE FROM sqlite_sequence WHERE name = 'mailbox_v3';
INSERT INTO sqlite_sequence (name, seq) SELECT 'mailbox_v3', seq FROM sqlite_sequence WHERE name = 'mailbox';
DROP TABLE mailbox;
ALTER TABLE mailbox_v3 RENAME TO mailbox;
CREATE UNIQUE INDEX mailbox_by_session_message ON mailbox(session_id, message_row);
CREATE INDEX mailbox_by_session_seq ON mailbox(session_id, seq);
CREATE INDEX mailbox_by_created ON mailbox(created_at);

CREATE TABLE message_status_v3 (
  message_row INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (message_row, user_id)
) WITHOUT ROWID;
INSERT INTO message_status_v3 (message_row, user_id, status, updated_at)
  SELECT m.id, s.user_id, s.status, s.updated_at FROM message_status s JOIN messages m ON m.message_id = s.message_id;
DROP TABLE message_status;
ALTER TABLE message_status_v3 RENAME TO message_status;
`,
  },
  {
    // One B-tree for the mailbox instead of a rowid table and three indexes: a row is keyed by
    // (session, seq) and its seq is its message's rowid, so inserting, acking and reading a session's
    // mailbox each touch one B-tree. Message rowids come from a counter that never goes back (a
    // delivery cursor must never see a number reused), starting from the highest of the old mailbox
    // seqs and the message rowids; expiry goes by the messages' own index.
    version: 4,
    sql: `
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('message_seq', max(
  coalesce((SELECT max(id) FROM messages), 0),
  coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'mailbox'), 0)));
CREATE TABLE mailbox_v4 (
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
-- In key order (read off the old (session, message) index): appends instead of random inserts.
INSERT INTO mailbox_v4 (session_id, seq, user_id) SELECT session_id, message_row, user_id FROM mailbox ORDER BY session_id, message_row;
DROP TABLE mailbox;
DELETE FROM sqlite_sequence WHERE name = 'mailbox';
ALTER TABLE mailbox_v4 RENAME TO mailbox;
`,
  },
  {
    // Message ids leave the messages table's UNIQUE index for a table of their own that is filled
    // many sorted ids at a time (recent-ids.ts): the index took a random-leaf write per message.
    // `ids_indexed`: every message with a rowid up to it has its id in message_ids; newer ones are
    // looked up in memory, rebuilt from `messages` on open.
    version: 5,
    sql: `
CREATE TABLE message_ids (message_id TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO message_ids (message_id, row) SELECT message_id, id FROM messages ORDER BY message_id;
INSERT INTO counters (name, value) VALUES ('ids_indexed', coalesce((SELECT max(id) FROM messages), 0));
CREATE TABLE messages_v5 (
  id INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  category TEXT NOT NULL,
  payload BLOB NOT NULL,
  representative_id TEXT NOT NULL,
  quote_message_id TEXT NOT NULL,
  silent INTEGER NOT NULL,
  expire_in INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
INSERT INTO messages_v5 SELECT id, message_id, conversation_id, user_id, session_id, category, payload,
  representative_id, quote_message_id, silent, expire_in, created_at FROM messages ORDER BY id;
DROP TABLE messages;
ALTER TABLE messages_v5 RENAME TO messages;
CREATE INDEX messages_by_created ON messages(created_at);
`,
  },
];

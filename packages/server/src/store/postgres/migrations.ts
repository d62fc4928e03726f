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
  {
    // Accepts and acks as one call each: one round trip and one implicit transaction instead of
    // BEGIN, three or four statements and COMMIT. Round trips were most of a node's CPU per message
    // on this path (and PostgreSQL's). Accept runs the store's former statements in the same order;
    // ack finds its rows through = ANY on indexed columns (see the comment on ob_acknowledge).
    version: 3,
    sql: `
-- Inserts the candidates (distinct ids) and, for those it created, their statuses and mailbox
-- rows (one per recipient session; seqs drawn under the advisory lock p_lock, held to commit).
-- Returns one row per candidate: created, or the stored message that already had the id.
CREATE FUNCTION ob_accept_messages(
  p_ids uuid[], p_conversations uuid[], p_users uuid[], p_sessions uuid[], p_categories text[], p_payloads bytea[],
  p_representatives uuid[], p_quotes uuid[], p_silent boolean[], p_expire_in bigint[], p_created_at bigint,
  p_mail_messages uuid[], p_mail_users uuid[], p_lock bigint)
RETURNS TABLE (created boolean, message_id uuid, conversation_id uuid, user_id uuid, session_id uuid, category text, payload bytea,
  representative_id uuid, quote_message_id uuid, silent boolean, expire_in bigint, created_at bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_created uuid[];
BEGIN
  WITH ins AS (
    INSERT INTO messages (message_id, conversation_id, user_id, session_id, category, payload, representative_id, quote_message_id, silent, expire_in, created_at)
    SELECT t.*, p_created_at
    FROM unnest(p_ids, p_conversations, p_users, p_sessions, p_categories, p_payloads, p_representatives, p_quotes, p_silent, p_expire_in)
      AS t(message_id, conversation_id, user_id, session_id, category, payload, representative_id, quote_message_id, silent, expire_in)
    ORDER BY t.message_id
    ON CONFLICT (message_id) DO NOTHING
    RETURNING messages.message_id)
  SELECT coalesce(array_agg(ins.message_id), '{}') INTO v_created FROM ins;

  IF EXISTS (SELECT 1 FROM unnest(p_mail_messages) AS r(message_id) WHERE r.message_id = ANY(v_created)) THEN
    INSERT INTO message_status (message_id, user_id, status, updated_at)
    SELECT r.message_id, r.user_id, 0, p_created_at FROM unnest(p_mail_messages, p_mail_users) AS r(message_id, user_id)
    WHERE r.message_id = ANY(v_created)
    ORDER BY r.message_id, r.user_id
    ON CONFLICT DO NOTHING;
    PERFORM pg_advisory_xact_lock(p_lock);
    -- Row order (input order, then each recipient's sessions oldest first) is the seq order.
    INSERT INTO mailbox (user_id, session_id, message_id, created_at)
    SELECT s.user_id, s.session_id, r.message_id, p_created_at
    FROM unnest(p_mail_messages, p_mail_users) WITH ORDINALITY AS r(message_id, user_id, ord)
    JOIN sessions s ON s.user_id = r.user_id AND s.user_id = ANY(p_mail_users)
    WHERE r.message_id = ANY(v_created)
    ORDER BY r.ord, s.created_at, s.session_id
    ON CONFLICT DO NOTHING;
  END IF;

  RETURN QUERY SELECT true, c.id, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::bytea, NULL::uuid, NULL::uuid, NULL::boolean, NULL::bigint, NULL::bigint
    FROM unnest(v_created) AS c(id);
  -- ON CONFLICT waited for the other writer to commit, so these are visible now.
  RETURN QUERY SELECT false, m.message_id, m.conversation_id, m.user_id, m.session_id, m.category, m.payload,
      m.representative_id, m.quote_message_id, m.silent, m.expire_in, m.created_at
    FROM messages m WHERE m.message_id = ANY(p_ids) AND NOT (m.message_id = ANY(v_created));
END
$fn$;

-- Acknowledgements of many ackers: returns the requested (user, message) status rows as they were
-- before (locked in (user, message) order), then deletes the acking sessions' mailbox rows and
-- raises each pair's status to its highest requested rank (p_pair_ranks, matched by key). Pairs
-- and triples are matched by text keys ('user message', 'session user message') against rows found
-- through = ANY on the indexed columns, never by joining an unnest: the planner guesses 100 rows for
-- an unnest and picks a hash join over a scan of the whole table (seen: every ack call read all of
-- message_status and messages until the tables were analyzed).
CREATE FUNCTION ob_acknowledge(
  p_pair_users uuid[], p_pair_messages uuid[], p_pair_keys text[], p_pair_ranks smallint[],
  p_del_sessions uuid[], p_del_messages uuid[], p_del_keys text[], p_updated_at bigint)
RETURNS TABLE (user_id uuid, message_id uuid, status smallint, sender_id uuid, conversation_id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT st.user_id, st.message_id, st.status, m.user_id, m.conversation_id
    FROM message_status st JOIN messages m ON m.message_id = st.message_id AND m.message_id = ANY(p_pair_messages)
    WHERE st.message_id = ANY(p_pair_messages) AND st.user_id = ANY(p_pair_users)
      AND (st.user_id::text || ' ' || st.message_id::text) = ANY(p_pair_keys)
    ORDER BY st.user_id, st.message_id
    FOR UPDATE OF st;
  DELETE FROM mailbox mb
    WHERE mb.message_id = ANY(p_del_messages) AND mb.session_id = ANY(p_del_sessions)
      AND (mb.session_id::text || ' ' || mb.user_id::text || ' ' || mb.message_id::text) = ANY(p_del_keys);
  -- A row whose key is not a requested pair gets a NULL rank, and NULL comparisons are not true.
  UPDATE message_status st
    SET status = p_pair_ranks[array_position(p_pair_keys, st.user_id::text || ' ' || st.message_id::text)], updated_at = p_updated_at
    WHERE st.message_id = ANY(p_pair_messages) AND st.user_id = ANY(p_pair_users)
      AND st.status < p_pair_ranks[array_position(p_pair_keys, st.user_id::text || ' ' || st.message_id::text)];
END
$fn$;
`,
  },
  {
    // Accept cheaper (BENCHMARKS.md, step 25).
    //
    // Status rows on demand: a message records its recipients (messages.recipients) instead of
    // getting one SENT status row per recipient up front; ob_acknowledge creates a recipient's row
    // (SENT, at the message's time) the first time it is acked, then works as before. A stored
    // message costs two rows instead of three. Rows written by earlier versions (recipients NULL,
    // status rows present) keep working, and nodes of the previous version, mid rolling upgrade,
    // call the replaced ob_acknowledge and their ob_accept_messages as before.
    //
    // No per-row filters in the common case: when every candidate id was new, which is nearly
    // always, the mailbox rows go in unfiltered (no conflict is possible: the messages are this
    // transaction's own, recipients and their sessions distinct) and nothing is read back;
    // migration 3's version filtered every row through `= ANY(created ids)`, quadratic in the batch,
    // and re-read every id at the end. Only candidates that were not created come back.
    //
    // The mailbox loses its primary key: no query looks rows up by seq alone (readers go through
    // (session_id, seq), acks and expiry through (message_id, session_id)), the identity sequence
    // already makes seqs unique, and the index cost an insert per mailbox row.
    version: 4,
    sql: `
ALTER TABLE mailbox DROP CONSTRAINT mailbox_pkey;
-- NULL: a message stored by an earlier version, whose recipients all have status rows.
ALTER TABLE messages ADD COLUMN recipients uuid[];

-- p_rcpt_from / p_rcpt_to: each candidate's recipients are p_mail_users[from:to] (from = to + 1 for
-- none). p_atomic marks candidates of all-or-nothing requests: when one of them was not created,
-- the call fails with SQLSTATE OBC01 and writes nothing (the store then checks owners first).
-- Returns one row per candidate that was not created: found = true with the stored message that
-- already had the id, or found = false when it vanished between the conflict and the read.
CREATE FUNCTION ob_accept_messages_v2(
  p_ids uuid[], p_conversations uuid[], p_users uuid[], p_sessions uuid[], p_categories text[], p_payloads bytea[],
  p_representatives uuid[], p_quotes uuid[], p_silent boolean[], p_expire_in bigint[], p_created_at bigint,
  p_mail_messages uuid[], p_mail_users uuid[], p_rcpt_from integer[], p_rcpt_to integer[], p_atomic boolean[], p_lock bigint)
RETURNS TABLE (message_id uuid, found boolean, conversation_id uuid, user_id uuid, session_id uuid, category text, payload bytea,
  representative_id uuid, quote_message_id uuid, silent boolean, expire_in bigint, created_at bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_created uuid[];
  v_all boolean;
BEGIN
  WITH ins AS (
    INSERT INTO messages (message_id, conversation_id, user_id, session_id, category, payload, representative_id, quote_message_id, silent, expire_in, created_at, recipients)
    SELECT t.message_id, t.conversation_id, t.user_id, t.session_id, t.category, t.payload, t.representative_id, t.quote_message_id, t.silent, t.expire_in,
      p_created_at, p_mail_users[t.rcpt_from:t.rcpt_to]
    FROM unnest(p_ids, p_conversations, p_users, p_sessions, p_categories, p_payloads, p_representatives, p_quotes, p_silent, p_expire_in, p_rcpt_from, p_rcpt_to)
      AS t(message_id, conversation_id, user_id, session_id, category, payload, representative_id, quote_message_id, silent, expire_in, rcpt_from, rcpt_to)
    ORDER BY t.message_id
    ON CONFLICT (message_id) DO NOTHING
    RETURNING messages.message_id)
  SELECT coalesce(array_agg(ins.message_id), '{}') INTO v_created FROM ins;

  v_all := cardinality(v_created) = cardinality(p_ids);
  IF NOT v_all THEN
    IF EXISTS (SELECT 1 FROM unnest(p_ids, p_atomic) AS a(id, atomic) WHERE a.atomic AND NOT (a.id = ANY(v_created))) THEN
      RAISE EXCEPTION 'an id of an all-or-nothing request is already stored' USING ERRCODE = 'OBC01';
    END IF;
    -- Only created candidates get mailbox rows (the one pass over the rows with a filter).
    SELECT coalesce(array_agg(r.message_id ORDER BY r.ord), '{}'), coalesce(array_agg(r.user_id ORDER BY r.ord), '{}')
      INTO p_mail_messages, p_mail_users
      FROM unnest(p_mail_messages, p_mail_users) WITH ORDINALITY AS r(message_id, user_id, ord)
      WHERE r.message_id = ANY(v_created);
  END IF;
  IF cardinality(p_mail_messages) > 0 THEN
    PERFORM pg_advisory_xact_lock(p_lock);
    -- Row order (input order, then each recipient's sessions oldest first) is the seq order.
    INSERT INTO mailbox (user_id, session_id, message_id, created_at)
    SELECT s.user_id, s.session_id, r.message_id, p_created_at
    FROM unnest(p_mail_messages, p_mail_users) WITH ORDINALITY AS r(message_id, user_id, ord)
    JOIN sessions s ON s.user_id = r.user_id AND s.user_id = ANY(p_mail_users)
    ORDER BY r.ord, s.created_at, s.session_id;
  END IF;
  IF NOT v_all THEN
    -- ON CONFLICT waited for the other writer to commit, so its rows are visible now.
    RETURN QUERY SELECT c.id, m.message_id IS NOT NULL, m.conversation_id, m.user_id, m.session_id, m.category, m.payload,
        m.representative_id, m.quote_message_id, m.silent, m.expire_in, m.created_at
      FROM unnest(p_ids) AS c(id) LEFT JOIN messages m ON m.message_id = c.id
      WHERE NOT (c.id = ANY(v_created));
  END IF;
END
$fn$;

-- Migration 3's ob_acknowledge (same signature, so nodes of either version call this one), except
-- that a recipient's first ack of a message stored with its recipients creates the status row, at
-- the status asked for (reported as SENT before it, like a row made at accept). Rows are inserted
-- in (message, user) key order like the accept did, so two ackers of the same pairs wait for each
-- other instead of deadlocking; the second finds the first's row among the existing ones.
CREATE OR REPLACE FUNCTION ob_acknowledge(
  p_pair_users uuid[], p_pair_messages uuid[], p_pair_keys text[], p_pair_ranks smallint[],
  p_del_sessions uuid[], p_del_messages uuid[], p_del_keys text[], p_updated_at bigint)
RETURNS TABLE (user_id uuid, message_id uuid, status smallint, sender_id uuid, conversation_id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_users uuid[];
  v_messages uuid[];
  v_senders uuid[];
  v_conversations uuid[];
  v_keys text[];
BEGIN
  WITH src AS MATERIALIZED (
    SELECT m.message_id AS m_id, u.user_id AS u_id, m.user_id AS s_id, m.conversation_id AS c_id, u.user_id::text || ' ' || m.message_id::text AS k
    FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS u(user_id)
    WHERE m.message_id = ANY(p_pair_messages) AND m.recipients IS NOT NULL AND u.user_id = ANY(p_pair_users)
      AND (u.user_id::text || ' ' || m.message_id::text) = ANY(p_pair_keys)
  ), ins AS (
    INSERT INTO message_status (message_id, user_id, status, updated_at)
    SELECT src.m_id, src.u_id, p_pair_ranks[array_position(p_pair_keys, src.k)], p_updated_at FROM src
    ORDER BY src.m_id, src.u_id
    ON CONFLICT DO NOTHING
    RETURNING message_status.message_id AS m_id, message_status.user_id AS u_id)
  SELECT coalesce(array_agg(src.u_id), '{}'), coalesce(array_agg(src.m_id), '{}'), coalesce(array_agg(src.s_id), '{}'),
      coalesce(array_agg(src.c_id), '{}'), coalesce(array_agg(src.k), '{}')
    INTO v_users, v_messages, v_senders, v_conversations, v_keys
    FROM ins JOIN src ON src.m_id = ins.m_id AND src.u_id = ins.u_id;
  RETURN QUERY SELECT st.user_id, st.message_id, st.status, m.user_id, m.conversation_id
    FROM message_status st JOIN messages m ON m.message_id = st.message_id AND m.message_id = ANY(p_pair_messages)
    WHERE st.message_id = ANY(p_pair_messages) AND st.user_id = ANY(p_pair_users)
      AND (st.user_id::text || ' ' || st.message_id::text) = ANY(p_pair_keys)
      AND NOT ((st.user_id::text || ' ' || st.message_id::text) = ANY(v_keys))
    ORDER BY st.user_id, st.message_id
    FOR UPDATE OF st;
  RETURN QUERY SELECT n.u, n.m, 0::smallint, n.s, n.c FROM unnest(v_users, v_messages, v_senders, v_conversations) AS n(u, m, s, c);
  DELETE FROM mailbox mb
    WHERE mb.message_id = ANY(p_del_messages) AND mb.session_id = ANY(p_del_sessions)
      AND (mb.session_id::text || ' ' || mb.user_id::text || ' ' || mb.message_id::text) = ANY(p_del_keys);
  UPDATE message_status st
    SET status = p_pair_ranks[array_position(p_pair_keys, st.user_id::text || ' ' || st.message_id::text)], updated_at = p_updated_at
    WHERE st.message_id = ANY(p_pair_messages) AND st.user_id = ANY(p_pair_users)
      AND st.status < p_pair_ranks[array_position(p_pair_keys, st.user_id::text || ' ' || st.message_id::text)];
END
$fn$;
`,
  },
];

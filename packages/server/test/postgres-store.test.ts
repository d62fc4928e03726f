import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import pg from "pg";
import { POSTGRES_MIGRATIONS } from "../src/store/postgres/migrations.js";
import { PostgresStore, SQL, parsePostgresUrl } from "../src/store/postgres/postgres-store.js";
import type { NewMessage } from "../src/store/store.js";
import { storeContract } from "./store-contract.js";
import { TEST_POSTGRES_URL, dropSchema, testSchemaName } from "./services.js";

const open = (schema: string, poolSize?: number) => new PostgresStore({ connectionString: TEST_POSTGRES_URL, schema, ...(poolSize && { poolSize }) });

storeContract("PostgresStore", async () => {
  const schema = testSchemaName();
  let current = open(schema);
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = open(schema);
      return current;
    },
    cleanup: async () => {
      await current.close();
      await dropSchema(schema);
    },
  };
});

async function user(store: PostgresStore) {
  const u = { userId: randomUUID(), sessionId: randomUUID() };
  await store.createUser({ userId: u.userId, fullName: "u", isBot: false, ownerId: "" }, { sessionId: u.sessionId, publicKey: randomBytes(32) });
  return u;
}

function message(from: { userId: string; sessionId: string }, conversationId: string, to: readonly string[]): NewMessage {
  return {
    messageId: randomUUID(),
    conversationId,
    userId: from.userId,
    sessionId: from.sessionId,
    category: "PLAIN_TEXT",
    payload: randomBytes(64),
    representativeId: "",
    quoteMessageId: "",
    silent: false,
    expireIn: 0,
    recipientIds: to,
  };
}

/** Runs `fn` counting the queries every pg client sends meanwhile. */
async function countingQueries<T>(fn: () => Promise<T>): Promise<{ queries: number; result: T }> {
  let queries = 0;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    queries++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    const result = await fn();
    return { queries, result };
  } finally {
    pg.Client.prototype.query = original;
  }
}

describe("PostgresStore specifics", () => {
  const schemas: string[] = [];
  const fresh = () => {
    const s = testSchemaName();
    schemas.push(s);
    return s;
  };
  after(async () => {
    for (const s of schemas) await dropSchema(s);
  });

  it("parses its own URL parameters and leaves the rest to the driver", () => {
    const p = parsePostgresUrl("postgres://u:p@db.example:5433/chat?schema=tenant_1&pool=20&sslmode=require");
    assert.equal(p.schema, "tenant_1");
    assert.equal(p.poolSize, 20);
    assert.equal(p.connectionString, "postgres://u:p@db.example:5433/chat?sslmode=require");
    assert.equal(parsePostgresUrl("postgresql://localhost/x").schema, undefined);
    assert.throws(() => parsePostgresUrl("postgres://localhost/x?schema=Robert';DROP"), /schema/);
    assert.throws(() => parsePostgresUrl("postgres://localhost/x?pool=0"), /pool/);
    assert.throws(() => parsePostgresUrl("mysql://localhost/x"), /postgres/);
  });

  it("nodes starting together migrate once (advisory lock), and migrating again changes nothing", async () => {
    const schema = fresh();
    const stores = Array.from({ length: 4 }, () => open(schema, 2));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const { rows } = await stores[0]!.pool.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      assert.deepEqual(rows.map((r) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version));
      const tables = async () =>
        (await stores[0]!.pool.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [schema])).rows.map(
          (r) => r.t,
        );
      const before = await tables();
      assert.deepEqual(before, ["attachments", "conversations", "mailbox", "message_status", "messages", "meta", "participants", "revocations", "schema_migrations", "sessions", "users"]);
      await stores[1]!.migrate();
      assert.deepEqual(await tables(), before);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("a database at migration 3 with pending rows upgrades: the rows stay readable in order, new ones follow, the old accept function still works", async () => {
    const schema = fresh();
    const old = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await old.connect();
    const store = open(schema);
    try {
      // What a node of the previous version left behind: migrations 1-3 and a message sent through them.
      await old.query(`CREATE SCHEMA ${schema}`);
      await old.query(`SET search_path TO ${schema}`);
      await old.query("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 3)) {
        await old.query(m.sql);
        await old.query("INSERT INTO schema_migrations (version) VALUES ($1)", [m.version]);
      }
      const a = await user(store);
      const b = await user(store);
      const conv = randomUUID();
      const oldAccept = async (m: NewMessage) =>
        old.query(
          `SELECT * FROM ob_accept_messages(ARRAY[$1]::uuid[], ARRAY[$2]::uuid[], ARRAY[$3]::uuid[], ARRAY[$4]::uuid[], ARRAY['PLAIN_TEXT'], ARRAY[$5::bytea],
             ARRAY[NULL]::uuid[], ARRAY[NULL]::uuid[], ARRAY[false], ARRAY[0]::bigint[], 1, ARRAY[$1]::uuid[], ARRAY[$6]::uuid[], 42)`,
          [m.messageId, m.conversationId, m.userId, m.sessionId, m.payload, b.userId],
        );
      const before = message(a, conv, [b.userId]);
      await oldAccept(before);

      await store.migrate();
      const [created] = await store.acceptMessages([message(a, conv, [b.userId])]);
      assert.equal(created?.kind, "created");
      // A node still on the previous version, mid rolling upgrade, keeps accepting through ob_accept_messages.
      const straggler = message(a, conv, [b.userId]);
      await oldAccept(straggler);
      const pending = await store.pendingMessages(b.userId, b.sessionId, 0, 10);
      assert.deepEqual(
        pending.map((p) => p.message.messageId),
        [before.messageId, created.kind === "created" ? created.message.messageId : "", straggler.messageId],
      );
      assert.ok(pending[0]!.seq < pending[1]!.seq && pending[1]!.seq < pending[2]!.seq);
      // The same id again through the new function: a duplicate, found through the old row.
      const [dup] = await store.acceptMessages([{ ...before, recipientIds: [b.userId] }]);
      assert.equal(dup?.kind, "duplicate");
      assert.equal(await store.pendingCount(b.userId), 3);
      // Acks work on both kinds of row: the old message has its status row from the old accept, the
      // new one gets its row on this first ack; the sender is no recipient of either.
      const newId = created.kind === "created" ? created.message.messageId : "";
      const statusRows = async () => Number((await old.query("SELECT count(*) AS n FROM message_status")).rows[0].n);
      assert.equal(await statusRows(), 2, "rows of the two messages the old function accepted; none for the new one");
      const acked = await store.acknowledge(b.userId, b.sessionId, [
        { messageId: before.messageId, status: "READ" },
        { messageId: newId, status: "READ" },
      ]);
      assert.deepEqual(acked.map((o) => o.kind), ["advanced", "advanced"]);
      assert.equal(await statusRows(), 3);
      assert.deepEqual((await store.acknowledge(a.userId, a.sessionId, [{ messageId: newId, status: "READ" }])).map((o) => o.kind), ["forbidden"]);
      assert.equal(await store.pendingCount(b.userId), 1);
    } finally {
      await old.end();
      await store.close();
    }
  });

  it("status rows are made on the first ack; concurrent first acks of the same pairs neither fail nor double-advance", async () => {
    const schema = fresh();
    const store = open(schema, 8);
    try {
      await store.migrate();
      const a = await user(store);
      const members = await Promise.all(Array.from({ length: 4 }, () => user(store)));
      const conv = randomUUID();
      const sent = Array.from({ length: 30 }, () => message(a, conv, members.map((m) => m.userId)));
      await store.acceptMessages(sent);
      const count = async () => Number((await store.pool.query("SELECT count(*) AS n FROM message_status")).rows[0].n);
      assert.equal(await count(), 0, "no status row before any ack");
      // Every member acks every message READ from two places at once, in opposite orders.
      const acks = sent.map((m) => ({ messageId: m.messageId, status: "READ" as const }));
      const results = await Promise.all(
        members.flatMap((m) => [store.acknowledge(m.userId, m.sessionId, acks), store.acknowledge(m.userId, m.sessionId, [...acks].reverse())]),
      );
      const advanced = results.flat().filter((o) => o.kind === "advanced").length;
      assert.equal(advanced, 30 * 4, "each (member, message) advanced exactly once");
      assert.equal(results.flat().filter((o) => o.kind !== "advanced" && o.kind !== "unchanged").length, 0);
      assert.equal(await count(), 30 * 4);
      const { rows } = await store.pool.query("SELECT DISTINCT status FROM message_status");
      assert.deepEqual(rows.map((r) => r.status), [2]);
    } finally {
      await store.close();
    }
  });

  it("uses uuid keys, and reading a page of a long mailbox touches only that page (O(page))", async () => {
    const schema = fresh();
    const store = open(schema);
    try {
      await store.migrate();
      const { rows } = await store.pool.query<{ column_name: string; data_type: string }>(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'mailbox' ORDER BY ordinal_position",
        [schema],
      );
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.column_name, r.data_type])), {
        seq: "bigint",
        user_id: "uuid",
        session_id: "uuid",
        message_id: "uuid",
        created_at: "bigint",
      });
      const a = await user(store);
      const members = await Promise.all(Array.from({ length: 20 }, () => user(store)));
      const b = members[0]!;
      const conv = randomUUID();
      await store.createConversation({ conversationId: conv, category: "GROUP", creatorId: a.userId, name: "", announcement: "", codeId: "" }, [
        { userId: a.userId, role: "OWNER" },
        ...members.map((m) => ({ userId: m.userId, role: "" as const })),
      ]);
      // b has a long backlog (a bot that was away), interleaved with everyone else's rows.
      for (let i = 0; i < 20; i++) {
        await store.acceptMessages(Array.from({ length: 400 }, (_, j) => message(a, conv, [members[j % 2 === 0 ? 0 : 1 + ((i + j) % 19)]!.userId])));
      }
      await store.pool.query("ANALYZE mailbox; ANALYZE messages");
      const explain = async (text: string, values: unknown[]) => {
        const r = await store.pool.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
        return r.rows[0]!["QUERY PLAN"][0].Plan;
      };
      interface PlanNode {
        "Node Type": string;
        "Relation Name"?: string;
        "Actual Rows": number;
        "Actual Loops": number;
        Plans?: PlanNode[];
      }
      const rowsRead = (node: PlanNode, table: string): number =>
        (node["Relation Name"] === table ? node["Actual Rows"] * node["Actual Loops"] : 0) + (node.Plans ?? []).reduce((n, p) => n + rowsRead(p, table), 0);
      // One session's page, with and without a time bound, and two sessions' pages in one query.
      const pageOf = async (cursor: number) => {
        const plan = await explain(SQL.pendingMany, [[b.sessionId], [cursor], [100], [-1]]);
        const after = await explain(SQL.pendingMany, [[b.sessionId], [cursor], [100], [0]]);
        const two = await explain(SQL.pendingMany, [[b.sessionId, members[1]!.sessionId], [cursor, 0], [100, 100], [-1, -1]]);
        return [
          [plan, 1],
          [after, 1],
          [two, 2],
        ].map(([p, pages]) => [rowsRead(p as PlanNode, "mailbox"), rowsRead(p as PlanNode, "messages"), pages as number]);
      };
      const backlog = await store.pendingMessages(b.userId, b.sessionId, 0, 10_000);
      assert.equal(backlog.length, 4000);
      for (const cursor of [0, backlog[2000]!.seq]) {
        for (const [mailbox, messages, pages] of await pageOf(cursor)) {
          assert.ok(mailbox! <= 101 * pages!, `read ${mailbox} mailbox rows for ${pages} page(s) of 100 (cursor ${cursor})`);
          assert.ok(messages! <= 101 * pages!, `read ${messages} message rows for ${pages} page(s) of 100 (cursor ${cursor})`);
        }
      }
    } finally {
      await store.close();
    }
  });

  it("acceptMessages is a fixed number of statements, whatever the batch size", async () => {
    const schema = fresh();
    const store = open(schema);
    try {
      await store.migrate();
      const a = await user(store);
      const recipients = await Promise.all(Array.from({ length: 5 }, () => user(store)));
      const conv = randomUUID();
      await store.createConversation({ conversationId: conv, category: "GROUP", creatorId: a.userId, name: "g", announcement: "", codeId: "" }, [
        { userId: a.userId, role: "OWNER" },
        ...recipients.map((r) => ({ userId: r.userId, role: "" as const })),
      ]);
      const count = async (n: number) =>
        (
          await countingQueries(async () => {
            const out = await store.acceptMessages(Array.from({ length: n }, () => message(a, conv, recipients.map((r) => r.userId))));
            assert.equal(out.filter((o) => o.kind === "created").length, n);
          })
        ).queries;
      const one = await count(1);
      const many = await count(200);
      assert.equal(many, one, `statements for 1 message: ${one}, for 200: ${many}`);
      assert.equal(one, 1, `one call of ob_accept_messages: got ${one}`);
      // Requests of several items cost nothing more while none holds a stored id; one that does
      // costs a failed call (nothing written), an owners read and the call again.
      const requests = Array.from({ length: 4 }, () => Array.from({ length: 50 }, () => message(a, conv, [recipients[0]!.userId])));
      const fine = await countingQueries(() => store.acceptMessages(requests.flat(), [50, 50, 50, 50]));
      assert.equal(fine.queries, 1);
      assert.ok(fine.result.every((o) => o.kind === "created"));
      const other = await user(store);
      const clash = [...requests[0]!.slice(0, 2), { ...message(other, conv, [a.userId]), messageId: requests[1]![0]!.messageId }];
      const fresh = Array.from({ length: 3 }, () => message(a, conv, [recipients[0]!.userId]));
      const mixed = await countingQueries(() => store.acceptMessages([...clash, ...fresh], [3, 3]));
      assert.equal(mixed.queries, 3);
      assert.deepEqual(mixed.result.map((o) => o.kind), ["refused", "refused", "conflict", "created", "created", "created"]);
    } finally {
      await store.close();
    }
  });

  it("every connection plans each statement for its arguments (no generic plan frozen while the tables were small)", async () => {
    const schema = fresh();
    const store = open(schema);
    try {
      await store.migrate();
      const rows = await Promise.all(Array.from({ length: 3 }, () => store.pool.query<{ mode: string; path: string }>("SELECT current_setting('plan_cache_mode') AS mode, current_setting('search_path') AS path")));
      for (const r of rows) assert.deepEqual(r.rows[0], { mode: "force_custom_plan", path: schema });
    } finally {
      await store.close();
    }
    // `options` given in the URL still apply next to ours.
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set("options", "-c statement_timeout=12345");
    const withOptions = new PostgresStore({ connectionString: url.toString(), schema });
    try {
      const { rows } = await withOptions.pool.query<{ timeout: string; mode: string; path: string }>(
        "SELECT current_setting('statement_timeout') AS timeout, current_setting('plan_cache_mode') AS mode, current_setting('search_path') AS path",
      );
      assert.deepEqual(rows[0], { timeout: "12345ms", mode: "force_custom_plan", path: schema });
    } finally {
      await withOptions.close();
    }
  });

  it("reads asked in one turn share one query, each gets only its own answer, and a later read waits for a later query", async () => {
    const schema = fresh();
    const store = open(schema);
    try {
      await store.migrate();
      const [a, b, c] = [await user(store), await user(store), await user(store)];
      const convs = [randomUUID(), randomUUID()];
      for (const [conv, other] of [
        [convs[0]!, b],
        [convs[1]!, c],
      ] as const) {
        await store.createConversation({ conversationId: conv, category: "CONTACT", creatorId: a.userId, name: "", announcement: "", codeId: "" }, [
          { userId: a.userId, role: "" },
          { userId: other.userId, role: "" },
        ]);
      }
      const toB = message(a, convs[0]!, [b.userId]);
      const toC = message(a, convs[1]!, [c.userId]);
      await store.acceptMessages([toB, toC]);

      const { queries, result } = await countingQueries(() =>
        Promise.all([
          store.pendingMessages(b.userId, b.sessionId, 0, 10),
          store.pendingMessages(c.userId, c.sessionId, 0, 10),
          store.pendingMessages(b.userId, c.sessionId, 0, 10),
          store.pendingMessages(b.userId, b.sessionId, 0, 10, Number.MAX_SAFE_INTEGER),
          store.getMembership(convs[0]!),
          store.getMembership(convs[1]!),
          store.getMembership(randomUUID()),
        ]),
      );
      const [pb, pc, stolen, none, mb, mc, missing] = result;
      assert.equal(queries, 2, "one query for the pending pages, one for the memberships");
      assert.deepEqual(pb.map((r) => r.message.messageId), [toB.messageId]);
      assert.deepEqual(pc.map((r) => r.message.messageId), [toC.messageId]);
      assert.deepEqual(stolen, [], "someone else's session reads empty");
      assert.deepEqual(none, [], "the time bound applies to its own read only");
      assert.deepEqual(mb?.participants.map((p) => p.userId).sort(), [a.userId, b.userId].sort());
      assert.deepEqual(mc?.participants.map((p) => p.userId).sort(), [a.userId, c.userId].sort());
      assert.equal(missing, undefined);

      // A read asked while a query is on its way is answered by a new query, which sees the ack.
      const first = store.pendingMessages(b.userId, b.sessionId, 0, 10);
      await new Promise((r) => setImmediate(r));
      const [ack] = await store.acknowledge(b.userId, b.sessionId, [{ messageId: toB.messageId, status: "READ" }]);
      assert.equal(ack?.kind, "advanced");
      const second = await store.pendingMessages(b.userId, b.sessionId, 0, 10);
      await first;
      assert.deepEqual(second, [], "the later read sees the acknowledgement");
    } finally {
      await store.close();
    }
  });

  it("two nodes writing to one session at once: a reader paging by seq never skips a row", async () => {
    const schema = fresh();
    const node1 = open(schema, 4);
    const node2 = open(schema, 4);
    const reader = open(schema, 2);
    try {
      await node1.migrate();
      const a = await user(node1);
      const b = await user(node1);
      const conv = randomUUID();
      await node1.createConversation({ conversationId: conv, category: "CONTACT", creatorId: a.userId, name: "", announcement: "", codeId: "" }, [
        { userId: a.userId, role: "" },
        { userId: b.userId, role: "" },
      ]);
      const sent = new Set<string>();
      let writing = true;
      const writer = async (store: PostgresStore) => {
        for (let i = 0; i < 60; i++) {
          const batch = Array.from({ length: 1 + (i % 5) }, () => message(a, conv, [b.userId]));
          for (const m of batch) sent.add(m.messageId);
          await store.acceptMessages(batch);
        }
      };
      // The reader behaves like Connection.pump: cursor = last seq seen, never goes back.
      const seen: string[] = [];
      const read = async () => {
        let cursor = 0;
        for (;;) {
          const done = !writing;
          const rows = await reader.pendingMessages(b.userId, b.sessionId, cursor, 50);
          for (const r of rows) {
            seen.push(r.message.messageId);
            cursor = r.seq;
          }
          if (done && rows.length === 0) return;
        }
      };
      const reading = read();
      await Promise.all([writer(node1), writer(node2), writer(node1), writer(node2)]);
      writing = false;
      await reading;
      assert.equal(seen.length, sent.size, "every row seen exactly once");
      assert.deepEqual(new Set(seen), sent);
    } finally {
      await Promise.all([node1.close(), node2.close(), reader.close()]);
    }
  });

  it("non-UUID ids in lookups find nothing instead of failing", async () => {
    const schema = fresh();
    const store = open(schema);
    try {
      await store.migrate();
      assert.equal(await store.getUser("not-a-uuid"), undefined);
      assert.equal(await store.getConversation("x"), undefined);
      assert.equal(await store.getMessage(""), undefined);
      assert.deepEqual(await store.getUsers(["x", "y"]), []);
      assert.deepEqual(await store.pendingMessages("x", "y", 0, 10), []);
      assert.deepEqual(await store.acknowledge(randomUUID(), randomUUID(), [{ messageId: "nope", status: "READ" }]), [{ kind: "unknown", messageId: "nope" }]);
    } finally {
      await store.close();
    }
  });
});

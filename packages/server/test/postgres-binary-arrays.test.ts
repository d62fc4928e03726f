import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { boolArray, byteaArray, int2Array, int4Array, int8Array, textArray, uuidArray } from "../src/store/postgres/binary-arrays.js";
import { TEST_POSTGRES_URL } from "./services.js";

/** PostgreSQL itself reads every encoding back (array_recv), so a wrong byte fails the query or the comparison. */
describe("binary array parameters", () => {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  before(() => client.connect());
  after(() => client.end());

  const back = async (param: Buffer, type: string): Promise<unknown> =>
    (await client.query({ text: `SELECT $1::${type} AS v, array_to_json($1::${type})::text AS j`, values: [param] })).rows[0];

  it("uuid[] with NULLs, upper-case hex and the empty array", async () => {
    const ids = [randomUUID(), null, "00000000-0000-0000-0000-000000000000", "FFFFFFFF-ABCD-4EF0-8123-456789ABCDEF", null];
    const { j } = (await back(uuidArray(ids), "uuid[]")) as { j: string };
    assert.deepEqual(JSON.parse(j), ids.map((id) => id?.toLowerCase() ?? null));
    const { rows } = await client.query({ text: "SELECT cardinality($1::uuid[]) AS n, $1::uuid[] = '{}'::uuid[] AS empty", values: [uuidArray([])] });
    assert.deepEqual(rows[0], { n: 0, empty: true });
    // The same ids as text: PostgreSQL compares them equal.
    const { rows: eq } = await client.query({ text: "SELECT $1::uuid[] = $2::uuid[] AS same", values: [uuidArray(ids), ids] });
    assert.equal(eq[0].same, true);
  });

  it("refuses strings that are no uuid instead of sending wrong bytes", () => {
    for (const bad of ["", "not-a-uuid", `${randomUUID()}0`, randomUUID().replace(/-/g, "x"), randomUUID().slice(0, 35) + "g", "0000000000000000000000000000000000-0"]) {
      assert.throws(() => uuidArray([bad]), TypeError, bad);
    }
  });

  it("text[] (non-ASCII, empty), bytea[] (zero bytes, empty), boolean[]", async () => {
    const texts = ["PLAIN_TEXT", "", "héllo wörld ✓ 🚀", "a\"b\\c,{}"];
    assert.deepEqual(JSON.parse(((await back(textArray(texts), "text[]")) as { j: string }).j), texts);
    const blobs = [Buffer.from([0, 1, 2, 255, 0]), Buffer.alloc(0), Buffer.from("payload")];
    assert.deepEqual(((await back(byteaArray(blobs), "bytea[]")) as { v: Buffer[] }).v, blobs);
    assert.deepEqual(JSON.parse(((await back(boolArray([true, false, true]), "boolean[]")) as { j: string }).j), [true, false, true]);
  });

  it("bigint[], integer[] and smallint[], negative and large; an out-of-range bigint is clamped, not a failed call", async () => {
    const big = [0, -1, 1, 2 ** 32, -(2 ** 32) - 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_733_500_000_000_000];
    const { rows } = await client.query({ text: "SELECT array_to_json($1::bigint[])::text AS j", values: [int8Array(big)] });
    assert.deepEqual(JSON.parse(rows[0].j), big);
    const { rows: far } = await client.query({ text: "SELECT ($1::bigint[])[1]::text AS a, ($1::bigint[])[2]::text AS b", values: [int8Array([2.5e17, 1e30])] });
    assert.deepEqual(far[0], { a: "250000000000000000", b: "9223372036854775807" });
    assert.throws(() => int8Array([Number.NaN]), TypeError);
    const ints = [0, -1, 2_147_483_647, -2_147_483_648];
    assert.deepEqual(JSON.parse(((await back(int4Array(ints), "integer[]")) as { j: string }).j), ints);
    const shorts = [0, 2, -32768, 32767];
    assert.deepEqual(JSON.parse(((await back(int2Array(shorts), "smallint[]")) as { j: string }).j), shorts);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveConfig } from "@openblaze/server";
import { serverConfigFrom } from "../src/config-from-env.js";

describe("serve configuration: flags, then OPENBLAZE_* environment, then defaults", () => {
  it("--database and --bus select the scale-out store and bus; the environment fills in", () => {
    const env = { OPENBLAZE_DATABASE: "postgres://env@db/openblaze?schema=a", OPENBLAZE_BUS: "redis://env:6379?prefix=x%3A" };
    assert.deepEqual(
      [serverConfigFrom({}, env).database, serverConfigFrom({}, env).bus],
      ["postgres://env@db/openblaze?schema=a", "redis://env:6379?prefix=x%3A"],
    );
    const flags = serverConfigFrom({ database: "postgres://flag@db/x", bus: "redis://flag" }, env);
    assert.equal(flags.database, "postgres://flag@db/x");
    assert.equal(flags.bus, "redis://flag");
    const defaults = resolveConfig(serverConfigFrom({}, {}));
    assert.equal(defaults.database, "sqlite");
    assert.equal(defaults.bus, "local");
  });

  it("--drain-delay and OPENBLAZE_DRAIN_DELAY_MS set drainDelayMs (default 0)", () => {
    assert.equal(serverConfigFrom({ drainDelay: "5000" }, { OPENBLAZE_DRAIN_DELAY_MS: "1" }).drainDelayMs, 5000);
    assert.equal(serverConfigFrom({}, { OPENBLAZE_DRAIN_DELAY_MS: "2500" }).drainDelayMs, 2500);
    assert.equal(resolveConfig(serverConfigFrom({}, {})).drainDelayMs, 0);
    assert.throws(() => serverConfigFrom({ drainDelay: "soon" }, {}), /drain-delay/);
  });

  it("OPENBLAZE_COMMIT_INTERVAL_MS and OPENBLAZE_ACK_COMMIT_INTERVAL_MS pace message and ack commits separately", () => {
    const config = resolveConfig(serverConfigFrom({}, { OPENBLAZE_COMMIT_INTERVAL_MS: "2", OPENBLAZE_ACK_COMMIT_INTERVAL_MS: "20" }));
    assert.deepEqual([config.commitIntervalMs, config.ackCommitIntervalMs], [2, 20]);
    const defaults = resolveConfig(serverConfigFrom({}, {}));
    assert.deepEqual([defaults.commitIntervalMs, defaults.ackCommitIntervalMs], [1, 5]);
    assert.throws(() => serverConfigFrom({}, { OPENBLAZE_ACK_COMMIT_INTERVAL_MS: "soon" }), /OPENBLAZE_ACK_COMMIT_INTERVAL_MS/);
  });

  it("refuses a database or bus it does not know, naming it", () => {
    assert.throws(() => resolveConfig({ database: "mysql://x" }), /database must be "sqlite" or a postgres:\/\/ URL/);
    assert.throws(() => resolveConfig({ bus: "nats://x" }), /bus must be "local" or a redis:\/\/ URL/);
    assert.doesNotThrow(() => resolveConfig({ database: "postgresql://u@h/db", bus: "rediss://h:6380" }));
  });
});

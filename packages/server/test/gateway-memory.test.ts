import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Gateway } from "../src/gateway/gateway.js";
import { Harness } from "./harness.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

describe("gateway memory", () => {
  it("an open socket does not keep its upgrade request (headers, token) alive", async () => {
    const seen: WeakRef<IncomingMessage>[] = [];
    const original = Gateway.prototype.handleUpgrade;
    Gateway.prototype.handleUpgrade = function (this: Gateway, req, socket, head) {
      seen.push(new WeakRef(req));
      return original.call(this, req, socket, head);
    };
    const h = await Harness.start();
    try {
      const sockets = [];
      for (let i = 0; i < 20; i++) {
        const s = await h.socket(await h.user(`u${i}`));
        assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined);
        sockets.push(s);
      }
      assert.equal(seen.length, 20);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r));
        gc();
      }
      const alive = seen.filter((r) => r.deref() !== undefined).length;
      assert.equal(alive, 0, `${alive} of 20 upgrade requests still reachable while their sockets are open`);
      for (const s of sockets) assert.equal((await s.request("LIST_PENDING_MESSAGES")).error, undefined, "sockets still work");
    } finally {
      Gateway.prototype.handleUpgrade = original;
      await h.close();
    }
  });
});

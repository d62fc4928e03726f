import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import { decodeFrame, newUuid, signToken, uniqueConversationId } from "@openblaze/protocol";
import { b64, type Frame, type TestUser } from "./harness.js";
import { ChildServer, RssSampler, SKIP_NO_CLI, cliUser, openSocket, prng, signedHttp } from "./support/child-server.js";
import { FrameFuzzer, type FuzzContext, type FuzzFrame } from "./support/fuzz.js";

/**
 * Wire fuzzing (RELIABILITY.md §2): a seeded mutation fuzzer throws malformed and adversarial
 * frames at a live server process (`openblaze serve`) from several sockets at once. The server must
 * stay up; every frame gets exactly one reply, with a coded client error (never a 5xx/7000 fault)
 * and the request's own id whenever the id could be read; the server logs no fault; its RSS stays
 * bounded (it runs with a 128 MiB V8 old space, so a leak would kill it; RSS is sampled from /proc);
 * wrong-user acks remove nothing from the victim's mailbox.
 * OPENBLAZE_FUZZ_FRAMES (default 10,000; the reported run uses 100,000) and OPENBLAZE_FUZZ_SEED.
 */

const FRAMES = Number(process.env.OPENBLAZE_FUZZ_FRAMES ?? 10_000);
const SEED = Number(process.env.OPENBLAZE_FUZZ_SEED ?? 0xf022);
const SOCKETS = 4;
const WINDOW = 16;
/** Client errors a frame may earn; anything else (500, 7000, 7001) is a server fault. */
const CLIENT_ERRORS = new Set([400, 401, 403, 404, 429, 10002, 10404, 20116, 20150]);
const RSS_CEILING_MB = 400;
/** The fuzzed server's V8 old-space cap (OPENBLAZE_FUZZ_NODE_OPTIONS overrides). */
const HEAP_MB = 128;
const RSS_GROWTH_MB = 120;

interface Finding {
  socket: number;
  what: string;
}

class FuzzSocket {
  outstanding = 0;
  readonly awaiting = new Map<string, string>();
  closeCode: number | undefined;
  replies = 0;
  /** We closed it ourselves. */
  closing = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly index: number,
    private readonly findings: Finding[],
    private readonly codes: Map<number | string, number>,
  ) {
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.once("close", (code) => {
      this.closeCode = code;
      // 1008: "too many bad frames", the documented answer to a run of garbage.
      if (code !== 1008 && !this.closing) this.findings.push({ socket: index, what: `socket closed with ${code}` });
      this.outstanding = 0;
      this.awaiting.clear();
      this.wake?.();
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(f: FuzzFrame): void {
    this.outstanding++;
    if (f.expectId !== undefined) this.awaiting.set(f.expectId, f.kind);
    this.ws.send(f.data, { binary: f.binary });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return void this.findings.push({ socket: this.index, what: "server sent a text frame" });
    let f: Frame;
    try {
      f = decodeFrame(data, { maxFrameBytes: 8 * 1024 * 1024, maxInflatedBytes: 8 * 1024 * 1024 }) as Frame;
    } catch (e) {
      return void this.findings.push({ socket: this.index, what: `undecodable server frame: ${(e as Error).message}` });
    }
    // Pushes (messages for this fuzzer, receipts) are not replies.
    if (f.action === "CREATE_MESSAGE" && f.data?.category) return;
    if (f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data !== undefined) return;
    this.replies++;
    this.outstanding = Math.max(0, this.outstanding - 1);
    this.awaiting.delete(f.id);
    if (typeof f.id !== "string" || f.id === "") this.findings.push({ socket: this.index, what: `reply without id: ${JSON.stringify(f).slice(0, 200)}` });
    if (f.error !== undefined) {
      const e = f.error as { status?: unknown; code?: unknown; description?: unknown };
      this.codes.set(e.code as number, (this.codes.get(e.code as number) ?? 0) + 1);
      if (typeof e.code !== "number" || !CLIENT_ERRORS.has(e.code) || e.status !== 202 || typeof e.description !== "string" || e.description === "") {
        this.findings.push({ socket: this.index, what: `not a coded client error: ${JSON.stringify(f).slice(0, 300)}` });
      }
    } else this.codes.set("ok", (this.codes.get("ok") ?? 0) + 1);
    this.wake?.();
  }

  /** Waits until a reply arrives or the socket closes; false on timeout. */
  async progress(timeoutMs: number): Promise<boolean> {
    const before = this.replies;
    const deadline = Date.now() + timeoutMs;
    while (this.replies === before && this.open) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return true;
  }
}

describe("wire fuzzing (server as a child process)", { skip: SKIP_NO_CLI }, () => {
  it(`${FRAMES} mutated frames from ${SOCKETS} sockets: server up, coded errors only, memory bounded`, { timeout: 900_000 }, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), "openblaze-fuzz-"));
    let server: ChildServer | undefined;
    try {
      const legit = await cliUser(dataDir, "legit bot", true);
      const [victim, ...fuzzers] = await Promise.all([cliUser(dataDir, "victim"), ...Array.from({ length: SOCKETS }, (_, i) => cliUser(dataDir, `fuzzer ${i}`))]);
      // A capped heap turns any leak into a crash the test sees, instead of slow RSS drift.
      server = await ChildServer.start(dataDir, { logLevel: "error", env: { NODE_OPTIONS: process.env.OPENBLAZE_FUZZ_NODE_OPTIONS ?? `--max-old-space-size=${HEAP_MB}` } });
      const url = server.httpUrl;
      const g = await signedHttp(url, legit, "POST", "/conversations", {
        category: "GROUP",
        name: "fuzz",
        participants: [victim!, ...fuzzers].map((u) => ({ user_id: u.userId })),
      });
      assert.equal(g.status, 200, JSON.stringify(g.body));
      const group = g.body.data.conversation_id as string;

      // The victim's mail, which the fuzzers keep trying to ack.
      const toVictim = uniqueConversationId(legit.userId, victim!.userId);
      const victimMessageIds: string[] = [];
      for (let i = 0; i < 20; i++) {
        const p = { conversation_id: toVictim, recipient_id: victim!.userId, message_id: newUuid(), category: "PLAIN_TEXT", data: b64(`for the victim ${i}`) };
        assert.equal((await signedHttp(url, legit, "POST", "/messages", p)).status, 200);
        victimMessageIds.push(p.message_id);
      }

      const findings: Finding[] = [];
      const codes = new Map<number | string, number>();
      const kinds = new Map<string, number>();
      const sampler = new RssSampler(server, 100);
      const rssStartKb = sampler.sample();
      let rssHalfKb = 0;
      let sentTotal = 0;
      let reconnects = 0;
      const started = Date.now();

      const worker = async (i: number, count: number) => {
        const u: TestUser = fuzzers[i]!;
        const ctx: FuzzContext = { contact: uniqueConversationId(u.userId, victim!.userId), victimId: victim!.userId, group, victimMessageIds };
        const fuzzer = new FrameFuzzer(prng(SEED * 31 + i), ctx);
        const connect = () => {
          const ws = new WebSocket(server!.wsUrl, ["Mixin-Blaze-1"], {
            headers: { authorization: `Bearer ${signToken(u.creds, { method: "GET", uri: "/" })}` },
            perMessageDeflate: false,
          });
          const s = new FuzzSocket(ws, i, findings, codes);
          return new Promise<FuzzSocket>((resolve, reject) => {
            ws.once("open", () => resolve(s));
            ws.once("error", reject);
          });
        };
        let sock = await connect();
        for (let sent = 0; sent < count; ) {
          if (!sock.open) {
            reconnects++;
            sock = await connect();
          }
          while (sock.outstanding < WINDOW && sent < count && sock.open) {
            const f = fuzzer.next();
            const family = f.kind.split(":")[0]!.replace(/ x\d+$/, "");
            kinds.set(family, (kinds.get(family) ?? 0) + 1);
            sock.send(f);
            sent++;
            if (++sentTotal === Math.floor(FRAMES / 2)) rssHalfKb = sampler.sample();
          }
          if (!(await sock.progress(15_000))) {
            findings.push({ socket: i, what: `no reply within 15 s; awaiting ${JSON.stringify([...sock.awaiting.values()].slice(0, 5))}` });
            sock.closing = true;
            sock.ws.terminate();
          }
        }
        const deadline = Date.now() + 15_000;
        while (sock.open && sock.outstanding > 0 && Date.now() < deadline) await sock.progress(deadline - Date.now());
        if (sock.open && sock.awaiting.size > 0) findings.push({ socket: i, what: `replies never came for ${JSON.stringify([...sock.awaiting.values()].slice(0, 5))}` });
        sock.closing = true;
        sock.ws.close();
      };
      await Promise.all(fuzzers.map((_, i) => worker(i, Math.ceil(FRAMES / SOCKETS) - (i < (SOCKETS - (FRAMES % SOCKETS)) % SOCKETS ? 1 : 0))));
      const seconds = (Date.now() - started) / 1000;
      const rssEndKb = sampler.sample();
      sampler.stop();

      // Still up, and still right: the legit bot sends, the victim gets every message meant for it.
      assert.ok(server.running, `server died:\n${server.output}`);
      const last = { conversation_id: toVictim, recipient_id: victim!.userId, message_id: newUuid(), category: "PLAIN_TEXT", data: b64("after the storm") };
      assert.equal((await signedHttp(url, legit, "POST", "/messages", last)).status, 200);
      const vs = await openSocket(server.wsUrl, victim!);
      await vs.request("LIST_PENDING_MESSAGES");
      const got = new Set<string>();
      for (;;) {
        try {
          got.add((await vs.push(1500)).data.message_id);
        } catch {
          break;
        }
      }
      vs.close();
      for (const id of [...victimMessageIds, last.message_id]) assert.ok(got.has(id), `victim's ${id} survived the wrong-user acks`);

      const faults = server.output.split("\n").filter((l) => /"level":(50|60)/.test(l));
      for (const l of faults.slice(0, 20)) findings.push({ socket: -1, what: `server logged a fault: ${l.slice(0, 400)}` });

      const mb = (kb: number) => Math.round(kb / 1024);
      t.diagnostic(
        `seed ${SEED}: ${sentTotal} frames in ${seconds.toFixed(1)} s (${Math.round(sentTotal / seconds)}/s) from ${SOCKETS} sockets, ` +
          `${reconnects} reconnects after 1008; replies ${JSON.stringify(Object.fromEntries(codes))}; ` +
          `RSS start ${mb(rssStartKb)} MB, half ${mb(rssHalfKb)} MB, end ${mb(rssEndKb)} MB, peak ${mb(sampler.peakKb)} MB; findings ${findings.length}`,
      );
      t.diagnostic(`mutation families: ${JSON.stringify(Object.fromEntries([...kinds].sort((a, b) => b[1] - a[1])))}`);
      assert.deepEqual(findings.slice(0, 30), []);
      assert.equal(sentTotal, FRAMES);
      assert.ok(sampler.peakKb < RSS_CEILING_MB * 1024, `peak RSS ${mb(sampler.peakKb)} MB`);
      assert.ok(rssEndKb - rssHalfKb < RSS_GROWTH_MB * 1024, `RSS grew ${mb(rssEndKb - rssHalfKb)} MB over the second half`);
    } finally {
      await server?.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

// Proves issue 18 case 10 with a real controller process: gRPC requests carrying names of 128 KiB (scope, stream,
// reader group and segment names, through a dozen methods) are each answered INVALID_NAME within a second or so, with
// a message of a few hundred bytes (the name is quoted cut, with its length), and the controller's memory does not
// keep them: its RSS (VmRSS from /proc/PID/status) stays within one bound after each of three rounds of 300 such
// requests (memory does not grow with the requests answered). A store id of 128 KiB in a heartbeat is refused
// likewise, and a request above the controller's message limit is refused before it is decoded.
import t from "tap";
import { readFileSync } from "node:fs";
import { ControllerClient } from "../client/controller/controller-client.js";
import { controllerRequestBytesMax, KiB, MiB } from "../common/index.js";
import type { ControllerMethod, ControllerMethods } from "../proto/index.js";
import { startSluiceProcess } from "../perf/support/standalone-process.js";

const nameBytes = 128 * KiB;
const requestsPerRound = 300;
/** Requests in flight at once, as a client's pool of calls might have. */
const concurrent = 30;
/** Each refusal must come this fast (before the fix none came: the client's deadline passed). */
const answerMsMax = 3_000;
const messageBytesMax = 400;
/** Rounds of requestsPerRound: the RSS bound holds after each, so memory does not grow with the requests answered. */
const rounds = 3;
/**
 * RSS growth allowed, from before the first round to after any. A round sends 300 x 128 KiB = 37.5 MiB.
 * While a request is decoded the server makes a few copies of it (HTTP/2 frames, the reassembled
 * message, the decoded string: about 4 x 128 KiB), all garbage once it is answered. Objects that large
 * are collected only by V8's major GC, which runs lazily, so up to one round's garbage (~150 MiB) may sit
 * in RSS before it is reused; it is reused, so RSS does not grow with further rounds. Measured here
 * (2 cores shared with other test runs): +30-80 MiB after each of three rounds, flat across rounds.
 * Before the fix every call stayed open until the client's deadline and one round of 300 took RSS from
 * 126 to 437 MB.
 */
const rssGrowthMaxBytes = 160 * MiB;

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * KiB;
}

type Call = { [M in ControllerMethod]: [M, ControllerMethods[M][0]] }[ControllerMethod];

/** Request number `i`: a dozen methods in turn, the huge (and distinct) name in one of their name fields. */
function requestOf(i: number): Call {
  const big = `n${i}`.padEnd(nameBytes, "x");
  const calls: Call[] = [
    ["CreateScope", { scope: big }],
    ["DeleteScope", { scope: big }],
    ["ListStreams", { scope: big }],
    ["CreateStream", { scope: "shop", stream: big }],
    ["GetStream", { scope: big, stream: "orders" }],
    ["SealStream", { scope: "shop", stream: big }],
    ["DeleteStream", { scope: big, stream: big }],
    ["GetCurrentSegments", { scope: "shop", stream: big }],
    ["GetSegmentEndpoint", { segment: `shop/${big}/0.#epoch.0` }],
    ["CreateReaderGroup", { scope: "shop", group: big }],
    ["GetReaderGroup", { scope: big, group: "g" }],
    ["CreateTransaction", { scope: "shop", stream: big, leaseMs: 10_000 }],
  ];
  return calls[i % calls.length]!;
}

void t.test("300 requests with 128 KiB names: each refused INVALID_NAME promptly and briefly, RSS bounded", async (t) => {
  const ctl = await startSluiceProcess("controller", ["--metadata", `file://${t.testdir()}/meta`, "--port", "0"]);
  t.teardown(() => ctl.kill());
  const pid = ctl.proc.pid!;
  const port = /127\.0\.0\.1:(\d+)/.exec(ctl.readyLine)![1]!;
  const client = new ControllerClient(`127.0.0.1:${port}`);
  t.teardown(() => client.close());
  t.equal((await client.call("CreateScope", { scope: "shop" })).created, true, "a normal request works");

  let slowest = 0;
  let longest = 0;
  const wrong: string[] = [];
  const round = async (first: number): Promise<void> => {
    for (let i = first; i < first + requestsPerRound; i += concurrent) {
      await Promise.all(
        Array.from({ length: concurrent }, async (_, j) => {
          const [method, request] = requestOf(i + j);
          const started = performance.now();
          try {
            await client.call(method, request, 10_000);
            wrong.push(`${method}: answered without an error`);
          } catch (err) {
            const e = err as { code?: string; message?: string };
            slowest = Math.max(slowest, performance.now() - started);
            longest = Math.max(longest, Buffer.byteLength(e.message ?? ""));
            if (e.code !== "INVALID_NAME") wrong.push(`${method}: ${e.code} ${String(e.message).slice(0, 200)}`);
          }
        }),
      );
    }
  };

  const before = rssBytes(pid);
  const after: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await round(r * requestsPerRound);
    after.push(rssBytes(pid));
  }
  const mib = (b: number) => (b / MiB).toFixed(1);
  t.comment(`figure: controller RSS ${mib(before)} MiB, then after each round of ${requestsPerRound} requests with 128 KiB names: ${after.map(mib).join(", ")} MiB; slowest answer ${slowest.toFixed(0)} ms, longest message ${longest} bytes`);
  t.same(wrong, [], "every request was refused INVALID_NAME");
  t.ok(slowest < answerMsMax, `each answered within ${answerMsMax} ms (slowest ${slowest.toFixed(0)} ms)`);
  t.ok(longest < messageBytesMax, `each message is under ${messageBytesMax} bytes (longest ${longest})`);
  const grown = Math.max(...after) - before;
  t.ok(grown < rssGrowthMaxBytes, `RSS grew at most ${mib(grown)} MiB over ${rounds} rounds (bound ${mib(rssGrowthMaxBytes)} MiB, whatever the number of rounds): nothing is kept per request`);

  // The controller still serves, and the error names the cut name's length.
  t.same((await client.call("ListScopes", {})).scopes, ["shop"], "nothing was created by the refused requests");
  await t.rejects(client.call("CreateScope", { scope: "y".repeat(nameBytes) }), { code: "INVALID_NAME", message: /"y{64}…" \(131072 characters\)/ });
  await t.rejects(
    client.call("Heartbeat", { storeId: "s".repeat(nameBytes), host: "127.0.0.1", port: 1, leaseId: "" }),
    { code: "INVALID_ARGUMENT", message: /^store id "s{64}…" \(131072 characters\) is longer than 255/ },
    "a huge store id is refused the same way",
  );
  const started = performance.now();
  await t.rejects(client.call("CreateScope", { scope: "z".repeat(controllerRequestBytesMax + 1) }), /RESOURCE_EXHAUSTED|larger than max/, "a request above the limit is refused undecoded");
  t.ok(performance.now() - started < answerMsMax, "and promptly");
});

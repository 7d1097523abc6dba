// Proves issue 18 case 9 with real processes: a controller with no segment store answers `stream create` within
// seconds with NO_SEGMENT_STORE (saying how to start one) and leaves nothing half-made (`stream list`, `stream info`
// and `scope delete` agree the stream does not exist); a create whose controller was SIGKILLed mid-way is rolled back
// by the restarted controller, so the scope can be deleted; on etcd, once a segment store registers the same create
// succeeds, and when the only store dies, every call that needs one (info, scale, seal, transactions, truncate)
// answers NO_SEGMENT_STORE promptly instead of hanging until the client's deadline, and the stream completes once a
// store is back.
import t, { type Test } from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Sluice } from "../client/index.js";
import { ControllerClient } from "../client/controller/controller-client.js";
import { freePorts } from "../common/index.js";
import { sluiceBin, startSluiceProcess, tsNodeArgs, type SluiceProcess } from "../perf/support/standalone-process.js";
import { startControlCluster } from "./support/control-cluster.js";
import { eventually } from "./support/lognodes.js";

const run = promisify(execFile);
/** "Promptly": well under the client's 30 s call deadline, with room for a loaded 2-core machine. */
const promptMs = 5_000;

/** Runs `sluice ARGS` against `controllerUri`: its exit code, stdout, stderr and how long it took. */
async function cli(controllerUri: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  try {
    const { stdout, stderr } = await run(process.execPath, tsNodeArgs(sluiceBin, args), { env: { ...process.env, SLUICE_CONTROLLER: controllerUri } });
    return { code: 0, stdout, stderr, ms: performance.now() - started };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "", ms: performance.now() - started };
  }
}

/** Checks that `p` rejects with `code` and `message` within promptMs. */
async function refusedWithin(t: Test, p: Promise<unknown>, code: string, what: string, message = /no segment store is serving/): Promise<void> {
  const started = performance.now();
  await t.rejects(p, { code, message }, what);
  const ms = performance.now() - started;
  t.ok(ms < promptMs, `${what}: answered in ${ms.toFixed(0)} ms`);
}

void t.test("a bare controller refuses stream create at once and leaves nothing behind", async (t) => {
  const dir = t.testdir();
  const ctl = await startSluiceProcess("controller", ["--metadata", `file://${dir}/meta`, "--port", "0"]);
  t.teardown(() => ctl.kill());
  const uri = /tcp:\/\/[0-9.]+:\d+/.exec(ctl.readyLine)![0];
  t.equal((await cli(uri, "scope", "create", "shop")).code, 0);

  const create = await cli(uri, "stream", "create", "shop/orders", "--segments", "3");
  t.comment(`figure: stream create with no segment store answered in ${create.ms.toFixed(0)} ms (process start included): ${create.stderr.trim()}`);
  t.equal(create.code, 1, "stream create fails");
  t.match(create.stderr, /^sluice: NO_SEGMENT_STORE: no segment store is serving containers? [\d, ]+ \(of 4\)/, "with a typed error naming the containers");
  t.match(create.stderr, /--segmentstore tcp:\/\/HOST:PORT|sluice standalone/, "and saying how to get one");
  t.ok(create.ms < promptMs + 3_000, `promptly (${create.ms.toFixed(0)} ms, a CLI process start included)`);

  t.equal((await cli(uri, "stream", "list", "shop")).stdout.trim(), "", "stream list shows nothing");
  t.match((await cli(uri, "stream", "info", "shop/orders")).stderr, /NO_SUCH_STREAM/, "stream info knows no such stream");
  const del = await cli(uri, "scope", "delete", "shop");
  t.equal(del.code, 0, `scope delete works: ${del.stdout.trim()}${del.stderr.trim()}`);
});

void t.test("a create whose controller was SIGKILLed mid-way is rolled back by the next controller", async (t) => {
  const dir = t.testdir();
  const [port, nobody] = (await freePorts(2)) as [number, number];
  // A fallback store that is not running: the create passes the check, then waits for its segments.
  const common = ["--metadata", `file://${dir}/meta`, "--port", String(port), "--leader-lease-ms", "1000"];
  let ctl: SluiceProcess = await startSluiceProcess("controller", [...common, "--segmentstore", `tcp://127.0.0.1:${nobody}`]);
  t.teardown(() => ctl.kill());
  const uri = `tcp://127.0.0.1:${port}`;
  const sluice = await Sluice.connect(uri);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("shop");
  const pending = sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 2 } }).then(
    () => "created",
    (err: unknown) => (err as { code?: string }).code ?? String(err),
  );
  t.ok(await eventually(async () => (await cli(uri, "scope", "delete", "shop")).stderr.includes("stream orders is being created"), 8_000), "the half-made stream holds the scope, and the scope says so");
  await ctl.kill();
  t.not(await pending, "created", "the create did not succeed");

  // The next controller has no store at all: it finishes nothing, so it rolls the create back.
  ctl = await startSluiceProcess("controller", common);
  const started = performance.now();
  t.ok(await eventually(async () => (await cli(uri, "scope", "delete", "shop")).code === 0, 20_000), "the scope can be deleted once the create is rolled back");
  t.comment(`figure: half-made stream rolled back ${(performance.now() - started).toFixed(0)} ms after the controller restarted`);
  t.same(await sluice.admin.listScopes(), []);
});

void t.test("on etcd: create succeeds once a store registers; with the store gone every call answers NO_SEGMENT_STORE at once", async (t) => {
  const cluster = await startControlCluster(t);
  const ctl = await cluster.startController("ctl-1");
  const sluice = await Sluice.connect(ctl.uri);
  t.teardown(() => sluice.close());
  const controller = new ControllerClient(`127.0.0.1:${ctl.port}`);
  t.teardown(() => controller.close());
  await sluice.admin.createScope("shop");
  const config = { scaling: { type: "fixed", minSegments: 2 } } as const;

  await refusedWithin(t, sluice.admin.createStream("shop/orders", config), "NO_SEGMENT_STORE", "create with no store");
  t.same(await sluice.admin.listStreams("shop"), [], "nothing listed");
  t.same((await cluster.metadata.list("streams/shop/")).entries, [], "no record left in the metadata");

  await cluster.startStore("a");
  await cluster.settled(["a"]);
  t.equal(await sluice.admin.createStream("shop/orders", config), true, "the same create succeeds once a store serves");
  t.equal(await sluice.admin.createStream("shop/audit", config), true);
  const writer = sluice.writer("shop/orders");
  await writer.write(Buffer.from("one"), { routingKey: "k" });
  await writer.close();
  const segments = (await sluice.admin.streamInfo("shop/orders")).segments;
  const head = await sluice.admin.headCut("shop/orders");

  await cluster.stores.get("a")!.proc.kill();
  t.ok(await eventually(async () => (await cluster.metadata.list("cluster/stores/")).entries.length === 0, 15_000), "the store's registration lapsed");
  await refusedWithin(t, sluice.admin.streamInfo("shop/orders"), "NO_SEGMENT_STORE", "stream info");
  await refusedWithin(t, sluice.admin.truncateStream("shop/orders", head), "NO_SEGMENT_STORE", "truncate");
  const first = segments[0]!;
  const split = [
    { keyStart: first.keyStart, keyEnd: (first.keyStart + first.keyEnd) / 2 },
    { keyStart: (first.keyStart + first.keyEnd) / 2, keyEnd: first.keyEnd },
  ];
  await refusedWithin(t, sluice.admin.scaleStream("shop/orders", [first.segment], split), "NO_SEGMENT_STORE", "scale");
  await refusedWithin(t, sluice.admin.sealStream("shop/orders"), "NO_SEGMENT_STORE", "seal, behind the scale left in the stream's slot", /busy with a scale .* which cannot finish: no segment store is serving/);
  await refusedWithin(t, controller.call("CreateTransaction", { scope: "shop", stream: "audit", leaseMs: 10_000 }), "NO_SEGMENT_STORE", "transaction create");
  await refusedWithin(t, sluice.admin.createStream("shop/other", config), "NO_SEGMENT_STORE", "another create");
  t.same((await sluice.admin.listStreams("shop")).sort(), ["audit", "orders"], "the streams stay visible meanwhile");

  // A store is back: what was left in the streams' records (a scale, a seal, an aborted transaction) finishes, and
  // everything can be deleted.
  await cluster.startStore("b");
  await cluster.settled(["b"]);
  for (const stream of ["shop/orders", "shop/audit"]) {
    t.ok(
      await eventually(async () => {
        try {
          await sluice.admin.sealStream(stream);
          return true;
        } catch (err) {
          t.comment(`seal of ${stream} not yet: ${(err as Error).message.slice(0, 200)}`);
          return false;
        }
      }, 30_000),
      `the seal of ${stream} completes once a store serves`,
    );
    await sluice.admin.deleteStream(stream);
  }
  t.equal(await sluice.admin.deleteScope("shop"), true, "and the scope is empty");
});

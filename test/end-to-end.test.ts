// Proves the client API end to end against an in-process standalone: scopes, streams, pipelined durable writes,
// batch reads of every segment, typed errors for bad names and sizes, and the metadata surviving a restart.
import t from "tap";
import { Sluice } from "../client/index.js";
import { startStandalone } from "../bin/standalone.js";

function args(dir: string): string[] {
  return ["--data-dir", dir, "--controller-port", "0", "--segmentstore-port", "0"];
}

void t.test("write and read back through controller, segment store and journal", async (t) => {
  const dir = t.testdir();
  const s = await startStandalone(args(dir));
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());

  t.equal(await sluice.admin.createScope("shop"), true);
  t.equal(await sluice.admin.createScope("shop"), false, "existing scope");
  t.equal(await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 4 } }), true);
  t.equal(await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 4 } }), false);
  t.same(await sluice.admin.listScopes(), ["shop"]);
  t.same(await sluice.admin.listStreams("shop"), ["orders"]);
  const info = await sluice.admin.streamInfo("shop/orders");
  t.equal(info.segments.length, 4);
  t.same(info.segments.map((x) => [x.keyStart, x.keyEnd]), [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]);

  const writer = sluice.writer("shop/orders");
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 5000; i++) writes.push(writer.write(`order-${i}`, { routingKey: `customer-${i % 50}` }));
  await Promise.all(writes);
  await writer.flush();

  const ranges = await sluice.batch.segments("shop/orders");
  t.equal(ranges.length, 4);
  const seen: string[] = [];
  const perRange = await Promise.all(ranges.map(async (r) => {
    const out: string[] = [];
    let lastOffset = -1;
    for await (const e of sluice.batch.read(r)) {
      t.ok(e.offset > lastOffset || out.length === 0, "offsets increase");
      lastOffset = e.offset;
      out.push(Buffer.from(e.data).toString());
    }
    return out;
  }));
  for (const r of perRange) seen.push(...r);
  t.equal(seen.length, 5000);
  t.equal(new Set(seen).size, 5000, "each event once");
  // Per routing key order inside its segment.
  const byCustomer = new Map<number, number[]>();
  for (const r of perRange) for (const e of r) {
    const i = Number(e.slice("order-".length));
    const list = byCustomer.get(i % 50) ?? [];
    list.push(i);
    byCustomer.set(i % 50, list);
  }
  for (const list of byCustomer.values()) t.same(list, [...list].sort((a, b) => a - b));
  t.end();
});

void t.test("typed errors for bad input, and nothing created", async (t) => {
  const s = await startStandalone(args(t.testdir()));
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());
  await t.rejects(sluice.admin.createScope("no spaces"), { code: "INVALID_NAME" });
  await t.rejects(sluice.admin.createStream("nosuch/s"), { code: "NO_SUCH_SCOPE" });
  await sluice.admin.createScope("x");
  await t.rejects(sluice.admin.createStream("x/s", { scaling: { type: "fixed", minSegments: 0 } }), { code: "INVALID_ARGUMENT" });
  await t.rejects(sluice.admin.createStream("x/s", { scaling: { type: "fixed", minSegments: 100000 } }), { code: "INVALID_ARGUMENT" });
  t.same(await sluice.admin.listStreams("x"), [], "no stream was created by the bad calls");
  await t.rejects(sluice.admin.streamInfo("x/none"), { code: "NO_SUCH_STREAM" });
  await t.rejects(sluice.writer("x/none").write("a"), { code: "NO_SUCH_STREAM" });
  await sluice.admin.createStream("x/s");
  await t.rejects(sluice.writer("x/s").write(Buffer.alloc(8 * 1024 * 1024 + 1)), { code: "EVENT_TOO_LARGE" });
  t.throws(() => sluice.writer("bad"), { code: "INVALID_NAME" });
  await t.rejects(Sluice.connect("http://nope"), { code: "INVALID_ARGUMENT" });
  const [r] = await sluice.batch.segments("x/s");
  t.equal(r!.endOffset, 0, "the oversized event wrote nothing");
});

void t.test("streams and events survive a graceful restart", async (t) => {
  const dir = t.testdir();
  let s = await startStandalone(args(dir));
  let sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  await sluice.admin.createScope("r");
  await sluice.admin.createStream("r/s", { scaling: { type: "fixed", minSegments: 2 } });
  const w = sluice.writer("r/s");
  await Promise.all([w.write("a", { routingKey: "k" }), w.write("b", { routingKey: "k" })]);
  await sluice.close();
  await s.close();
  s = await startStandalone(args(dir));
  t.teardown(() => s.close());
  sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());
  t.same(await sluice.admin.listStreams("r"), ["s"]);
  const got: string[] = [];
  for (const r of await sluice.batch.segments("r/s")) for await (const e of sluice.batch.read(r)) got.push(Buffer.from(e.data).toString());
  t.same(got, ["a", "b"]);
});

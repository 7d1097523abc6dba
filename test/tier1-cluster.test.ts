// The cluster roles over replicated Tier-1: three `sluice lognode` processes, a `sluice segmentstore`
// with --tier1 at 3/3/2 and a controller, each its own process. Events are written through the
// client; a log node is SIGKILLed mid-stream and writes go on; then the segment store itself is
// SIGKILLed and a new one recovers every acknowledged event from the log nodes, in order per key.
import t from "tap";
import { Sluice } from "../client/index.js";
import { freePorts, startSluiceProcess, type SluiceProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";

const keyCount = 100;

void t.test("a segment store on three log nodes at 3/3/2 loses nothing when a log node and then the store die", async (t) => {
  const dir = t.testdir();
  const ports = await freePorts(5);
  const [cport, sport, ...lports] = ports as [number, number, number, number, number];
  const procs: SluiceProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill();
  });
  const lognodes: SluiceProcess[] = [];
  for (const [i, p] of lports.entries()) {
    const node = await startSluiceProcess("lognode", ["--data-dir", `${dir}/lognode-${i}`, "--port", String(p)]);
    lognodes.push(node);
    procs.push(node);
  }
  const tier1 = lports.map((p) => `127.0.0.1:${p}`).join(",");
  const storeArgs = ["--data-dir", `${dir}/store`, "--port", String(sport), "--tier1", tier1, "--ensemble", "3", "--write-quorum", "3", "--ack-quorum", "2", "--log-request-timeout-ms", "2000"];
  let store = await startSluiceProcess("segmentstore", storeArgs);
  procs.push(store);
  const controller = await startSluiceProcess("controller", ["--metadata", `file://${dir}/controller`, "--port", String(cport), "--segmentstore", `tcp://127.0.0.1:${sport}`]);
  procs.push(controller);

  const sluice = await Sluice.connect(`tcp://127.0.0.1:${cport}`);
  await sluice.admin.createScope("t1");
  await sluice.admin.createStream("t1/events", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("t1/events");
  const total = 20_000;
  const acks: Promise<void>[] = [];
  let acked = 0;
  let ackedAtKill = -1;
  for (let i = 0; i < total; i++) {
    const key = `k${i % keyCount}`;
    acks.push(writer.write(testEvent(key, Math.floor(i / keyCount)), { routingKey: key }).then(() => void acked++));
    if (i === total / 2) {
      await writer.flush();
      ackedAtKill = acked;
      await lognodes[0]!.kill();
    }
  }
  await Promise.all(acks);
  t.ok(ackedAtKill > 0 && ackedAtKill < total, "half the events were acknowledged before the log node died");
  t.equal(acked, total, "writes went on with one of three log nodes dead");
  await sluice.close();

  await store.kill();
  store = await startSluiceProcess("segmentstore", storeArgs);
  procs.push(store);
  const reader = await Sluice.connect(`tcp://127.0.0.1:${cport}`);
  const { total: read, byKey } = await readAllByKey(reader, "t1/events");
  t.equal(read, total, "every acknowledged event came back from the two live log nodes, once");
  const expected = JSON.stringify(Array.from({ length: total / keyCount }, (_, i) => i));
  t.equal([...byKey.values()].filter((seqs) => JSON.stringify(seqs) === expected).length, keyCount, "per key, in write order");
  await reader.close();
});

void t.test("bad segment store flags are refused with INVALID_CONFIG before anything starts", async (t) => {
  const dir = t.testdir();
  const cases: [string[], RegExp][] = [
    [["--tier1", "127.0.0.1:1,127.0.0.1:2", "--ensemble", "3"], /--ensemble 3 needs at least 3 log nodes/],
    [["--tier1", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "--write-quorum", "2", "--ack-quorum", "3"], /ack-quorum <= write-quorum/],
    [["--tier1", "nohost"], /is not HOST:PORT/],
    [["--ensemble", "3"], /need log nodes/],
    [["--load-windows-ms", "5000,1000"], /--load-windows-ms 5000,1000: each window/],
    [["--claim", "some"], /--claim.*unassigned or all/],
    [["--id", "bad id!"], /--id/],
  ];
  for (const [flags, message] of cases) {
    const err = await startSluiceProcess("segmentstore", ["--data-dir", `${dir}/s`, "--port", "0", ...flags]).then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    t.match(err?.message, /INVALID_CONFIG/, `${flags.join(" ")}: INVALID_CONFIG`);
    t.match(err?.message, message, `${flags.join(" ")}: says what to change`);
  }
});

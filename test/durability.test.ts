// Proves invariant 1 and 5 across processes: standalone runs as a child, gets SIGKILL after (and during) writes,
// restarts on the same data dir, and every acked event is read back exactly once, in write order per routing key.
import t from "tap";
import { Sluice } from "../client/index.js";
import { freePorts, startStandaloneProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";

const keyCount = 1000;

void t.test("100k acked events over 4 segments and 1000 keys survive SIGKILL", async (t) => {
  const dir = t.testdir();
  const [cport, sport] = await freePorts(2);
  const args = ["--controller-port", String(cport), "--segmentstore-port", String(sport)];
  let server = await startStandaloneProcess(dir, args);
  t.teardown(() => server.kill());
  const sluice = await Sluice.connect(server.controllerUri);
  await sluice.admin.createScope("dur");
  await sluice.admin.createStream("dur/events", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("dur/events");
  const total = 100_000;
  const acks: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const key = `k${i % keyCount}`;
    acks.push(writer.write(testEvent(key, Math.floor(i / keyCount)), { routingKey: key }));
  }
  await Promise.all(acks);
  await sluice.close();

  await server.kill();
  server = await startStandaloneProcess(dir, args);
  const reader = await Sluice.connect(server.controllerUri);
  const ranges = await reader.batch.segments("dur/events");
  t.equal(ranges.length, 4);
  t.ok(ranges.every((r) => r.endOffset > 0), "every segment got data");
  const { total: read, byKey } = await readAllByKey(reader, "dur/events");
  t.equal(read, total, "every acked event is read back, once");
  t.equal(byKey.size, keyCount);
  let ordered = 0;
  const expected = Array.from({ length: total / keyCount }, (_, i) => i);
  for (const seqs of byKey.values()) if (JSON.stringify(seqs) === JSON.stringify(expected)) ordered++;
  t.equal(ordered, keyCount, "per key: every sequence number once, in write order");
  await reader.close();
});

void t.test("SIGKILL during writes: the writer resends after restart; nothing lost, nothing doubled", async (t) => {
  const dir = t.testdir();
  const [cport, sport] = await freePorts(2);
  const args = ["--controller-port", String(cport), "--segmentstore-port", String(sport)];
  let server = await startStandaloneProcess(dir, args);
  t.teardown(() => server.kill());
  const sluice = await Sluice.connect(server.controllerUri);
  await sluice.admin.createScope("dur");
  await sluice.admin.createStream("dur/live", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("dur/live");
  const total = 40_000;
  let acked = 0;
  let killed: Promise<void> | undefined;
  let unackedAtKill = 0;
  const acks: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const key = `k${i % 100}`;
    acks.push(
      writer.write(testEvent(key, Math.floor(i / 100)), { routingKey: key }).then(() => {
        acked++;
        if (acked === 10_000 && killed === undefined) {
          unackedAtKill = acks.length - acked;
          killed = server.kill().then(async () => {
            server = await startStandaloneProcess(dir, args);
          });
        }
      }),
    );
    // Let acks arrive while writing, so the kill lands mid-stream.
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(acks);
  await killed;
  t.ok(killed !== undefined, "the server was killed mid-stream");
  t.ok(unackedAtKill > 0, `${unackedAtKill} events were written but not acked when the server died`);
  await sluice.close();

  const reader = await Sluice.connect(server.controllerUri);
  const { total: read, byKey } = await readAllByKey(reader, "dur/live");
  t.equal(read, total, "every event once: resends after the restart were deduplicated");
  let ordered = 0;
  const expected = Array.from({ length: total / 100 }, (_, i) => i);
  for (const seqs of byKey.values()) if (JSON.stringify(seqs) === JSON.stringify(expected)) ordered++;
  t.equal(ordered, 100, "per key order kept across the crash");
  await reader.close();
});

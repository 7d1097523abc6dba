// Proves live reading: a SegmentReader following the tail receives events as they are written (long poll, no busy
// loop), in order and once, and keeps going across a restart of the server (it reconnects and asks again from its
// offset).
import t from "tap";
import { Sluice, type Event } from "../client/index.js";
import { startStandalone } from "../bin/standalone.js";
import { freePorts } from "../perf/support/standalone-process.js";

async function collect(reader: ReturnType<Sluice["segmentReader"]>, count: number, into: Event[]): Promise<void> {
  while (into.length < count) into.push(...(await reader.next()));
}

void t.test("a reader at the tail gets events as they are written, across a server restart", async (t) => {
  const dir = t.testdir();
  const [cport, sport] = await freePorts(2);
  const args = ["--data-dir", dir, "--controller-port", String(cport), "--segmentstore-port", String(sport)];
  let server = await startStandalone(args);
  t.teardown(() => server.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${cport}`);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("live");
  await sluice.admin.createStream("live/s");
  const [range] = await sluice.batch.segments("live/s");
  const reader = sluice.segmentReader(range!.segment, { offset: 0, waitMs: 5000 });
  const got: Event[] = [];
  const writer = sluice.writer("live/s");

  // Nothing written yet: a read waits at the tail instead of returning at once.
  const started = Date.now();
  const firstRead = reader.next();
  await new Promise((r) => setTimeout(r, 300));
  await writer.write("e0");
  got.push(...(await firstRead));
  t.ok(Date.now() - started >= 300, "the first read waited for data");
  t.same(got.map((e) => Buffer.from(e.data).toString()), ["e0"]);

  for (let burst = 0; burst < 5; burst++) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => writer.write(`e${1 + burst * 100 + i}`)));
  }
  await collect(reader, 501, got);

  // Restart the server under the reader; it reconnects and continues from its offset.
  await server.close();
  server = await startStandalone(args);
  await Promise.all(Array.from({ length: 100 }, (_, i) => writer.write(`e${501 + i}`)));
  await collect(reader, 601, got);
  t.same(
    got.map((e) => Buffer.from(e.data).toString()),
    Array.from({ length: 601 }, (_, i) => `e${i}`),
    "every event once, in order",
  );
  for (let i = 1; i < got.length; i++) if (got[i]!.offset <= got[i - 1]!.offset) t.fail("offsets increase");
  reader.close();
  await t.rejects(reader.next(), { code: "CLOSED" });
});

void t.test("a range reader stops at its end; bad options are typed errors", async (t) => {
  const s = await startStandalone(["--data-dir", t.testdir(), "--controller-port", "0", "--segmentstore-port", "0"]);
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("r");
  await sluice.admin.createStream("r/s");
  const w = sluice.writer("r/s");
  await Promise.all(["a", "b", "c"].map((x) => w.write(x)));
  const [range] = await sluice.batch.segments("r/s");
  const second = 4 + 1; // each event is a 4-byte length and one byte
  const reader = sluice.segmentReader(range!.segment, { offset: second, endOffset: range!.endOffset, waitMs: 0 });
  const out: string[] = [];
  for await (const e of reader.events()) out.push(Buffer.from(e.data).toString());
  t.same(out, ["b", "c"]);
  t.equal(reader.done, true);
  t.throws(() => sluice.segmentReader(range!.segment, { offset: -1 }), { code: "INVALID_ARGUMENT" });
  t.throws(() => sluice.segmentReader(range!.segment, { waitMs: 10 ** 9 }), { code: "INVALID_ARGUMENT" });
  t.throws(() => sluice.segmentReader("not a segment"), { code: "INVALID_NAME" });
  const inside = sluice.segmentReader(range!.segment, { offset: 0, endOffset: 3, waitMs: 0 });
  await t.rejects(inside.next(), { code: "INVALID_ARGUMENT" }, "an end inside an event");
});

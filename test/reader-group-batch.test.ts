// Proves that the batch API and reader groups agree on what lies between two stream cuts. A group of two
// readers reads a stream while a writer (following scaling) writes and the stream is split and then merged;
// two checkpoints of the live group give two cuts spanning three epochs. Then, per segment, the same events
// (offsets and bytes) are found (1) between the two checkpoint markers of the live group's readers, (2) in the
// batch ranges between the two cuts, read in parallel, and (3) by a new group reading from the first cut to
// the second, which must end there.
import t from "tap";
import { Sluice, type EventReader, type StreamCut } from "../client/index.js";
import { startStandalone } from "../bin/standalone.js";
import { testEvent } from "./support/events.js";

const stream = "shop/orders";
const keyCount = 40;

type BySegment = Map<string, { offset: number; data: string }[]>;

function add(into: BySegment, segment: string, offset: number, data: Uint8Array): void {
  let list = into.get(segment);
  if (list === undefined) into.set(segment, (list = []));
  list.push({ offset, data: Buffer.from(data).toString("utf8") });
}

/** Per segment, sorted by offset (readers interleave segments; within one segment they are in order already). */
function sorted(m: BySegment): [string, { offset: number; data: string }[]][] {
  return [...m.entries()].map(([s, list]) => [s, [...list].sort((a, b) => a.offset - b.offset)] as [string, { offset: number; data: string }[]]).sort((a, b) => a[0].localeCompare(b[0]));
}

void t.test("batch ranges between two cuts hold exactly what a reader group reads between them", async (t) => {
  const s = await startStandalone(["--data-dir", t.testdir(), "--controller-port", "0", "--segmentstore-port", "0"]);
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("shop");
  await sluice.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 1 } });

  const live = await sluice.readerGroup("shop/live", { streams: [stream] });
  const readers: EventReader[] = [live.reader("r0"), live.reader("r1")];
  // Events each live reader returned after checkpoint c1 and before c2.
  const between: BySegment = new Map();
  let stop = false;
  let liveCount = 0;
  const loops = readers.map(async (reader) => {
    let inside = false;
    while (!stop) {
      const item = await reader.readNext({ timeoutMs: 100 });
      if (item.type === "checkpoint") inside = item.name === "c1";
      else if (item.type === "event" && inside) add(between, item.segment, item.offset, item.data);
      if (item.type === "event") liveCount++;
    }
  });

  const writer = sluice.writer(stream);
  let seq = 0;
  const writeSome = async (rounds: number) => {
    const writes: Promise<void>[] = [];
    for (let r = 0; r < rounds; r++, seq++) for (let k = 0; k < keyCount; k++) writes.push(writer.write(testEvent(`k${k}`, seq), { routingKey: `k${k}` }));
    await Promise.all(writes);
  };
  const current = async () => (await sluice.admin.streamInfo(stream)).segments;
  // Lets the live group catch up with the writer, so each checkpoint lands in the newest epoch.
  const caughtUp = async () => {
    for (let i = 0; i < 400 && liveCount < seq * keyCount; i++) await new Promise((r) => setTimeout(r, 25));
  };

  await writeSome(20);
  const first = await current();
  await sluice.admin.scaleStream(stream, [first[0]!.segment], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
  await writeSome(20);
  await caughtUp();
  const c1 = (await live.checkpoint("c1", { timeoutMs: 20_000 })).cuts[0]!;
  await writeSome(20);
  const split = await current();
  await sluice.admin.scaleStream(stream, split.map((x) => x.segment), [{ keyStart: 0, keyEnd: 1 }]);
  await writeSome(20);
  await caughtUp();
  const c2 = (await live.checkpoint("c2", { timeoutMs: 20_000 })).cuts[0]!;
  await writeSome(5);
  await writer.close();
  stop = true;
  await Promise.all(loops);
  await live.close();

  const epochsOf = (cut: StreamCut) => cut.positions.map((p) => p.segment.replace(/.*#epoch\./, "")).sort();
  t.comment(`c1 epochs ${epochsOf(c1).join(",")}, c2 epochs ${epochsOf(c2).join(",")}`);

  // The batch ranges between the cuts, read in parallel.
  const ranges = await sluice.batch.segments(stream, { from: c1, to: c2 });
  const batch: BySegment = new Map();
  await Promise.all(
    ranges.map(async (r) => {
      for await (const e of sluice.batch.read(r)) add(batch, r.segment, e.offset, e.data);
    }),
  );

  // A new group from c1 to c2, read to its end.
  const bounded = await sluice.readerGroup("shop/bounded", { streams: [stream], from: c1, to: c2 });
  const group: BySegment = new Map();
  const ends = await Promise.all(
    [bounded.reader("b0"), bounded.reader("b1")].map(async (reader) => {
      for (;;) {
        const item = await reader.readNext({ timeoutMs: 5_000 });
        if (item.type === "event") add(group, item.segment, item.offset, item.data);
        else if (item.type === "end") return true;
        else if (item.type === "timeout") return false;
      }
    }),
  );
  t.same(ends, [true, true], "the bounded group ends at the second cut");

  const total = [...batch.values()].reduce((n, l) => n + l.length, 0);
  t.ok(total === 40 * keyCount && ranges.length >= 3, `the cuts span epochs: ${total} events in ${ranges.length} ranges`);
  t.same(sorted(batch), sorted(between), "batch ranges = what the live group returned between its checkpoints");
  t.same(sorted(group), sorted(batch), "a group from c1 to c2 reads exactly the batch ranges");
});

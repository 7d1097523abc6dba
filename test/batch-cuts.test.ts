// Proves the batch API between stream cuts against an in-process standalone: events are written in four phases with
// tail cuts between them and a scale (one segment split in two) in the middle; the ranges between two cuts, read in
// parallel, hold exactly the events written between them (none missing, none extra, each once, per-key order kept
// across the split), cuts pass through text unchanged, bad cuts are INVALID_ARGUMENT, and after a truncation a cut
// before the new head is SEGMENT_TRUNCATED while the head cut is the truncation cut.
import t, { type Test } from "tap";
import { Sluice, streamCutFromText, streamCutToText, type EventWriter, type SegmentRangeToRead, type StreamCut } from "../client/index.js";
import { startStandalone } from "../bin/standalone.js";
import { parseTestEvent, testEvent } from "./support/events.js";

const stream = "bc/orders";
const keys = 16;

function args(dir: string): string[] {
  return ["--data-dir", dir, "--controller-port", "0", "--segmentstore-port", "0"];
}

/** Writes `count` events over `keys` routing keys, each key's sequence numbers going on from `next`; resolves their ids once durable. */
async function writePhase(w: EventWriter, next: Map<string, number>, count: number): Promise<string[]> {
  const ids: string[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `k${i % keys}`;
    const seq = next.get(key) ?? 0;
    next.set(key, seq + 1);
    ids.push(`${key}|${seq}`);
    writes.push(w.write(testEvent(key, seq, 200), { routingKey: key }));
  }
  await Promise.all(writes);
  await w.flush();
  return ids;
}

/** Reads every range at once; the events of each range in order, ranges in the order given. */
async function readParallel(sluice: Sluice, ranges: readonly SegmentRangeToRead[]): Promise<string[][]> {
  return Promise.all(
    ranges.map(async (r) => {
      const out: string[] = [];
      for await (const e of sluice.batch.read(r)) {
        const { key, seq } = parseTestEvent(e.data);
        out.push(`${key}|${seq}`);
      }
      return out;
    }),
  );
}

/** Checks that `perRange` holds exactly `expected`, each once, and each key's events in write order when ranges are taken in order. */
function checkExactly(t: Test, perRange: string[][], expected: readonly string[], what: string): void {
  const read = perRange.flat();
  t.equal(read.length, expected.length, `${what}: ${expected.length} events, none missing and none extra`);
  t.same([...read].sort(), [...expected].sort(), `${what}: exactly the events written`);
  t.equal(new Set(read).size, read.length, `${what}: each once`);
  const byKey = new Map<string, number[]>();
  for (const id of read) {
    const [key, seq] = id.split("|");
    const list = byKey.get(key!) ?? [];
    list.push(Number(seq));
    byKey.set(key!, list);
  }
  const outOfOrder = [...byKey].filter(([, seqs]) => seqs.some((s, i) => i > 0 && s < seqs[i - 1]!));
  t.same(outOfOrder, [], `${what}: per-key order kept, predecessors' ranges before successors'`);
}

void t.test("ranges between two cuts hold exactly the events written between them, across a scale", async (t) => {
  const s = await startStandalone(args(t.testdir()));
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("bc");
  await sluice.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 2 } });
  await sluice.admin.createStream("bc/other", { scaling: { type: "fixed", minSegments: 1 } });
  const next = new Map<string, number>();

  const head = await sluice.admin.headCut(stream);
  t.same(head.positions.map((p) => p.offset), [0, 0], "the head of a new stream is every segment at 0");
  const w1 = sluice.writer(stream);
  const phase1 = await writePhase(w1, next, 400);
  // Cuts are kept as text between the phases, as a job would keep them in a file.
  const cut1Text = streamCutToText(await sluice.admin.tailCut(stream));
  t.match(cut1Text, /^sc1\.[A-Za-z0-9_-]+$/);
  const phase2 = await writePhase(w1, next, 400);
  await w1.close();

  const [low, high] = (await sluice.admin.streamInfo(stream)).segments;
  await sluice.admin.scaleStream(stream, [low!.segment], [{ keyStart: 0, keyEnd: 0.25 }, { keyStart: 0.25, keyEnd: 0.5 }]);
  // The writer does not follow scaling yet: a new one writes to the new segments.
  const w2 = sluice.writer(stream);
  const phase3 = await writePhase(w2, next, 400);
  const cut2Text = streamCutToText(await sluice.admin.tailCut(stream));
  const phase4 = await writePhase(w2, next, 400);
  await w2.close();
  const cut1 = streamCutFromText(cut1Text);
  const cut2 = streamCutFromText(`${cut2Text}\n`);
  t.equal(cut1.positions.length, 2, "cut 1 holds the first epoch's two segments");
  t.equal(cut2.positions.length, 3, "cut 2 holds the three segments after the split");

  const between = await sluice.batch.segments(stream, { from: cut1, to: cut2 });
  const offsetOf = (cut: StreamCut, segment: string) => cut.positions.find((p) => p.segment === segment)?.offset;
  t.same(between.map((r) => r.segment), [low!.segment, high!.segment, ...cut2.positions.map((p) => p.segment).filter((n) => n !== high!.segment).sort()],
    "predecessors before successors: the split segment and its neighbour, then the two new segments");
  t.equal(between[0]!.startOffset, offsetOf(cut1, low!.segment), "the split segment from cut 1");
  t.ok(between[0]!.endOffset > between[0]!.startOffset, "to its sealed end");
  t.same([between[1]!.startOffset, between[1]!.endOffset], [offsetOf(cut1, high!.segment), offsetOf(cut2, high!.segment)], "the unsplit segment from cut 1 to cut 2");
  for (const r of between.slice(2)) t.same([r.startOffset, r.endOffset], [0, offsetOf(cut2, r.segment)], `${r.segment} from its start to cut 2`);
  checkExactly(t, await readParallel(sluice, between), [...phase2, ...phase3], "cut 1 to cut 2");

  checkExactly(t, await readParallel(sluice, await sluice.batch.segments(stream, { to: cut1 })), phase1, "head to cut 1");
  checkExactly(t, await readParallel(sluice, await sluice.batch.segments(stream, { from: cut2 })), phase4, "cut 2 to now");
  checkExactly(t, await readParallel(sluice, await sluice.batch.segments(stream)), [...phase1, ...phase2, ...phase3, ...phase4], "head to now");
  checkExactly(t, await readParallel(sluice, await sluice.batch.segments(stream, { from: cut1, to: cut1 })), [], "a cut to itself");

  // Bad cuts: typed errors naming the problem, before or at the controller.
  const otherCut = await sluice.admin.tailCut("bc/other");
  await t.rejects(sluice.batch.segments(stream, { from: otherCut }), { code: "INVALID_ARGUMENT", message: /cut of stream bc\/other, not of bc\/orders/ });
  await t.rejects(sluice.batch.segments(stream, { from: cut2, to: cut1 }), { code: "INVALID_ARGUMENT", message: /before from/ });
  await t.rejects(sluice.batch.segments(stream, { from: { positions: [] } }), { code: "INVALID_ARGUMENT", message: /no positions/ });
  await t.rejects(sluice.batch.segments(stream, { to: { positions: [{ segment: `${stream}/0.#epoch.0`, offset: -5 }] } }), { code: "INVALID_ARGUMENT", message: /offset -5/ });
  await t.rejects(sluice.batch.segments(stream, { from: { positions: [cut1.positions[0]!] } }), { code: "INVALID_ARGUMENT", message: /cover/ }, "a cut that misses keys");
  const beyond = { positions: cut2.positions.map((p) => ({ ...p, offset: p.offset + 1_000_000 })) };
  await t.rejects(sluice.batch.segments(stream, { to: beyond }), { code: "INVALID_ARGUMENT", message: /past its length/ });
  await t.rejects(sluice.batch.segments("bc/none", { from: cut1 }), { code: "INVALID_ARGUMENT", message: /not of bc\/none/ });
  await t.rejects(sluice.batch.segments("bc/none"), { code: "NO_SUCH_STREAM" });
  await t.rejects(sluice.admin.tailCut("bc/none"), { code: "NO_SUCH_STREAM" });

  // Truncating at cut 2: it becomes the head; a cut before it can no longer start a read.
  await sluice.admin.truncateStream(stream, cut2);
  t.same(new Set((await sluice.admin.headCut(stream)).positions.map((p) => `${p.segment}@${p.offset}`)), new Set(cut2.positions.map((p) => `${p.segment}@${p.offset}`)), "the head is the truncation cut");
  await t.rejects(sluice.batch.segments(stream, { from: cut1 }), { code: "SEGMENT_TRUNCATED", message: /before the stream's head/ });
  checkExactly(t, await readParallel(sluice, await sluice.batch.segments(stream)), phase4, "the head to now after truncation");
  checkExactly(t, await readParallel(sluice, await sluice.batch.segments(stream, { from: cut2 })), phase4, "cut 2 (the head) to now");
});

// Proves the scale workflow with an in-memory segment fake and the embedded metadata store: splits
// and merges keep every epoch's ranges covering [0, 1) end to end, epochs increment, successors
// and predecessors follow from the epoch records, the plan is checked when it executes (current
// segments, exact cover, minSegments), and a scale cut short after sealing (a simulated crash, or
// the pause hook with a second controller resuming) commits exactly once with no orphan segment,
// also when two controllers resume it at once.
import t, { type Test } from "tap";
import type { StreamService } from "./stream-service.js";
import { drive, harness, orphans, until } from "./stream-test-support.js";

const fixed = (n: number) => ({ scaling: { type: "FIXED" as const, minSegments: n, targetRate: 0, scaleFactor: 0 } });
const byRate = (n: number) => ({ scaling: { type: "BY_EVENT_RATE" as const, minSegments: n, targetRate: 100, scaleFactor: 2 } });

/** A stream of `n` equal segments whose policy lets scales merge down to one. */
async function flexible(svc: StreamService, scope: string, stream: string, n: number): Promise<void> {
  await svc.createStream(scope, stream, byRate(n));
  await svc.updateStream(scope, stream, byRate(1));
}

/** Asserts the current ranges tile [0, 1) end to end, in key order. */
async function checkTiling(t: Test, svc: StreamService, scope: string, stream: string): Promise<void> {
  const segs = await svc.currentRanges(scope, stream);
  let at = 0;
  for (const s of segs) {
    t.equal(s.keyStart, at, `${s.segment} starts where the previous ended`);
    t.ok(s.keyEnd > s.keyStart, `${s.segment} is not empty`);
    at = s.keyEnd;
  }
  t.equal(at, 1, "the last range ends at 1");
}

void t.test("split then merge: ranges, epochs, numbers, successors and predecessors", async (t) => {
  const { svc, ops } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  const [a, b] = await svc.currentRanges("sc", "s");
  ops.append(a!.segment, "a1");
  const split = await svc.scale("sc", "s", [a!.segment], [{ keyStart: 0.25, keyEnd: 0.5 }, { keyStart: 0, keyEnd: 0.25 }]);
  t.equal(split.epoch, 1);
  t.same(split.segments.map((s) => [s.segment, s.keyStart, s.keyEnd]), [["sc/s/2.#epoch.1", 0, 0.25], ["sc/s/3.#epoch.1", 0.25, 0.5]], "fresh numbers, the new epoch, key order");
  t.equal(ops.segments.get(a!.segment)?.sealed, true, "the predecessor is sealed");
  await checkTiling(t, svc, "sc", "s");
  const succ = await svc.successors(a!.segment);
  t.same(succ.map((s) => [s.range?.segment, s.predecessors]), [["sc/s/2.#epoch.1", [a!.segment]], ["sc/s/3.#epoch.1", [a!.segment]]]);
  t.same(await svc.successors(b!.segment), [], "a current segment has no successors");

  const merged = await svc.scale("sc", "s", ["sc/s/3.#epoch.1", b!.segment], [{ keyStart: 0.25, keyEnd: 1 }]);
  t.equal(merged.epoch, 2);
  t.same(merged.segments.map((s) => [s.segment, s.keyStart, s.keyEnd]), [["sc/s/4.#epoch.2", 0.25, 1]]);
  await checkTiling(t, svc, "sc", "s");
  const toMerged = await svc.successors(b!.segment);
  t.same(toMerged.map((s) => [s.range?.segment, s.predecessors.sort()]), [["sc/s/4.#epoch.2", ["sc/s/1.#epoch.0", "sc/s/3.#epoch.1"]]], "a merge's successor names all its predecessors");
  t.same(await svc.successors("sc/s/2.#epoch.1"), [], "a segment living on through later epochs is still current");
  const current = await svc.currentSegments("sc", "s");
  t.equal(current.epoch, 2);
  t.same(current.segments.map((s) => s.range.segment), ["sc/s/2.#epoch.1", "sc/s/4.#epoch.2"]);
  await t.rejects(svc.successors("sc/s/9.#epoch.0"), { code: "NO_SUCH_SEGMENT" });
  await t.rejects(svc.successors("sc/s/2.#epoch.0"), { code: "NO_SUCH_SEGMENT" }, "a number with the wrong epoch");
  await t.rejects(svc.successors("not a segment"), { code: "INVALID_NAME" });
  t.same(await orphans(svc["store"], ops), []);
});

void t.test("the plan is checked when it executes", async (t) => {
  const { svc } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 2, targetRate: 10, scaleFactor: 2 } });
  const [a, b] = await svc.currentRanges("sc", "s");
  const cases: [string, string[], { keyStart: number; keyEnd: number }[], RegExp, string][] = [
    ["gap", [a!.segment], [{ keyStart: 0, keyEnd: 0.2 }, { keyStart: 0.3, keyEnd: 0.5 }], /cover exactly/, "INVALID_ARGUMENT"],
    ["overlap", [a!.segment], [{ keyStart: 0, keyEnd: 0.3 }, { keyStart: 0.2, keyEnd: 0.5 }], /cover exactly/, "INVALID_ARGUMENT"],
    ["too far", [a!.segment], [{ keyStart: 0, keyEnd: 0.6 }], /reaches past/, "INVALID_ARGUMENT"],
    ["empty range", [a!.segment], [{ keyStart: 0, keyEnd: 0 }, { keyStart: 0, keyEnd: 0.5 }], /newRanges\[0\]/, "INVALID_ARGUMENT"],
    ["nothing sealed", [], [{ keyStart: 0, keyEnd: 0.5 }], /seal names no segment/, "INVALID_ARGUMENT"],
    ["below minSegments", [a!.segment, b!.segment], [{ keyStart: 0, keyEnd: 1 }], /minSegments 2/, "INVALID_ARGUMENT"],
    ["not current", ["sc/s/7.#epoch.0"], [{ keyStart: 0, keyEnd: 0.5 }], /not a current segment/, "CONDITIONAL_CHECK_FAILED"],
    ["other stream", ["sc/t/0.#epoch.0"], [{ keyStart: 0, keyEnd: 0.5 }], /not a segment of stream/, "INVALID_ARGUMENT"],
  ];
  for (const [what, seal, ranges, message, code] of cases) await t.rejects(svc.scale("sc", "s", seal, ranges), { code, message }, what);
  t.equal((await svc.getStream("sc", "s")).epoch, 0, "nothing changed");
  // A range computed another way (1/3) is accepted within the tolerance and stored exactly.
  const third = await svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.5 / 3 }, { keyStart: 0.16666666666666669, keyEnd: 0.5000000000001 }]);
  t.equal(third.segments[1]!.keyStart, third.segments[0]!.keyEnd, "snapped onto the neighbour");
  t.equal(third.segments[1]!.keyEnd, 0.5, "snapped onto the sealed end");
  await t.rejects(svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.5 }]), { code: "CONDITIONAL_CHECK_FAILED" }, "a second scale of the same segment lost");
  // minSegments is read when the scale executes: a config raised meanwhile refuses a merge that was fine before.
  await svc.updateStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 3, targetRate: 10, scaleFactor: 2 } });
  const segs = await svc.currentRanges("sc", "s");
  await t.rejects(svc.scale("sc", "s", [segs[0]!.segment, segs[1]!.segment], [{ keyStart: 0, keyEnd: 0.5 }]), { code: "INVALID_ARGUMENT", message: /minSegments 3/ });
});

void t.test("a scale that crashed after sealing is finished exactly once by another controller", async (t) => {
  const h = await harness(t);
  await h.svc.createScope("sc");
  await flexible(h.svc, "sc", "s", 3);
  const [a, b, c] = await h.svc.currentRanges("sc", "s");
  // The merge creates one segment and seals the first predecessor, then the controller "dies".
  h.ops.callsBeforeCrash = 2;
  await t.rejects(h.svc.scale("sc", "s", [a!.segment, b!.segment], [{ keyStart: 0, keyEnd: 2 / 3 }]), /simulated/);
  t.equal(h.ops.segments.get(a!.segment)?.sealed, true, "one predecessor sealed before the crash");
  t.equal(h.ops.segments.get(b!.segment)?.sealed, false, "the other not");
  t.equal((await h.svc.getStream("sc", "s")).epoch, 0, "not committed");
  await t.rejects(
    drive(h.clock, h.svc.scale("sc", "s", [c!.segment], [{ keyStart: 2 / 3, keyEnd: 1 }])),
    { code: "UNAVAILABLE", message: /busy with a scale/ },
    "another scale waits for the slot (helping after a while, which crashes again), then gives up",
  );
  h.ops.callsBeforeCrash = undefined;
  await h.another().resumeWorkflows(0);
  const info = await h.svc.getStream("sc", "s");
  t.equal(info.epoch, 1);
  t.same(info.segments.map((s) => s.segment), ["sc/s/3.#epoch.1", c!.segment]);
  t.equal(h.ops.segments.get(b!.segment)?.sealed, true);
  await h.svc.resumeWorkflows(0);
  t.equal((await h.svc.getStream("sc", "s")).epoch, 1, "resuming again changes nothing");
  t.same(await orphans(h.store, h.ops), []);
  const after = await h.svc.scale("sc", "s", [c!.segment], [{ keyStart: 2 / 3, keyEnd: 0.8 }, { keyStart: 0.8, keyEnd: 1 }]);
  t.equal(after.epoch, 2, "the slot is free again");
});

void t.test("pause hook: a second controller finishes the scale; the first then finds it done", async (t) => {
  const h = await harness(t, { pauseAfterSealMs: 60_000 });
  await h.svc.createScope("sc");
  await h.svc.createStream("sc", "s", fixed(1));
  const [a] = await h.svc.currentRanges("sc", "s");
  const first = h.svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
  await until(() => h.ops.segments.get(a!.segment)?.sealed === true, "predecessor sealed");
  await until(() => h.ops.calls.filter((c) => c.startsWith("seal")).length === 1, "paused");
  t.same(await h.svc.successors(a!.segment), [], "sealed but not committed: no successors yet");
  await h.another().resumeWorkflows(0);
  t.equal((await h.svc.getStream("sc", "s")).epoch, 1, "committed by the second controller");
  // A third controller's scale now holds the slot, paused too: the first must not commit over it.
  const third = h.another({ pauseAfterSealMs: 60_000 }).scale("sc", "s", ["sc/s/2.#epoch.1"], [{ keyStart: 0.5, keyEnd: 0.75 }, { keyStart: 0.75, keyEnd: 1 }]);
  await until(() => h.ops.segments.get("sc/s/2.#epoch.1")?.sealed === true, "third scale paused");
  h.clock.advance(60_000);
  const result = await first;
  t.same(result.segments.map((s) => s.segment), ["sc/s/1.#epoch.1", "sc/s/2.#epoch.1"], "the first call answers the same result");
  t.equal((await third).epoch, 2);
  const info = await h.svc.getStream("sc", "s");
  t.equal(info.epoch, 2, "each scale committed exactly once");
  t.same(info.segments.map((s) => s.segment), ["sc/s/1.#epoch.1", "sc/s/3.#epoch.2", "sc/s/4.#epoch.2"]);
  t.same(await orphans(h.store, h.ops), []);
});

void t.test("two controllers resuming the same crashed scale at once agree", async (t) => {
  const h = await harness(t);
  await h.svc.createScope("sc");
  await flexible(h.svc, "sc", "s", 4);
  const segs = await h.svc.currentRanges("sc", "s");
  h.ops.callsBeforeCrash = 1;
  await t.rejects(h.svc.scale("sc", "s", [segs[1]!.segment, segs[2]!.segment], [{ keyStart: 0.25, keyEnd: 0.75 }]), /simulated/);
  h.ops.callsBeforeCrash = undefined;
  const x = h.another();
  const y = h.another();
  await Promise.all([x.resumeWorkflows(0), y.resumeWorkflows(0), x.resumeWorkflows(0)]);
  const info = await h.svc.getStream("sc", "s");
  t.equal(info.epoch, 1);
  t.same(info.segments.map((s) => [s.segment, s.keyStart, s.keyEnd]), [
    ["sc/s/0.#epoch.0", 0, 0.25],
    ["sc/s/4.#epoch.1", 0.25, 0.75],
    ["sc/s/3.#epoch.0", 0.75, 1],
  ]);
  await checkTiling(t, h.svc, "sc", "s");
  t.same(await orphans(h.store, h.ops), []);
});

void t.test("racing scales of the same segments: one wins, the other is told it lost", async (t) => {
  const h = await harness(t);
  await h.svc.createScope("sc");
  await h.svc.createStream("sc", "s", fixed(2));
  const [a] = await h.svc.currentRanges("sc", "s");
  const results = await drive(
    h.clock,
    Promise.allSettled([
      h.svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.1 }, { keyStart: 0.1, keyEnd: 0.5 }]),
      h.another().scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.4 }, { keyStart: 0.4, keyEnd: 0.5 }]),
    ]),
  );
  t.same(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  const lost = results.find((r) => r.status === "rejected");
  t.match(lost, { reason: { code: "CONDITIONAL_CHECK_FAILED" } });
  t.equal((await h.svc.getStream("sc", "s")).epoch, 1);
  await checkTiling(t, h.svc, "sc", "s");
  t.same(await orphans(h.store, h.ops), []);
});

void t.test("segmentsAtCut and segmentsBetween follow the successor graph", async (t) => {
  const { svc, ops } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  const [a, b] = await svc.currentRanges("sc", "s");
  ops.append(a!.segment, "a1");
  const head = await svc.segmentsAtCut("sc", "s");
  t.same(head.map((p) => [p.range?.segment, p.offset]), [[a!.segment, 0], [b!.segment, 0]], "an empty cut is the head");
  const mid = (await svc.tailCut("sc", "s"))!;
  t.same(mid.cut.positions, [{ segment: a!.segment, offset: 6 }, { segment: b!.segment, offset: 0 }]);
  t.equal(mid.sizeBytes, 6);
  await svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.25 }, { keyStart: 0.25, keyEnd: 0.5 }]);
  await svc.scale("sc", "s", ["sc/s/3.#epoch.1", b!.segment], [{ keyStart: 0.25, keyEnd: 1 }]);
  ops.append("sc/s/4.#epoch.2", "c1");
  const tail = (await svc.tailCut("sc", "s"))!;
  t.equal(tail.epoch, 2);
  t.equal(tail.sizeBytes, 6 + 6, "sealed bytes plus current lengths");
  const all = await svc.segmentsBetween("sc", "s");
  t.same(all.map((s) => [s.range?.segment, s.startOffset, s.endOffset]), [
    [a!.segment, 0, -1],
    [b!.segment, 0, -1],
    ["sc/s/2.#epoch.1", 0, -1],
    ["sc/s/3.#epoch.1", 0, -1],
    ["sc/s/4.#epoch.2", 0, -1],
  ]);
  const between = await svc.segmentsBetween("sc", "s", mid.cut, { positions: [{ segment: "sc/s/2.#epoch.1", offset: 0 }, { segment: "sc/s/3.#epoch.1", offset: 0 }, { segment: b!.segment, offset: 0 }] });
  t.same(between.map((s) => [s.range?.segment, s.startOffset, s.endOffset]), [
    [a!.segment, 6, -1],
    [b!.segment, 0, 0],
    ["sc/s/2.#epoch.1", 0, 0],
    ["sc/s/3.#epoch.1", 0, 0],
  ]);
  await t.rejects(svc.segmentsBetween("sc", "s", tail.cut, mid.cut), { code: "INVALID_ARGUMENT", message: /before from/ });
  // Cut validation.
  const pos = (...names: string[]) => names.map((segment) => ({ segment, offset: 0 }));
  const bad: [string, { segment: string; offset: number }[], RegExp][] = [
    ["gap", pos("sc/s/2.#epoch.1", "sc/s/4.#epoch.2").slice(0, 1), /nothing covers \[0.25, 1\)/],
    ["overlap", pos(a!.segment, "sc/s/2.#epoch.1", "sc/s/3.#epoch.1", b!.segment), /overlaps/],
    ["negative offset", [{ segment: a!.segment, offset: -1 }, { segment: b!.segment, offset: 0 }], /offset -1/],
    ["fractional offset", [{ segment: a!.segment, offset: 0.5 }, { segment: b!.segment, offset: 0 }], /offset 0.5/],
    ["unknown", pos("sc/s/9.#epoch.0", b!.segment), /not a segment of stream/],
    ["other stream", pos("sc/x/0.#epoch.0", b!.segment), /not a segment of stream/],
    ["transaction segment", pos(`${a!.segment}#txn.${"0".repeat(32)}`, b!.segment), /transaction segment/],
    ["twice", pos(a!.segment, a!.segment), /twice/],
  ];
  for (const [what, positions, message] of bad) {
    await t.rejects(svc.segmentsAtCut("sc", "s", { positions }), { code: "INVALID_ARGUMENT", message }, what);
  }
  await t.rejects(svc.segmentsAtCut("sc", "s", { positions: pos("not-a-segment") }), { code: "INVALID_NAME" });
  t.same((await svc.segmentsAtCut("sc", "s", { positions: pos("sc/s/2.#epoch.1", "sc/s/3.#epoch.1", b!.segment) })).map((p) => p.range?.segment), ["sc/s/2.#epoch.1", "sc/s/3.#epoch.1", b!.segment], "a cut across epochs");
  t.same((await svc.segmentsAtCut("sc", "s", { positions: pos("sc/s/4.#epoch.2", "sc/s/2.#epoch.1") })).length, 2, "the tail, given out of key order");
  // An ancestor whose range does not overlap: g/0 -> g/2 (merge of 0 and 1) -> g/4 ([0.5, 1)).
  await flexible(svc, "sc", "g", 2);
  await svc.scale("sc", "g", ["sc/g/0.#epoch.0", "sc/g/1.#epoch.0"], [{ keyStart: 0, keyEnd: 1 }]);
  await svc.scale("sc", "g", ["sc/g/2.#epoch.1"], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
  await t.rejects(svc.segmentsAtCut("sc", "g", { positions: pos("sc/g/0.#epoch.0", "sc/g/4.#epoch.2") }), { code: "INVALID_ARGUMENT", message: /sc\/g\/4.*follows another segment/ });
});

// Proves the reader-group state transitions on plain values (no I/O): fair sharing as readers join and leave, the
// predecessor rule across splits, merges and a split-and-merge (successors of one segment become readable together,
// so the group's cut stays valid), checkpoints that freeze ownership and build one consistent cut, resets, `to`
// bounds and the end of reading.
import t from "tap";
import {
  acquire,
  beginCheckpoint,
  cancelCheckpoint,
  complete,
  cutOf,
  heldCounts,
  initialState,
  isEnd,
  join,
  leave,
  reachCheckpoint,
  recordPositions,
  release,
  reset,
  shouldAcquire,
  shouldRelease,
  withinGroup,
  type GroupState,
  type PositionedRange,
} from "./group-state.js";

const seg = (n: number, epoch = 0) => `s/t/${n}.#epoch.${epoch}`;
const ranges = (count: number): PositionedRange[] => [...Array(count).keys()].map((i) => ({ segment: seg(i), keyStart: i / count, keyEnd: (i + 1) / count, offset: 0 }));

function group(count: number, readers: string[]): GroupState {
  const segments = ranges(count);
  let s = initialState([{ stream: "s/t", segments }]);
  for (const r of readers) s = join(s, r, `${r}-1`);
  return s;
}

function counts(s: GroupState): number[] {
  return [...heldCounts(s).values()];
}

void t.test("fair sharing: 4 segments, 2 readers 2/2; a third joins 2/1/1; one leaves 2/2", async (t) => {
  let s = group(4, ["r1", "r2"]);
  s = acquire(s, "r1");
  s = acquire(s, "r2");
  t.same(counts(s), [2, 2]);
  s = join(s, "r3", "r3-1");
  t.equal(shouldAcquire(s, "r3"), false, "nothing unassigned");
  t.equal(shouldRelease(s, "r1"), true, "r1 holds more than the floor while r3 holds none");
  const given = s.active.find((a) => a.owner === "r1")!;
  s = release(s, "r1", given.segment, 7);
  t.equal(s.active.find((a) => a.segment === given.segment)!.offset, 7, "released at the reader's position");
  t.equal(shouldRelease(s, "r2"), false, "one release is enough: a segment is unassigned");
  t.equal(release(s, "r2", s.active.find((a) => a.owner === "r2")!.segment, 0), s, "a stale release decision is dropped");
  t.equal(shouldAcquire(s, "r2"), false, "r2 is at the ceiling");
  s = acquire(s, "r3");
  t.same(counts(s), [1, 2, 1]);
  t.equal(shouldRelease(s, "r1") || shouldRelease(s, "r2") || shouldRelease(s, "r3"), false, "balanced");
  const r3seg = s.active.find((a) => a.owner === "r3")!.segment;
  s = leave(s, "r3", { [r3seg]: 11 });
  t.same(s.readers, ["r1", "r2"]);
  t.same(s.active.find((a) => a.segment === r3seg), { ...s.active.find((a) => a.segment === r3seg), owner: null, offset: 11 }, "goes back at the given position");
  s = acquire(s, "r1");
  t.same(counts(s), [2, 2]);
});

void t.test("fresh readers share 4 segments 2/1/1 and a newcomer is served before others take more", async (t) => {
  let s = group(4, ["r1", "r2", "r3"]);
  s = acquire(s, "r1");
  t.same(counts(s), [1, 0, 0], "the floor first, then no more than anyone else");
  s = acquire(s, "r2");
  t.same(counts(s), [1, 1, 0]);
  s = acquire(s, "r3");
  t.same(counts(s), [1, 1, 2], "the last reader takes its floor, then the leftover as it holds no more than anyone");
  t.equal(acquire(s, "r1"), s, "nothing left");
  t.equal(join(s, "r1", "r1-1"), s, "joining again as the same incarnation changes nothing");
});

void t.test("more than the ceiling is released even with segments unassigned elsewhere", async (t) => {
  let s = group(6, ["r1"]);
  s = acquire(s, "r1");
  t.same(counts(s), [6]);
  s = join(join(s, "r2", "r2-1"), "r3", "r3-1");
  t.equal(shouldRelease(s, "r1"), true);
  for (let i = 0; i < 4; i++) s = release(s, "r1", s.active.filter((a) => a.owner === "r1").at(-1)!.segment, 0);
  t.same(counts(s), [2, 0, 0], "released down to the ceiling, no further");
  s = acquire(acquire(s, "r2"), "r3");
  t.same(counts(s), [2, 2, 2]);
});

void t.test("a split: both successors become readable once the predecessor is read", async (t) => {
  let s = acquire(group(1, ["r1"]), "r1");
  const succ = [
    { segment: seg(1, 1), keyStart: 0, keyEnd: 0.5, predecessors: [seg(0)] },
    { segment: seg(2, 1), keyStart: 0.5, keyEnd: 1, predecessors: [seg(0)] },
  ];
  t.equal(complete(s, "r2", seg(0), 100, succ), s, "only the owner completes a segment");
  s = complete(s, "r1", seg(0), 100, succ);
  t.same(s.active.map((a) => [a.segment, a.offset, a.owner]), [[seg(1, 1), 0, null], [seg(2, 1), 0, null]]);
  t.same(s.completed, [], "a completed segment is forgotten once all its successors are readable");
  t.same(cutOf(s), [{ positions: [{ segment: seg(1, 1), offset: 0 }, { segment: seg(2, 1), offset: 0 }] }]);
});

void t.test("a merge: the successor waits for both predecessors", async (t) => {
  let s = acquire(group(2, ["r1", "r2"]), "r1");
  s = acquire(s, "r2");
  const merged = [{ segment: seg(2, 1), keyStart: 0, keyEnd: 1, predecessors: [seg(0), seg(1)] }];
  s = complete(s, "r1", seg(0), 40, merged);
  t.same(s.active.map((a) => a.segment), [seg(1)], "the merged segment is not readable yet");
  t.same(s.future.map((f) => f.segment), [seg(2, 1)]);
  s = recordPositions(s, "r2", { [seg(1)]: 25, [seg(0)]: 999 });
  t.same(cutOf(s), [{ positions: [{ segment: seg(1), offset: 25 }, { segment: seg(0), offset: 40 }] }], "the cut holds the read predecessor at its end; others' segments are not recorded");
  s = complete(s, "r2", seg(1), 60, merged);
  t.same(s.active.map((a) => [a.segment, a.owner]), [[seg(2, 1), null]]);
  t.same(s.completed, []);
  t.same(s.future, []);
});

void t.test("a split and a merge in one scale: successors of one segment become readable together", async (t) => {
  // C=[0,0.5) D=[0.5,1) become S1=[0,0.25) (from C) and S2=[0.25,1) (from C and D).
  let s = acquire(group(2, ["r1", "r2"]), "r1");
  s = acquire(s, "r2");
  const succC = [
    { segment: seg(2, 1), keyStart: 0, keyEnd: 0.25, predecessors: [seg(0)] },
    { segment: seg(3, 1), keyStart: 0.25, keyEnd: 1, predecessors: [seg(0), seg(1)] },
  ];
  s = complete(s, "r1", seg(0), 10, succC);
  t.same(s.active.map((a) => a.segment), [seg(1)], "S1 waits with S2, so no cut holds C together with S1");
  t.same(cutOf(s), [{ positions: [{ segment: seg(1), offset: 0 }, { segment: seg(0), offset: 10 }] }]);
  s = complete(s, "r2", seg(1), 20, [succC[1]!]);
  t.same(s.active.map((a) => a.segment).sort(), [seg(2, 1), seg(3, 1)]);
  t.same(s.completed, []);
});

void t.test("withinGroup drops successors beyond `to` and predecessors behind the group", async (t) => {
  const reachable = new Set([seg(1), seg(2, 1)]);
  const out = withinGroup(
    [
      { segment: seg(2, 1), keyStart: 0, keyEnd: 0.5, predecessors: [seg(0), seg(1)] },
      { segment: seg(3, 1), keyStart: 0.5, keyEnd: 1, predecessors: [seg(1)] },
    ],
    reachable,
  );
  t.same(out, [{ segment: seg(2, 1), keyStart: 0, keyEnd: 0.5, predecessors: [seg(1)] }]);
});

void t.test("a checkpoint freezes ownership and builds one consistent cut", async (t) => {
  let s = group(5, ["r1", "r2"]);
  s = acquire(acquire(s, "r1"), "r2");
  t.same(counts(s), [2, 3]);
  // One of r2's segments back unassigned at 5 (as if r2 had released it).
  const r1segs = s.active.filter((a) => a.owner === "r1").map((a) => a.segment);
  const r2all = s.active.filter((a) => a.owner === "r2").map((a) => a.segment);
  const loose = r2all[2]!;
  s = { ...s, active: s.active.map((a) => (a.segment === loose ? { ...a, owner: null, offset: 5 } : a)) };
  const begun = beginCheckpoint(s, "cp-1");
  s = begun.state;
  t.same(s.checkpoint?.waiting, ["r1", "r2"]);
  t.same(s.checkpoint?.positions, { [loose]: 5 }, "unassigned segments are recorded at once");
  t.equal(shouldAcquire(s, "r1"), false, "no acquire while pending");
  t.equal(acquire(s, "r2"), s);
  t.equal(complete(s, "r1", r1segs[0]!, 9, []), s, "no completion while pending");
  t.throws(() => beginCheckpoint(s, "cp-2"), { code: "INVALID_ARGUMENT" });
  s = reachCheckpoint(s, begun.id, "r1", { [r1segs[0]!]: 100, [r1segs[1]!]: 110 });
  t.same(s.checkpoint?.waiting, ["r2"]);
  t.equal(reachCheckpoint(s, begun.id, "r1", {}), s, "a reader reaches a checkpoint once");
  const r2segs = s.active.filter((a) => a.owner === "r2").map((a) => a.segment);
  // Positions after reaching move on; the cut keeps those at the checkpoint.
  s = reachCheckpoint(s, begun.id, "r2", { [r2segs[0]!]: 200, [r2segs[1]!]: 210 });
  s = recordPositions(s, "r1", { [r1segs[0]!]: 150 });
  t.equal(s.checkpoint, null);
  t.equal(s.checkpoints.length, 1);
  const cut = Object.fromEntries(s.checkpoints[0]!.cuts[0]!.positions.map((p) => [p.segment, p.offset]));
  t.same(cut, { [r1segs[0]!]: 100, [r1segs[1]!]: 110, [loose]: 5, [r2segs[0]!]: 200, [r2segs[1]!]: 210 });
  t.equal(s.checkpoints[0]!.name, "cp-1");
});

void t.test("a reader that leaves during a checkpoint counts as reached at the positions it goes back with", async (t) => {
  let s = acquire(acquire(group(2, ["r1", "r2"]), "r1"), "r2");
  const begun = beginCheckpoint(s, "cp");
  s = reachCheckpoint(begun.state, begun.id, "r1", { [seg(0)]: 3 });
  s = leave(s, "r2");
  t.equal(s.checkpoint, null);
  t.same(s.checkpoints[0]!.cuts, [{ positions: [{ segment: seg(0), offset: 3 }, { segment: seg(1), offset: 0 }] }]);
  t.equal(s.active.find((a) => a.segment === seg(1))!.owner, null);
});

void t.test("checkpoints with no reader, cancelled ones, and at most 10 remembered", async (t) => {
  let s = group(2, []);
  for (let i = 0; i < 12; i++) s = beginCheckpoint(s, `cp-${i}`).state;
  t.equal(s.checkpoints.length, 10);
  t.equal(s.checkpoints[0]!.name, "cp-2", "the oldest are forgotten");
  s = join(s, "r1", "r1-1");
  const begun = beginCheckpoint(s, "late");
  t.equal(cancelCheckpoint(begun.state, begun.id).checkpoint, null);
  t.equal(cancelCheckpoint(begun.state, begun.id + 1), begun.state, "only the named checkpoint is cancelled");
});

void t.test("reset: a new generation, everything unassigned, pending checkpoint cancelled, readers kept", async (t) => {
  let s = acquire(group(2, ["r1"]), "r1");
  s = beginCheckpoint(s, "cp").state;
  const segments = [{ segment: seg(5, 2), keyStart: 0, keyEnd: 1, offset: 33 }];
  s = reset(s, [{ stream: "s/t", segments }]);
  t.equal(s.generation, 1);
  t.same(s.readers, ["r1"]);
  t.equal(s.checkpoint, null);
  t.same(s.active, [{ segment: seg(5, 2), keyStart: 0, keyEnd: 1, offset: 33, endOffset: -1, owner: null }]);
  t.same(s.completed, []);
});

void t.test("a `to` cut: ends at its offsets, a segment already there is final at once, and then the end", async (t) => {
  const segments = ranges(2).map((r, i) => ({ ...r, offset: i === 0 ? 50 : 0 }));
  const to = { positions: [{ segment: seg(0), offset: 50 }, { segment: seg(1), offset: 80 }] };
  let s = initialState([{ stream: "s/t", to, segments }]);
  t.same(s.active.map((a) => [a.segment, a.endOffset]), [[seg(1), 80]]);
  t.same(s.completed, [{ segment: seg(0), endOffset: 50, final: true, successors: [] }]);
  t.equal(isEnd(s), false);
  s = acquire(join(s, "r1", "r1-1"), "r1");
  s = complete(s, "r1", seg(1), 80, []);
  t.equal(isEnd(s), true);
  t.same(cutOf(s), [{ positions: [{ segment: seg(0), offset: 50 }, { segment: seg(1), offset: 80 }] }]);
});

void t.test("a successor named by the `to` cut gets its offset as its end", async (t) => {
  const segments = ranges(1);
  const to = { positions: [{ segment: seg(1, 1), offset: 30 }, { segment: seg(2, 1), offset: 0 }] };
  let s = acquire(join(initialState([{ stream: "s/t", to, segments }]), "r1", "r1-1"), "r1");
  s = complete(s, "r1", seg(0), 10, [
    { segment: seg(1, 1), keyStart: 0, keyEnd: 0.5, predecessors: [seg(0)] },
    { segment: seg(2, 1), keyStart: 0.5, keyEnd: 1, predecessors: [seg(0)] },
  ]);
  t.same(s.active.map((a) => [a.segment, a.endOffset]), [[seg(1, 1), 30]]);
  t.same(s.completed.map((c) => [c.segment, c.final]), [[seg(2, 1), true]], "a successor cut at 0 has nothing to read");
});

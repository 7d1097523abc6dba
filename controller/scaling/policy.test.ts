// Proves the auto-scaler's decision rules (policy.ts) by table: hot and cold thresholds per window, tracking and
// cooldown gates, stale samples, split sizes and bounds, merges of adjacent cold segments down to minSegments, KiB/s
// for data-rate policies, and the minSegments top-up. Each case applies the actions to the segment list and
// checks the result still covers [0, 1) once.
import t, { type Test } from "tap";
import { streamSegmentsMax } from "../../common/index.js";
import type { KeyRange, ScalingPolicy } from "../../proto/index.js";
import type { CurrentSegment, SegmentLoadSample } from "../control-ops.js";
import { decideScale, equalParts, type ScaleAction } from "./policy.js";

const nowMs = 1_700_000_000_000;
const hourMs = 60 * 60_000;
/** The demo's windows (seconds, not Pravega's minutes). */
const windowsMs = [2_000, 5_000, 10_000, 20_000];
const rules = { cooldownMs: 60_000 };
const target = 100;

function policy(over: Partial<ScalingPolicy> = {}): ScalingPolicy {
  return { type: "BY_EVENT_RATE", minSegments: 1, targetRate: target, scaleFactor: 8, ...over };
}

/** `n` equal segments over [0, 1), created an hour ago. */
function stream(n: number, createdAtMs = nowMs - hourMs): CurrentSegment[] {
  return (equalParts({ keyStart: 0, keyEnd: 1 }, n) ?? []).map((r, i) => ({
    range: { segment: `s/t/${i}.#epoch.0`, number: i, epoch: 0, ...r },
    createdAtMs,
  }));
}

/** A sample with `rates` (in target units) per window, events or KiB/s. */
function sample(segment: string, rates: number[], over: Partial<SegmentLoadSample> = {}): SegmentLoadSample {
  return {
    segment,
    eventsPerSec: rates.map((r) => r * target),
    bytesPerSec: rates.map(() => 0),
    trackedMs: 60_000,
    windowsMs: windowsMs.slice(0, rates.length),
    receivedAtMs: nowMs - 1_000,
    ...over,
  };
}

function loadsOf(segments: readonly CurrentSegment[], ratesBySegment: (number[] | undefined)[], over: Partial<SegmentLoadSample> = {}) {
  const m = new Map<string, SegmentLoadSample>();
  segments.forEach((s, i) => {
    const rates = ratesBySegment[i];
    if (rates !== undefined) m.set(s.range.segment, sample(s.range.segment, rates, over));
  });
  return m;
}

/** The ranges after applying `actions`, key order; fails the test if an action does not cover what it seals. */
function apply(t: Test, segments: readonly CurrentSegment[], actions: readonly ScaleAction[]): KeyRange[] {
  let ranges = segments.map((s) => ({ name: s.range.segment, keyStart: s.range.keyStart, keyEnd: s.range.keyEnd }));
  actions.forEach((a, n) => {
    const sealed = ranges.filter((r) => a.seal.includes(r.name));
    t.equal(sealed.length, a.seal.length, "every sealed segment is current and sealed once");
    t.same(union(a.newRanges), union(sealed), "new ranges cover exactly the sealed ones");
    ranges = [...ranges.filter((r) => !a.seal.includes(r.name)), ...a.newRanges.map((r, i) => ({ name: `new-${n}-${i}`, ...r }))];
  });
  const out = ranges.map(({ keyStart, keyEnd }) => ({ keyStart, keyEnd })).sort((a, b) => a.keyStart - b.keyStart);
  t.same(union(out), [{ keyStart: 0, keyEnd: 1 }], "the stream still covers [0, 1) once");
  return out;
}

/** Contiguous ranges joined, failing on overlaps. */
function union(ranges: readonly KeyRange[]): KeyRange[] {
  const sorted = [...ranges].sort((a, b) => a.keyStart - b.keyStart);
  const out: KeyRange[] = [];
  for (const { keyStart, keyEnd } of sorted) {
    const last = out.at(-1);
    if (last !== undefined && last.keyEnd > keyStart) throw new Error(`overlap at ${keyStart}`);
    if (last !== undefined && last.keyEnd === keyStart) last.keyEnd = keyEnd;
    else out.push({ keyStart, keyEnd });
  }
  return out;
}

void t.test("hot at 4x on the second window splits into floor(4) parts, capped by scaleFactor, equal and covering", async (t) => {
  const segs = stream(2);
  const loads = loadsOf(segs, [[4, 4, 4, 4], [0.8, 0.8, 0.8, 0.8]]);
  const actions = decideScale(policy(), segs, loads, nowMs, rules);
  t.equal(actions.length, 1);
  const split = actions[0]!;
  t.equal(split.kind, "split");
  t.same(split.seal, ["s/t/0.#epoch.0"]);
  t.equal(split.newRanges.length, 4);
  for (const r of split.newRanges) t.ok(Math.abs(r.keyEnd - r.keyStart - 0.125) < 1e-12, "equal parts");
  t.equal(split.newRanges[0]!.keyStart, 0);
  t.equal(split.newRanges.at(-1)!.keyEnd, 0.5);
  t.equal(apply(t, segs, actions).length, 5);

  t.equal(decideScale(policy({ scaleFactor: 3 }), segs, loads, nowMs, rules)[0]!.newRanges.length, 3, "capped by scaleFactor");
  const mild = loadsOf(segs, [[2.5, 2.5, 2.5, 2.5]]);
  t.equal(decideScale(policy(), segs, mild, nowMs, rules)[0]!.newRanges.length, 2, "at least 2 parts");
});

void t.test("6x on the shortest window alone splits; 4x there alone does not", async (t) => {
  const segs = stream(1);
  const six = decideScale(policy(), segs, loadsOf(segs, [[6, 0.5, 0.5, 0.5]]), nowMs, rules);
  t.equal(six.length, 1);
  t.equal(six[0]!.newRanges.length, 6, "parts from the highest counted rate");
  apply(t, segs, six);
  t.same(decideScale(policy(), segs, loadsOf(segs, [[4, 0.5, 0.5, 0.5]]), nowMs, rules), []);
  t.equal(decideScale(policy(), segs, loadsOf(segs, [[1.5, 1.5, 1.5, 0.5]]), nowMs, rules).length, 1, "1x on the third window");
});

void t.test("a window's rule counts only once the segment has been tracked that long", async (t) => {
  const segs = stream(1);
  t.same(decideScale(policy(), segs, loadsOf(segs, [[1, 4, 4, 4]], { trackedMs: 4_999 }), nowMs, rules), [], "second window not tracked");
  t.equal(decideScale(policy(), segs, loadsOf(segs, [[1, 4, 4, 4]], { trackedMs: 5_000 }), nowMs, rules).length, 1);
  t.same(decideScale(policy(), segs, loadsOf(segs, [[9, 9, 9, 9]], { trackedMs: 1_999 }), nowMs, rules), [], "nothing tracked");
  const twoOnly = decideScale(policy(), segs, loadsOf(segs, [[9, 3, 9, 9]], { trackedMs: 2_000 }), nowMs, rules);
  t.equal(twoOnly[0]!.newRanges.length, 8, "parts from tracked windows only (9x on the shortest)");
});

void t.test("cooldown: a young segment is neither split nor merged", async (t) => {
  const young = stream(2, nowMs - 59_999);
  t.same(decideScale(policy(), young, loadsOf(young, [[9, 9, 9, 9], [9, 9, 9, 9]]), nowMs, rules), []);
  t.same(decideScale(policy(), young, loadsOf(young, [[0, 0, 0, 0], [0, 0, 0, 0]]), nowMs, rules), []);
  const old = stream(2, nowMs - 60_000);
  t.equal(decideScale(policy(), old, loadsOf(old, [[0, 0, 0, 0], [0, 0, 0, 0]]), nowMs, rules).length, 1);
});

void t.test("no sample, a stale sample or a malformed one is neither hot nor cold", async (t) => {
  const segs = stream(2);
  t.same(decideScale(policy(), segs, new Map(), nowMs, rules), []);
  const stale = loadsOf(segs, [[9, 9, 9, 9], [0, 0, 0, 0]], { receivedAtMs: nowMs - 10_001 });
  t.same(decideScale(policy(), segs, stale, nowMs, rules), [], "older than max(3 x 2 s, 10 s)");
  const longWindows = loadsOf(segs, [[9, 9, 9, 9]], { windowsMs: [120_000, 300_000, 600_000, 1_200_000], trackedMs: hourMs, receivedAtMs: nowMs - 300_000 });
  t.equal(decideScale(policy(), segs, longWindows, nowMs, rules).length, 1, "within 3 x a 2 min window");
  const short = loadsOf(segs, [[9, 9, 9, 9]], { eventsPerSec: [900, 900] });
  t.same(decideScale(policy(), segs, short, nowMs, rules), [], "rates missing for two windows");
});

void t.test("adjacent cold segments merge into one", async (t) => {
  const segs = stream(4);
  const warm = [0.8, 0.8, 0.8, 0.8];
  const actions = decideScale(policy(), segs, loadsOf(segs, [warm, [0.1, 0.1, 0.1, 0.1], [0, 0, 0, 0], warm]), nowMs, rules);
  t.same(actions, [{ kind: "merge", seal: ["s/t/1.#epoch.0", "s/t/2.#epoch.0"], newRanges: [{ keyStart: 0.25, keyEnd: 0.75 }] }]);
  apply(t, segs, actions);
  t.same(decideScale(policy(), segs, loadsOf(segs, [warm, [0.1, 0.1, 0.1, 0.6], [0, 0, 0, 0], warm]), nowMs, rules), [], "longest window must be under target / 2");
  t.same(decideScale(policy(), segs, loadsOf(segs, [warm, [0.1, 0.1, 0.1, 0.1], [0, 0, 0, 0], warm], { trackedMs: 19_999 }), nowMs, rules), [], "tracked the longest window");
});

void t.test("all cold at once never goes below minSegments (8 segments, minSegments 3 -> 3)", async (t) => {
  const segs = stream(8);
  const cold = segs.map(() => [0, 0, 0, 0]);
  const actions = decideScale(policy({ minSegments: 3 }), segs, loadsOf(segs, cold), nowMs, rules);
  t.equal(apply(t, segs, actions).length, 3);
  t.equal(decideScale(policy({ minSegments: 8 }), segs, loadsOf(segs, cold), nowMs, rules).length, 0, "already at minSegments");
  t.equal(apply(t, segs, decideScale(policy({ minSegments: 1 }), segs, loadsOf(segs, cold), nowMs, rules)).length, 1);
});

void t.test("non-adjacent cold segments do not merge", async (t) => {
  const segs = stream(3);
  t.same(decideScale(policy(), segs, loadsOf(segs, [[0, 0, 0, 0], [0.8, 0.8, 0.8, 0.8], [0, 0, 0, 0]]), nowMs, rules), []);
  t.same(decideScale(policy(), segs, loadsOf(segs, [[0, 0, 0, 0], undefined, [0, 0, 0, 0]]), nowMs, rules), [], "a segment without a sample breaks the run");
});

void t.test("merges stop where the merged segment would reach the target", async (t) => {
  const segs = stream(4);
  const r = [0.4, 0.4, 0.4, 0.4];
  const actions = decideScale(policy(), segs, loadsOf(segs, [r, r, r, r]), nowMs, rules);
  t.equal(actions.length, 2, "two pairs, not one group of four");
  t.equal(apply(t, segs, actions).length, 2);
});

void t.test("BY_DATA_RATE measures KiB/s", async (t) => {
  const segs = stream(1);
  const p = policy({ type: "BY_DATA_RATE", targetRate: 100 });
  const bytes = (kib: number) => [kib, kib, kib, kib].map((k) => k * 1024);
  const hot = loadsOf(segs, [[0, 0, 0, 0]], { bytesPerSec: bytes(450) });
  t.equal(decideScale(p, segs, hot, nowMs, rules)[0]!.newRanges.length, 4, "450 KiB/s at 100 KiB/s target");
  const manyEvents = loadsOf(segs, [[50, 50, 50, 50]], { bytesPerSec: bytes(80) });
  t.same(decideScale(p, segs, manyEvents, nowMs, rules), [], "events do not count");
  t.same(decideScale(policy(), segs, hot, nowMs, rules), [], "and bytes do not count for an event-rate policy");
});

void t.test("FIXED never scales", async (t) => {
  const segs = stream(2);
  const fixed: ScalingPolicy = { type: "FIXED", minSegments: 4, targetRate: 0, scaleFactor: 0 };
  t.same(decideScale(fixed, segs, loadsOf(segs, [[9, 9, 9, 9], [0, 0, 0, 0]]), nowMs, rules), []);
});

void t.test("below minSegments, one action splits the widest ranges up to minSegments", async (t) => {
  const segs = stream(2);
  const actions = decideScale(policy({ minSegments: 5 }), segs, new Map(), nowMs, rules);
  t.equal(actions.length, 1);
  t.equal(actions[0]!.kind, "minSegments");
  t.same(actions[0]!.seal, ["s/t/0.#epoch.0", "s/t/1.#epoch.0"]);
  t.equal(apply(t, segs, actions).length, 5);
  const young = stream(3, nowMs);
  t.equal(apply(t, young, decideScale(policy({ minSegments: 4 }), young, new Map(), nowMs, rules)).length, 4, "cooldown does not hold it back");
});

void t.test("fewer than three windows use the rules of the windows present", async (t) => {
  const segs = stream(1);
  t.equal(decideScale(policy(), segs, loadsOf(segs, [[1, 3]]), nowMs, rules).length, 1, "two windows: 2x on the second");
  t.same(decideScale(policy(), segs, loadsOf(segs, [[3]]), nowMs, rules), [], "one window: only 5x");
  t.equal(decideScale(policy(), segs, loadsOf(segs, [[6]]), nowMs, rules).length, 1);
  const two = stream(2);
  t.equal(decideScale(policy(), two, loadsOf(two, [[0.7], [0.2]]), nowMs, rules).length, 1, "one window: cold below target");
});

void t.test("splits keep the stream within streamSegmentsMax, hottest first", async (t) => {
  const segs = stream(streamSegmentsMax - 3);
  const rates: (number[] | undefined)[] = segs.map(() => undefined);
  rates[0] = [3, 3, 3, 3];
  rates[1] = [8, 8, 8, 8];
  const actions = decideScale(policy(), segs, loadsOf(segs, rates), nowMs, rules);
  t.same(actions.map((a) => [a.seal[0], a.newRanges.length]), [["s/t/1.#epoch.0", 4]], "the hotter gets the room left");
  t.equal(apply(t, segs, actions).length, streamSegmentsMax);
});

/**
 * The auto-scaler's decision, as a pure function of one stream's policy, its current segments and
 * their latest load samples, after Pravega's AutoScaleProcessor. Keeping it free of I/O and time
 * (the caller passes `nowMs`) lets every rule be tested by table, and lets the loop stay trivial.
 *
 * Rules, for a rate policy (FIXED, and an unspecified type, never scale):
 *
 * - Below minSegments (the policy was raised): one action splits the widest ranges until the stream
 *   has minSegments segments, load and cooldown ignored; nothing else is decided in that pass. It is
 *   one action, not one per segment, because the stream service refuses any scale that leaves the
 *   stream below minSegments, and a partial top-up would.
 * - A segment's rate per window is eventsPerSec (BY_EVENT_RATE) or bytesPerSec / 1024 (BY_DATA_RATE,
 *   whose target is in KiB/s). Windows are taken shortest first.
 * - Neither hot nor cold: a segment created less than `cooldownMs` ago; one with no sample; one whose
 *   sample was received more than `max(3 x its shortest window, 10 s)` ago; one whose sample is
 *   malformed (rates missing for a window, a rate that is negative or not finite).
 * - HOT: window i's rate > hotRateFactors[i] x target for some i < 3 (5x on the shortest, 2x on the
 *   second, 1x on the third) with trackedMs >= windowsMs[i]. A report with fewer than three windows
 *   gets only the rules of the windows it has (two windows: 5x and 2x; one window: 5x); windows past
 *   the third take no part in HOT. The split makes max(2, floor(maxRate / target)) equal parts,
 *   maxRate being the highest rate among the windows whose rule counted (tracked), capped by the
 *   policy's scaleFactor (itself capped at scaleFactorMax) and by what keeps the stream within
 *   streamSegmentsMax segments; the hottest segments (highest maxRate) get that room first.
 * - COLD: trackedMs >= the longest window, every window's rate < target, and with four or more
 *   windows the longest window's rate < target / 2 as well.
 * - Merges: adjacent cold segments (key order, contiguous ranges) are merged, one merge per group,
 *   a group being as many consecutive cold segments as keep the sum of their peak rates (a segment's
 *   highest window rate) below target, so the merged segment is not born hot and split straight back.
 *   Groups are formed in key order while the stream stays at or above minSegments; the group that
 *   would cross it is trimmed.
 * - Splits come first in the result, then merges, each in key order. A segment is in at most one action.
 */
import { KiB, scaleFactorMax, streamSegmentsMax, unreachable } from "../../common/index.js";
import type { KeyRange, ScalingPolicy } from "../../proto/index.js";
import type { CurrentSegment, SegmentLoadSample } from "../control-ops.js";

/** How many times the target a window's rate must exceed to make a segment hot, by window position (shortest first). */
export const hotRateFactors: readonly number[] = [5, 2, 1];
/** With four or more windows, the longest window's rate must also be below target x this for a segment to be cold. */
export const coldLongestRateFactor = 0.5;
/** A sample counts for this many of its shortest windows after it was received. */
export const loadSampleStaleWindows = 3;
/** ...and at least this long, so reports sent every few seconds with second-long windows still count. */
export const loadSampleStaleMsMin = 10_000;

export interface ScaleRules {
  /** A segment created less than this long ago is neither split nor merged. */
  cooldownMs: number;
}

export type ScaleActionKind = "split" | "merge" | "minSegments";

export interface ScaleAction {
  kind: ScaleActionKind;
  /** The segments to seal, in key order. */
  seal: string[];
  /** Their replacements, in key order, covering exactly the sealed ranges. */
  newRanges: KeyRange[];
}

interface WindowRate {
  windowMs: number;
  rate: number;
}

type Heat =
  | { kind: "hot"; maxRate: number }
  | { kind: "cold"; peakRate: number }
  | { kind: "neutral" };

/** The scale actions for one stream now; empty when nothing should change. */
export function decideScale(
  policy: ScalingPolicy,
  segments: readonly CurrentSegment[],
  loads: ReadonlyMap<string, SegmentLoadSample>,
  nowMs: number,
  rules: ScaleRules,
): ScaleAction[] {
  switch (policy.type) {
    case "FIXED":
    case "SCALING_TYPE_UNSPECIFIED":
      return [];
    case "BY_EVENT_RATE":
    case "BY_DATA_RATE":
      break;
    default:
      return unreachable(policy.type, "scaling type");
  }
  const sorted = [...segments].sort((a, b) => a.range.keyStart - b.range.keyStart);
  if (sorted.length === 0) return [];
  const minSegments = Math.min(streamSegmentsMax, Math.max(1, Math.floor(policy.minSegments)));
  if (sorted.length < minSegments) return topUp(sorted, minSegments);

  const target = policy.targetRate;
  if (!Number.isFinite(target) || target <= 0) return [];
  const heats = sorted.map((s) => classify(policy, s, loads.get(s.range.segment), nowMs, rules));
  return [...decideSplits(policy, sorted, heats), ...decideMerges(sorted, heats, minSegments, target)];
}

function decideSplits(policy: ScalingPolicy, sorted: readonly CurrentSegment[], heats: readonly Heat[]): ScaleAction[] {
  const target = policy.targetRate;
  const scaleFactor = Math.min(scaleFactorMax, Math.max(2, Math.floor(policy.scaleFactor)));
  const hot: { index: number; maxRate: number }[] = [];
  heats.forEach((h, index) => {
    if (h.kind === "hot") hot.push({ index, maxRate: h.maxRate });
  });
  hot.sort((a, b) => b.maxRate - a.maxRate || a.index - b.index);
  let roomSegments = streamSegmentsMax - sorted.length;
  const splits: { index: number; action: ScaleAction }[] = [];
  for (const { index, maxRate } of hot) {
    const parts = Math.min(scaleFactor, roomSegments + 1, Math.max(2, Math.floor(maxRate / target)));
    if (parts < 2) break;
    const segment = sorted[index]!;
    const newRanges = equalParts(segment.range, parts);
    if (newRanges === undefined) continue;
    roomSegments -= parts - 1;
    splits.push({ index, action: { kind: "split", seal: [segment.range.segment], newRanges } });
  }
  return splits.sort((a, b) => a.index - b.index).map((s) => s.action);
}

function decideMerges(sorted: readonly CurrentSegment[], heats: readonly Heat[], minSegments: number, target: number): ScaleAction[] {
  const merges: ScaleAction[] = [];
  let removable = sorted.length - minSegments;
  let i = 0;
  while (i < sorted.length && removable > 0) {
    const first = heats[i]!;
    if (first.kind !== "cold") {
      i++;
      continue;
    }
    // Grow a group from segment i over its contiguous cold successors.
    let end = i + 1;
    let rateSum = first.peakRate;
    while (end < sorted.length && end - i <= removable) {
      const next = heats[end]!;
      if (next.kind !== "cold" || sorted[end - 1]!.range.keyEnd !== sorted[end]!.range.keyStart) break;
      if (rateSum + next.peakRate >= target) break;
      rateSum += next.peakRate;
      end++;
    }
    if (end - i >= 2) {
      const group = sorted.slice(i, end);
      merges.push({
        kind: "merge",
        seal: group.map((s) => s.range.segment),
        newRanges: [{ keyStart: group[0]!.range.keyStart, keyEnd: group.at(-1)!.range.keyEnd }],
      });
      removable -= end - i - 1;
      i = end;
    } else {
      i++;
    }
  }
  return merges;
}

function classify(policy: ScalingPolicy, segment: CurrentSegment, sample: SegmentLoadSample | undefined, nowMs: number, rules: ScaleRules): Heat {
  const neutral: Heat = { kind: "neutral" };
  if (nowMs - segment.createdAtMs < rules.cooldownMs || sample === undefined) return neutral;
  const windows = windowRates(policy, sample);
  const shortest = windows?.[0];
  const longest = windows?.at(-1);
  if (windows === undefined || shortest === undefined || longest === undefined) return neutral;
  if (nowMs - sample.receivedAtMs > Math.max(loadSampleStaleWindows * shortest.windowMs, loadSampleStaleMsMin)) return neutral;

  const target = policy.targetRate;
  let hot = false;
  let maxRate = 0;
  for (let i = 0; i < Math.min(windows.length, hotRateFactors.length); i++) {
    const w = windows[i]!;
    if (sample.trackedMs < w.windowMs) continue;
    maxRate = Math.max(maxRate, w.rate);
    if (w.rate > hotRateFactors[i]! * target) hot = true;
  }
  if (hot) return { kind: "hot", maxRate };

  const cold =
    sample.trackedMs >= longest.windowMs &&
    windows.every((w) => w.rate < target) &&
    (windows.length < 4 || longest.rate < coldLongestRateFactor * target);
  if (cold) return { kind: "cold", peakRate: Math.max(...windows.map((w) => w.rate)) };
  return neutral;
}

/** The sample's rates in the policy's unit, shortest window first; undefined if the sample is malformed. */
function windowRates(policy: ScalingPolicy, sample: SegmentLoadSample): WindowRate[] | undefined {
  const perSec = policy.type === "BY_DATA_RATE" ? sample.bytesPerSec : sample.eventsPerSec;
  const unit = policy.type === "BY_DATA_RATE" ? KiB : 1;
  const out: WindowRate[] = [];
  for (let i = 0; i < sample.windowsMs.length; i++) {
    const windowMs = sample.windowsMs[i]!;
    const value = perSec[i];
    if (value === undefined || !Number.isFinite(value) || value < 0 || !Number.isFinite(windowMs) || windowMs <= 0) return undefined;
    out.push({ windowMs, rate: value / unit });
  }
  return out.sort((a, b) => a.windowMs - b.windowMs);
}

/**
 * `range` cut into `parts` equal ranges. Each inner boundary is computed once and used as the end of
 * one part and the start of the next, so the parts are contiguous and cover `range` exactly.
 * Undefined if the range is too narrow for floating point to tell the parts apart.
 */
export function equalParts(range: KeyRange, parts: number): KeyRange[] | undefined {
  const width = range.keyEnd - range.keyStart;
  const boundaries = [range.keyStart];
  for (let i = 1; i < parts; i++) boundaries.push(range.keyStart + (width * i) / parts);
  boundaries.push(range.keyEnd);
  const out: KeyRange[] = [];
  for (let i = 0; i < parts; i++) {
    const keyStart = boundaries[i]!;
    const keyEnd = boundaries[i + 1]!;
    if (!(keyStart < keyEnd)) return undefined;
    out.push({ keyStart, keyEnd });
  }
  return out;
}

/**
 * One action taking the stream up to `minSegments`: each step gives one more part to the segment
 * whose parts would be widest (ties to the lower key), so the new ranges come out as even as the
 * existing boundaries allow.
 */
function topUp(sorted: readonly CurrentSegment[], minSegments: number): ScaleAction[] {
  const parts = sorted.map(() => 1);
  const width = (i: number) => (sorted[i]!.range.keyEnd - sorted[i]!.range.keyStart) / parts[i]!;
  for (let total = sorted.length; total < minSegments; total++) {
    let widest = 0;
    for (let i = 1; i < sorted.length; i++) if (width(i) > width(widest)) widest = i;
    parts[widest]!++;
  }
  const action: ScaleAction = { kind: "minSegments", seal: [], newRanges: [] };
  sorted.forEach((s, i) => {
    const n = parts[i]!;
    if (n < 2) return;
    const ranges = equalParts(s.range, n);
    if (ranges === undefined) return;
    action.seal.push(s.range.segment);
    action.newRanges.push(...ranges);
  });
  return action.seal.length === 0 ? [] : [action];
}

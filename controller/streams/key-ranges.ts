/**
 * Key-range arithmetic for scaling. Ranges are stored as doubles that this module produces, with
 * neighbours sharing their endpoint exactly, so an epoch's ranges tile [0, 1) with exact equality.
 * Ranges a client asks for may differ in the last bits (1/3 computed two ways), so requested
 * endpoints are matched within keyRangeTolerance and then snapped to the exact stored endpoints.
 */
import { InvalidArgumentError } from "../../common/index.js";
import type { KeyRange } from "../../proto/index.js";

/** Requested range endpoints this close to a stored endpoint (or to each other) count as equal. */
export const keyRangeTolerance = 1e-9;

/** `count` ranges splitting [start, end) evenly; the last ends at `end` exactly. */
export function equalRanges(count: number, start = 0, end = 1): KeyRange[] {
  return Array.from({ length: count }, (_, i) => ({
    keyStart: i === 0 ? start : start + ((end - start) * i) / count,
    keyEnd: i + 1 === count ? end : start + ((end - start) * (i + 1)) / count,
  }));
}

const near = (a: number, b: number): boolean => Math.abs(a - b) <= keyRangeTolerance;

/**
 * Checks that `requested` covers exactly the union of `sealed` (ranges of one epoch), without
 * overlap or gap, each range non-empty; resolves with the requested ranges ordered by start and
 * snapped onto the sealed endpoints and onto each other. Raises INVALID_ARGUMENT saying where.
 */
export function planRanges(sealed: readonly KeyRange[], requested: readonly KeyRange[]): KeyRange[] {
  requested.forEach((r, i) => {
    if (!Number.isFinite(r.keyStart) || !Number.isFinite(r.keyEnd) || r.keyStart < 0 || r.keyEnd > 1 || !(r.keyEnd - r.keyStart > keyRangeTolerance)) {
      throw new InvalidArgumentError(`newRanges[${i}] [${r.keyStart}, ${r.keyEnd}) is not a non-empty range within [0, 1)`);
    }
  });
  // The sealed ranges as disjoint intervals: neighbours of one epoch share endpoints exactly.
  const intervals: KeyRange[] = [];
  for (const s of [...sealed].sort((a, b) => a.keyStart - b.keyStart)) {
    const last = intervals.at(-1);
    if (last !== undefined && last.keyEnd === s.keyStart) last.keyEnd = s.keyEnd;
    else intervals.push({ keyStart: s.keyStart, keyEnd: s.keyEnd });
  }
  const wanted = [...requested].sort((a, b) => a.keyStart - b.keyStart);
  const out: KeyRange[] = [];
  let i = 0;
  const describe = () => `the sealed ranges ${intervals.map((v) => `[${v.keyStart}, ${v.keyEnd})`).join(" ")}`;
  for (const interval of intervals) {
    let at = interval.keyStart;
    for (;;) {
      const r = wanted[i];
      if (r === undefined || !near(r.keyStart, at)) {
        throw new InvalidArgumentError(`newRanges must cover exactly ${describe()}: nothing starts at ${at}${r === undefined ? "" : ` (next is [${r.keyStart}, ${r.keyEnd}))`}`);
      }
      i++;
      const endsInterval = near(r.keyEnd, interval.keyEnd);
      if (!endsInterval && r.keyEnd > interval.keyEnd) {
        throw new InvalidArgumentError(`newRanges must cover exactly ${describe()}: [${r.keyStart}, ${r.keyEnd}) reaches past ${interval.keyEnd}`);
      }
      const keyEnd = endsInterval ? interval.keyEnd : r.keyEnd;
      if (!(keyEnd - at > keyRangeTolerance)) throw new InvalidArgumentError(`newRanges: [${r.keyStart}, ${r.keyEnd}) is empty`);
      out.push({ keyStart: at, keyEnd });
      at = keyEnd;
      if (endsInterval) break;
    }
  }
  if (i < wanted.length) {
    const r = wanted[i]!;
    throw new InvalidArgumentError(`newRanges must cover exactly ${describe()}: [${r.keyStart}, ${r.keyEnd}) is outside them or overlaps another`);
  }
  return out;
}

/**
 * Stream cuts: one offset per segment, the segments' ranges covering [0, 1) exactly once, none of
 * them a (transitive) predecessor of another. A cut from a caller is checked against the stream's
 * epoch history before anything uses it; each failure raises INVALID_ARGUMENT saying which
 * position is wrong and why (INVALID_NAME for a name that is not a segment name at all).
 */
import { InvalidArgumentError, parseSegmentName, streamSegmentsMax } from "../../common/index.js";
import type { StreamCut } from "../../proto/index.js";
import type { EpochHistory } from "./epoch-history.js";
import { idOf, nameOf, type CutPosition, type EpochSegment, type StreamRecord } from "./stream-metadata.js";

/**
 * Positions one cut may hold. The segments of a cut can come from different epochs, so a cut may
 * hold more segments than one epoch does; four times that is far beyond any real cut.
 */
export const cutPositionsMax = 4 * streamSegmentsMax;

export interface CutSegment {
  segment: EpochSegment;
  offset: number;
}

/**
 * Checks `cut` (named `what` in messages) against the stream's history; resolves with its segments
 * ordered by keyStart.
 */
export async function resolveCut(history: EpochHistory, cut: StreamCut, what: string): Promise<CutSegment[]> {
  const { scope, stream } = history;
  if (cut.positions.length === 0) throw new InvalidArgumentError(`${what} has no positions`);
  if (cut.positions.length > cutPositionsMax) throw new InvalidArgumentError(`${what} has ${cut.positions.length} positions; at most ${cutPositionsMax} are allowed`);
  const out: CutSegment[] = [];
  const seen = new Set<string>();
  for (const p of cut.positions) {
    const name = parseSegmentName(p.segment);
    if (name.scope !== scope || name.stream !== stream) throw new InvalidArgumentError(`${what}: segment ${p.segment} is not a segment of stream ${scope}/${stream}`);
    if (name.txn !== undefined) throw new InvalidArgumentError(`${what}: ${p.segment} is a transaction segment; a cut names stream segments`);
    if (!Number.isSafeInteger(p.offset) || p.offset < 0) throw new InvalidArgumentError(`${what}: offset ${p.offset} of ${p.segment} is not an integer >= 0`);
    if (seen.has(idOf(name))) throw new InvalidArgumentError(`${what} names ${p.segment} twice`);
    seen.add(idOf(name));
    const segment = await history.find(name);
    if (segment === undefined) throw new InvalidArgumentError(`${what}: ${p.segment} is not a segment of stream ${scope}/${stream} (no epoch up to ${history.currentEpoch} created it)`);
    out.push({ segment, offset: p.offset });
  }
  out.sort((a, b) => a.segment.keyStart - b.segment.keyStart);
  let at = 0;
  for (const c of out) {
    if (c.segment.keyStart !== at) {
      const problem = c.segment.keyStart > at ? `nothing covers [${at}, ${c.segment.keyStart})` : `${nameOf(scope, stream, c.segment)} overlaps another position at ${c.segment.keyStart}`;
      throw new InvalidArgumentError(`${what}: the segments' ranges must cover [0, 1) exactly once, but ${problem}`);
    }
    at = c.segment.keyEnd;
  }
  if (at !== 1) throw new InvalidArgumentError(`${what}: the segments' ranges must cover [0, 1) exactly once, but nothing covers [${at}, 1)`);
  const later = await history.descendants(out.map((c) => c.segment));
  const behind = out.find((c) => later.has(idOf(c.segment)));
  if (behind !== undefined) {
    throw new InvalidArgumentError(`${what}: ${nameOf(scope, stream, behind.segment)} follows another segment of the cut through successors; a cut holds one position per routing key`);
  }
  return out;
}

/** The stream's head: its last truncation cut, or every segment of epoch 0 at offset 0. */
export async function headCut(history: EpochHistory, record: StreamRecord): Promise<CutSegment[]> {
  if (record.head === undefined) return (await history.epoch(0)).segments.map((segment) => ({ segment, offset: 0 }));
  const out: CutSegment[] = [];
  for (const p of record.head) {
    const segment = await history.find(p);
    if (segment === undefined) throw new InvalidArgumentError(`the head of ${history.scope}/${history.stream} names segment ${idOf(p)}, unknown to its history`);
    out.push({ segment, offset: p.offset });
  }
  return out;
}

/**
 * Checks that every position of `cut` is at or after `base` (named `baseWhat`): its segment is a
 * segment of `base` at an offset no lower, or a descendant of one. Raises INVALID_ARGUMENT.
 */
export async function checkAtOrAfter(history: EpochHistory, base: readonly CutSegment[], cut: readonly CutSegment[], what: string, baseWhat: string): Promise<void> {
  const baseById = new Map(base.map((b) => [idOf(b.segment), b]));
  const later = await history.descendants(base.map((b) => b.segment));
  for (const c of cut) {
    const name = nameOf(history.scope, history.stream, c.segment);
    const same = baseById.get(idOf(c.segment));
    if (same !== undefined && c.offset < same.offset) throw new InvalidArgumentError(`${what}: ${name} at ${c.offset} lies before ${baseWhat} (offset ${same.offset})`);
    if (same === undefined && !later.has(idOf(c.segment))) throw new InvalidArgumentError(`${what}: ${name} lies before ${baseWhat}`);
  }
}

export function toStreamCut(scope: string, stream: string, cut: readonly CutSegment[]): StreamCut {
  return { positions: cut.map((c) => ({ segment: nameOf(scope, stream, c.segment), offset: c.offset })) };
}

export function toPositions(cut: readonly CutSegment[]): CutPosition[] {
  return cut.map((c) => ({ number: c.segment.number, epoch: c.segment.epoch, offset: c.offset }));
}

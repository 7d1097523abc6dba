/**
 * Read-only questions about a stream: its description with head and tail cuts, its current
 * segments, the segments of a cut, successors, and the segments between two cuts. Each reads one
 * stream record and the epoch records it needs; none changes anything.
 */
import { InvalidArgumentError, NoSuchSegmentError, parseSegmentName, validateName } from "../../common/index.js";
import type { GetStreamResponse, PositionedSegment, SegmentRange, SegmentSpan, StreamCut, Successor } from "../../proto/index.js";
import type { CurrentSegment, TailCut } from "../control-ops.js";
import { mapBounded } from "../txn/index.js";
import { EpochHistory } from "./epoch-history.js";
import type { StreamContext } from "./stream-context.js";
import { headCut, resolveCut, toStreamCut, type CutSegment } from "./stream-cuts.js";
import { idOf, nameOf, rangeOf, readStream, requireEpoch, requireStream, type EpochSegment, type StreamState } from "./stream-metadata.js";

/** States in which a stream can be described and read. */
const readable: readonly StreamState[] = ["active", "sealing", "sealed"];

function names(scope: string, stream: string): void {
  validateName("scope", scope);
  validateName("stream", stream);
}

/** Raises NO_SUCH_STREAM. */
export async function getStream(ctx: StreamContext, scope: string, stream: string): Promise<GetStreamResponse> {
  names(scope, stream);
  const { record } = await requireStream(ctx.store, scope, stream, readable);
  const history = new EpochHistory(ctx.store, scope, stream, record.currentEpoch);
  const epoch = await history.epoch(record.currentEpoch);
  const head = await headCut(history, record);
  const lengths = await mapBounded(epoch.segments, async (s) => (await ctx.segments.segmentInfo(nameOf(scope, stream, s))).length);
  return {
    scope,
    stream,
    config: record.config,
    epoch: record.currentEpoch,
    segments: epoch.segments.map((s) => rangeOf(scope, stream, s)),
    createdAtMs: record.createdAtMs,
    head: toStreamCut(scope, stream, head),
    tail: toStreamCut(scope, stream, epoch.segments.map((segment, i) => ({ segment, offset: lengths[i]! }))),
    sealed: record.state === "sealed",
  };
}

/** The current epoch and its segments. Raises NO_SUCH_STREAM. */
export async function currentSegments(ctx: StreamContext, scope: string, stream: string): Promise<{ epoch: number; segments: CurrentSegment[] }> {
  names(scope, stream);
  const { record } = await requireStream(ctx.store, scope, stream, readable);
  const epoch = await requireEpoch(ctx.store, scope, stream, record.currentEpoch);
  return { epoch: record.currentEpoch, segments: epoch.segments.map((s) => ({ range: rangeOf(scope, stream, s), createdAtMs: s.createdAtMs })) };
}

/** The current segments' ranges (GetCurrentSegments). Raises NO_SUCH_STREAM. */
export async function currentRanges(ctx: StreamContext, scope: string, stream: string): Promise<SegmentRange[]> {
  return (await currentSegments(ctx, scope, stream)).segments.map((s) => s.range);
}

/** The current segments at their lengths now, or undefined when the epoch changed meanwhile. */
export async function tailCut(ctx: StreamContext, scope: string, stream: string): Promise<TailCut | undefined> {
  names(scope, stream);
  const { record } = await requireStream(ctx.store, scope, stream, readable);
  const epoch = await requireEpoch(ctx.store, scope, stream, record.currentEpoch);
  const lengths = await mapBounded(epoch.segments, async (s) => (await ctx.segments.segmentInfo(nameOf(scope, stream, s))).length);
  if ((await readStream(ctx.store, scope, stream))?.record.currentEpoch !== record.currentEpoch) return undefined;
  return {
    cut: toStreamCut(scope, stream, epoch.segments.map((segment, i) => ({ segment, offset: lengths[i]! }))),
    epoch: record.currentEpoch,
    sizeBytes: epoch.sealedBytesTotal + lengths.reduce((n, l) => n + l, 0),
  };
}

/** The segments of `cut` with their offsets; an absent or empty cut is the stream's head. Raises NO_SUCH_STREAM, INVALID_ARGUMENT. */
export async function segmentsAtCut(ctx: StreamContext, scope: string, stream: string, cut: StreamCut | undefined): Promise<PositionedSegment[]> {
  names(scope, stream);
  const { record } = await requireStream(ctx.store, scope, stream, readable);
  const history = new EpochHistory(ctx.store, scope, stream, record.currentEpoch);
  const resolved = cut === undefined || cut.positions.length === 0 ? await headCut(history, record) : await resolveCut(history, cut, "cut");
  return resolved.map((c) => ({ range: rangeOf(scope, stream, c.segment), offset: c.offset }));
}

/**
 * The segments that replaced `segment`, each with all its predecessors; empty while it is not
 * sealed by a committed epoch. Raises INVALID_NAME, INVALID_ARGUMENT (a transaction segment),
 * NO_SUCH_STREAM, NO_SUCH_SEGMENT.
 */
export async function successors(ctx: StreamContext, segment: string): Promise<Successor[]> {
  const name = parseSegmentName(segment);
  if (name.txn !== undefined) throw new InvalidArgumentError(`${segment} is a transaction segment; only stream segments have successors`);
  const { scope, stream } = name;
  const { record } = await requireStream(ctx.store, scope, stream, readable);
  const history = new EpochHistory(ctx.store, scope, stream, record.currentEpoch);
  const found = await history.find(name);
  if (found === undefined) throw new NoSuchSegmentError(`segment ${segment} is not a segment of stream ${scope}/${stream}`);
  const out: Successor[] = [];
  for (const next of await history.successors(found)) {
    const predecessors = (await history.predecessors(next)).map((p) => nameOf(scope, stream, p));
    out.push({ range: rangeOf(scope, stream, next), predecessors });
  }
  return out;
}

/**
 * Every segment reachable from `from` (default: the head) through successors up to `to` (default:
 * the current segments), with the byte range of it between the cuts: from `from`'s offset (else 0)
 * to `to`'s offset (else -1, its end). Ordered by creating epoch, then key. Raises NO_SUCH_STREAM,
 * INVALID_ARGUMENT (a bad cut, or `to` before `from`).
 */
export async function segmentsBetween(ctx: StreamContext, scope: string, stream: string, from: StreamCut | undefined, to: StreamCut | undefined): Promise<SegmentSpan[]> {
  names(scope, stream);
  const { record } = await requireStream(ctx.store, scope, stream, readable);
  const history = new EpochHistory(ctx.store, scope, stream, record.currentEpoch);
  const start = from === undefined || from.positions.length === 0 ? await headCut(history, record) : await resolveCut(history, from, "from");
  const end: CutSegment[] = to === undefined || to.positions.length === 0 ? [] : await resolveCut(history, to, "to");
  const startById = new Map(start.map((c) => [idOf(c.segment), c]));
  const endById = new Map(end.map((c) => [idOf(c.segment), c]));
  const spanned = new Map<string, EpochSegment>(start.map((c) => [idOf(c.segment), c.segment]));
  const later = await history.descendants(
    start.map((c) => c.segment),
    (s) => endById.has(idOf(s)),
  );
  for (const [id, s] of later) spanned.set(id, s);
  for (const e of end) {
    const name = nameOf(scope, stream, e.segment);
    const s = startById.get(idOf(e.segment));
    if (!spanned.has(idOf(e.segment))) throw new InvalidArgumentError(`to: ${name} lies before from`);
    if (s !== undefined && e.offset < s.offset) throw new InvalidArgumentError(`to: ${name} at ${e.offset} lies before from's offset ${s.offset}`);
  }
  return [...spanned.values()]
    .sort((a, b) => a.epoch - b.epoch || a.keyStart - b.keyStart)
    .map((s) => ({ range: rangeOf(scope, stream, s), startOffset: startById.get(idOf(s))?.offset ?? 0, endOffset: endById.get(idOf(s))?.offset ?? -1 }));
}

/**
 * The scale workflow: seal some current segments and replace them by new segments over the same
 * key ranges, as a new epoch. Steps:
 *   1. take the slot with the full plan (checked against the current epoch when it is taken);
 *   2. create the successors;   3. seal the predecessors, noting their lengths;
 *   4. (test hook) pause;       5. commit: the new epoch record and the stream record's new
 *      current epoch, slot cleared, in one metadata transaction guarded by the record's version.
 * Steps 2-5 are idempotent, so any controller resuming the slot re-runs them and exactly one commit
 * lands. Writers see SEGMENT_SEALED from step 3 and find the successors once step 5 commits.
 */
import {
  ConditionalCheckFailedError,
  InvalidArgumentError,
  logger,
  parseSegmentName,
  segmentNumberMax,
  streamSegmentsMax,
  validateName,
} from "../../common/index.js";
import type { KeyRange, ScaleResponse } from "../../proto/index.js";
import { forEachBounded, mapBounded } from "../txn/index.js";
import { equalRanges, planRanges } from "./key-ranges.js";
import { sleepMs, type StreamContext } from "./stream-context.js";
import { minSegmentsOf } from "./stream-config.js";
import {
  checkState,
  encodeRecord,
  epochKey,
  idOf,
  nameOf,
  newWorkflowId,
  rangeOf,
  requireEpoch,
  requireStream,
  type EpochRecord,
  type EpochSegment,
  type SegmentId,
  type ScaleWorkflow,
  type StreamRecord,
  type VersionedStream,
} from "./stream-metadata.js";
import { finishWorkflow, stillRunning, takeSlot } from "./workflow-slot.js";

const log = logger("controller");

/** Attempts of a config-driven rescale that keeps losing to other scales. */
export const rescaleAttemptsMax = 8;

/**
 * Seals `seal` (names of current segments) and replaces them by segments over `newRanges`; resolves
 * with the new epoch and the segments it created, once committed. Raises INVALID_NAME,
 * INVALID_ARGUMENT (ranges, counts), CONDITIONAL_CHECK_FAILED (a segment is not current),
 * STREAM_SEALED, NO_SUCH_STREAM, UNAVAILABLE (the slot stayed busy).
 */
export async function scale(ctx: StreamContext, scope: string, stream: string, seal: readonly string[], newRanges: readonly KeyRange[]): Promise<ScaleResponse> {
  validateName("scope", scope);
  validateName("stream", stream);
  if (seal.length === 0) throw new InvalidArgumentError("seal names no segment: a scale seals at least one current segment");
  if (newRanges.length === 0) throw new InvalidArgumentError("newRanges is empty: a scale creates at least one segment");
  if (seal.length > streamSegmentsMax || newRanges.length > streamSegmentsMax) {
    throw new InvalidArgumentError(`a scale seals and creates at most ${streamSegmentsMax} segments each`);
  }
  const ids: SegmentId[] = [];
  const seen = new Set<string>();
  for (const name of seal) {
    const parsed = parseSegmentName(name);
    if (parsed.scope !== scope || parsed.stream !== stream) throw new InvalidArgumentError(`seal: ${name} is not a segment of stream ${scope}/${stream}`);
    if (parsed.txn !== undefined) throw new InvalidArgumentError(`seal: ${name} is a transaction segment`);
    if (seen.has(idOf(parsed))) throw new InvalidArgumentError(`seal names ${name} twice`);
    seen.add(idOf(parsed));
    ids.push({ number: parsed.number, epoch: parsed.epoch });
  }
  const taken = await takeSlot(ctx, scope, stream, (current) => planScale(ctx, scope, stream, current, ids, newRanges));
  if (taken?.record.workflow?.type !== "scale") throw new Error("a scale plan always takes the slot");
  return runScale(ctx, scope, stream, taken.record.workflow);
}

/** Checks the scale against the stream as it is now and answers the record holding the plan. */
async function planScale(ctx: StreamContext, scope: string, stream: string, current: VersionedStream, seal: readonly SegmentId[], newRanges: readonly KeyRange[]): Promise<StreamRecord> {
  const record = current.record;
  checkState(scope, stream, record, ["active"]);
  const epoch = await requireEpoch(ctx.store, scope, stream, record.currentEpoch);
  const byId = new Map(epoch.segments.map((s) => [idOf(s), s]));
  const sealed: EpochSegment[] = [];
  for (const id of seal) {
    const s = byId.get(idOf(id));
    if (s === undefined) {
      throw new ConditionalCheckFailedError(`${nameOf(scope, stream, id)} is not a current segment of ${scope}/${stream} (epoch ${record.currentEpoch}); another scale may have replaced it`);
    }
    sealed.push(s);
  }
  const ranges = planRanges(sealed, newRanges);
  const count = epoch.segments.length - sealed.length + ranges.length;
  const min = minSegmentsOf(record.config);
  if (count < min) {
    throw new InvalidArgumentError(`the scale would leave ${count} segments, fewer than the stream's scaling.minSegments ${min}`);
  }
  if (count > streamSegmentsMax) throw new InvalidArgumentError(`the scale would leave ${count} segments; a stream has at most ${streamSegmentsMax}`);
  if (record.nextNumber + ranges.length - 1 > segmentNumberMax || record.currentEpoch + 1 > segmentNumberMax) {
    throw new InvalidArgumentError(`stream ${scope}/${stream} has used up its segment numbers or epochs`);
  }
  const newEpoch = record.currentEpoch + 1;
  const workflow: ScaleWorkflow = {
    type: "scale",
    id: newWorkflowId(),
    startedAtMs: ctx.clock.nowMs(),
    epoch: newEpoch,
    seal: sealed.map((s) => ({ number: s.number, epoch: s.epoch })),
    create: ranges.map((r, i) => ({ number: record.nextNumber + i, epoch: newEpoch, keyStart: r.keyStart, keyEnd: r.keyEnd })),
  };
  return { ...record, nextNumber: record.nextNumber + ranges.length, workflow };
}

/** Steps 2-5 of the scale in the slot (see the file comment); resolves with the scale's result. */
export async function runScale(ctx: StreamContext, scope: string, stream: string, wf: ScaleWorkflow): Promise<ScaleResponse> {
  const response: ScaleResponse = { epoch: wf.epoch, segments: wf.create.map((s) => rangeOf(scope, stream, s)) };
  // A resumer that finds the slot moved on stops here, so it cannot recreate a segment that a
  // later truncation or deletion removed.
  if (!(await stillRunning(ctx, scope, stream, wf.id))) return response;
  const previous = await requireEpoch(ctx.store, scope, stream, wf.epoch - 1);
  await forEachBounded(wf.create, (s) => ctx.segments.createSegment(nameOf(scope, stream, s)));
  if (!(await stillRunning(ctx, scope, stream, wf.id))) return response;
  const lengths = await mapBounded(wf.seal, (s) => ctx.segments.sealSegment(nameOf(scope, stream, s)));
  if (ctx.pauseAfterSealMs > 0) {
    log.info("scale: predecessors sealed", { scope, stream, epoch: wf.epoch });
    await sleepMs(ctx.clock, ctx.pauseAfterSealMs);
  }
  const committedHere = await finishWorkflow(ctx, scope, stream, wf.id, (current) => {
    if (current.currentEpoch !== wf.epoch - 1) throw new Error(`scale to epoch ${wf.epoch} found the stream at epoch ${current.currentEpoch} while holding the slot`);
    const next = nextEpoch(previous, wf, lengths, ctx.clock.nowMs());
    return {
      record: { ...current, currentEpoch: wf.epoch },
      compares: [{ key: epochKey(scope, stream, wf.epoch), version: 0 }],
      ops: [{ type: "put", key: epochKey(scope, stream, wf.epoch), value: encodeRecord(next) }],
    };
  });
  if (committedHere) log.info("scale committed", { scope, stream, epoch: wf.epoch, sealed: wf.seal.length, created: wf.create.length });
  return response;
}

function nextEpoch(previous: EpochRecord, wf: ScaleWorkflow, lengths: readonly number[], nowMs: number): EpochRecord {
  const sealedIds = new Set(wf.seal.map(idOf));
  const segments = [...previous.segments.filter((s) => !sealedIds.has(idOf(s))), ...wf.create.map((s) => ({ ...s, createdAtMs: nowMs }))];
  segments.sort((a, b) => a.keyStart - b.keyStart);
  const sealed = wf.seal.map((s, i) => ({ number: s.number, epoch: s.epoch, length: lengths[i]! }));
  return { epoch: wf.epoch, committedAtMs: nowMs, segments, sealed, sealedBytesTotal: previous.sealedBytesTotal + sealed.reduce((n, s) => n + s.length, 0) };
}

/**
 * Replaces every current segment by `count` segments over equal ranges (a config change asks for
 * it); nothing when `done(current count)` says the stream already fits. Retries when another scale
 * wins in between.
 */
export async function rescaleAll(ctx: StreamContext, scope: string, stream: string, count: number, done: (currentCount: number) => boolean): Promise<void> {
  for (let attempt = 0; attempt < rescaleAttemptsMax; attempt++) {
    const { record } = await requireStream(ctx.store, scope, stream, ["active"]);
    const epoch = await requireEpoch(ctx.store, scope, stream, record.currentEpoch);
    if (done(epoch.segments.length)) return;
    try {
      await scale(ctx, scope, stream, epoch.segments.map((s) => nameOf(scope, stream, s)), equalRanges(count));
      return;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new ConditionalCheckFailedError(`stream ${scope}/${stream} kept scaling during ${rescaleAttemptsMax} attempts to resize it to ${count} segments; retry`);
}

/**
 * The stream record's one workflow slot. A scale, a transaction commit batch, a seal, a delete or a
 * truncation takes it by compare-and-set and clears it in the same metadata transaction that
 * commits its result; while it is set, another workflow on the stream waits. That serializes the
 * changes to a stream's segments without any lock held in memory, so a crashed controller leaves
 * nothing but a slot that any controller can finish (every step is idempotent).
 */
import { assert, ConditionalCheckFailedError, containerOf, logger, NoSegmentStoreError, NoSuchStreamError, UnavailableError, type SluiceError } from "../../common/index.js";
import type { Compare, TxnOp } from "../store/index.js";
import { forEachBounded } from "../txn/index.js";
import { sleepMs, type StreamContext } from "./stream-context.js";
import { encodeRecord, nameOf, readStream, requireEpoch, streamKey, type StreamRecord, type VersionedStream, type Workflow } from "./stream-metadata.js";

const log = logger("controller");

/** How long a workflow waits for another to leave the slot before UNAVAILABLE (retriable). */
export const slotWaitMsMax = 60_000;
/** Polling of a busy slot: the first wait, doubling up to the last. */
export const slotPollMsMin = 20;
export const slotPollMsMax = 1_000;
/**
 * A waiter runs a workflow older than this itself: its owner may have died, and running it twice is
 * safe. Younger ones are left to their owner, whose steps would otherwise all be done twice.
 */
export const workflowHelpAfterMs = 10_000;
/**
 * Compare-and-set attempts on one stream record. Each lost attempt means another writer changed
 * the record in between; on the embedded store a compare can also lose to a write that is staged
 * but not yet readable, so one competing write may cost two attempts.
 */
export const streamCasAttemptsMax = 64;

/**
 * Takes the slot of scope/stream. Waits while it holds a workflow, then calls `plan` with the
 * record: `plan` raises a typed error to refuse, answers undefined when there is nothing to do, or
 * answers the record to write with `workflow` set (and any state change). The write is a
 * compare-and-set against the record `plan` saw; a lost race plans again. Resolves with the record
 * written and its version, or undefined. Raises NO_SUCH_STREAM, UNAVAILABLE after slotWaitMsMax,
 * NO_SEGMENT_STORE at once when the slot is busy and no segment store can serve the stream (the
 * workflow in it cannot end).
 */
export async function takeSlot(
  ctx: StreamContext,
  scope: string,
  stream: string,
  plan: (current: VersionedStream) => Promise<StreamRecord | undefined>,
): Promise<VersionedStream | undefined> {
  const deadlineMs = ctx.clock.monotonicMs() + slotWaitMsMax;
  let pollMs = slotPollMsMin;
  let lostRaces = 0;
  let storesChecked = false;
  for (;;) {
    const found = await readStream(ctx.store, scope, stream);
    if (found === undefined) throw new NoSuchStreamError(`stream ${scope}/${stream} does not exist`);
    const busy = found.record.workflow;
    if (busy !== undefined) {
      const ageMs = ctx.clock.nowMs() - busy.startedAtMs;
      if (ageMs >= workflowHelpAfterMs) {
        try {
          await ctx.runWorkflow(scope, stream, busy);
          continue;
        } catch (err) {
          if (err instanceof NoSegmentStoreError) throw err;
          log.warn("helping a stalled workflow failed; waiting for the slot", { scope, stream, workflow: busy.type, error: err });
        }
      }
      // The workflow in the slot cannot end while no segment store serves the stream, so waiting
      // for it would only hold the caller until its deadline. Looked at once: a store lost later
      // makes the help above fail NO_SEGMENT_STORE.
      if (!storesChecked) {
        storesChecked = true;
        const unserved = await whyStreamUnserved(ctx, scope, stream, found.record.currentEpoch);
        if (unserved !== undefined) {
          throw new NoSegmentStoreError(`stream ${scope}/${stream} is busy with a ${busy.type} started ${ageMs} ms ago, which cannot finish: ${unserved.message}`, { cause: unserved });
        }
      }
      if (ctx.clock.monotonicMs() + pollMs > deadlineMs) {
        throw new UnavailableError(`stream ${scope}/${stream} is busy with a ${busy.type} started ${ageMs} ms ago; retry later`);
      }
      await sleepMs(ctx.clock, pollMs);
      pollMs = Math.min(pollMs * 2, slotPollMsMax);
      continue;
    }
    const next = await plan(found);
    if (next === undefined) return undefined;
    assert(next.workflow !== undefined, "a slot is taken with a workflow");
    try {
      const version = await ctx.store.compareAndSet(streamKey(scope, stream), found.version, encodeRecord(next));
      return { record: next, version };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
      if (++lostRaces >= streamCasAttemptsMax) throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${lostRaces} attempts to start a workflow; retry`);
    }
  }
}

/** NO_SEGMENT_STORE when no segment store can serve the containers of the stream's current segments soon, else undefined. */
async function whyStreamUnserved(ctx: StreamContext, scope: string, stream: string, epoch: number): Promise<SluiceError | undefined> {
  if (ctx.placement.whyUnserved === undefined) return undefined;
  const segments = (await requireEpoch(ctx.store, scope, stream, epoch)).segments;
  const containers = [...new Set(segments.map((s) => containerOf(nameOf(scope, stream, s), ctx.placement.containerCount)))].sort((a, b) => a - b);
  return ctx.placement.whyUnserved(containers);
}

/** True while the slot of scope/stream still holds the workflow `id` (a resumer that lost the race stops). */
export async function stillRunning(ctx: StreamContext, scope: string, stream: string, id: string): Promise<boolean> {
  return (await readStream(ctx.store, scope, stream))?.record.workflow?.id === id;
}

/** Items one chunk of forEachWhileRunning handles between two looks at the slot. */
export const workflowChunkItemsMax = 64;

/**
 * Calls `fn` on every item (a bounded number at a time), in chunks, checking before each chunk that
 * the slot still holds workflow `id`. Resolves false when it stopped because the slot moved on: a
 * stale resumer of a delete must not go on deleting segments of a stream created anew under the
 * same name.
 */
export async function forEachWhileRunning<T>(ctx: StreamContext, scope: string, stream: string, id: string, items: readonly T[], fn: (item: T) => Promise<void>): Promise<boolean> {
  for (let i = 0; i < items.length; i += workflowChunkItemsMax) {
    if (!(await stillRunning(ctx, scope, stream, id))) return false;
    await forEachBounded(items.slice(i, i + workflowChunkItemsMax), fn);
  }
  return stillRunning(ctx, scope, stream, id);
}

export interface WorkflowResult {
  /** The stream record to write; its `workflow` is cleared by finishWorkflow. */
  record: StreamRecord;
  compares?: Compare[];
  ops?: TxnOp[];
}

/**
 * Commits the result of workflow `id`: in one metadata transaction guarded by the stream record's
 * version, writes `build(current)`'s ops and its stream record with the slot cleared. Resolves
 * true if this call committed it, false if the slot no longer holds the workflow (another
 * controller committed it first).
 */
export async function finishWorkflow(ctx: StreamContext, scope: string, stream: string, id: string, build: (current: StreamRecord) => WorkflowResult): Promise<boolean> {
  const key = streamKey(scope, stream);
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    if (found?.record.workflow?.id !== id) return false;
    const result = build(found.record);
    const { workflow: _done, ...record } = result.record;
    try {
      await ctx.store.txn([{ key, version: found.version }, ...(result.compares ?? [])], [...(result.ops ?? []), { type: "put", key, value: encodeRecord(record) }]);
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to commit a workflow; it will be resumed`);
}

/** The type-specific view of the slot, for a workflow module checking what it resumes. */
export function isWorkflow<T extends Workflow["type"]>(w: Workflow | undefined, type: T): w is Extract<Workflow, { type: T }> {
  return w?.type === type;
}

/**
 * Truncating a stream at a cut: the cut (checked to be a valid cut at or after the stream's head,
 * each offset within its segment) goes into the slot; each cut segment is truncated at its offset;
 * every segment wholly before the cut (an ancestor of a cut segment, back to the old head) is
 * deleted; then the cut becomes the stream's head and the slot is cleared. Offsets are not checked
 * against event boundaries: callers pass cuts they got from tail cuts or readers.
 */
import { InvalidArgumentError, logger, NoSuchSegmentError, SluiceError, validateName } from "../../common/index.js";
import type { StreamCut } from "../../proto/index.js";
import { EpochHistory } from "./epoch-history.js";
import type { StreamContext } from "./stream-context.js";
import { checkAtOrAfter, headCut, resolveCut, toPositions, type CutSegment } from "./stream-cuts.js";
import { checkState, idOf, nameOf, newWorkflowId, readStream, type TruncateWorkflow } from "./stream-metadata.js";
import { finishWorkflow, forEachWhileRunning, takeSlot } from "./workflow-slot.js";

const log = logger("controller");

/**
 * Moves the stream's head to `cut`. Raises INVALID_NAME, INVALID_ARGUMENT (a bad cut, one before
 * the head, an offset past a segment's length), NO_SUCH_STREAM, UNAVAILABLE.
 */
export async function truncateStream(ctx: StreamContext, scope: string, stream: string, cut: StreamCut | undefined): Promise<void> {
  validateName("scope", scope);
  validateName("stream", stream);
  if (cut === undefined || cut.positions.length === 0) throw new InvalidArgumentError("cut is empty: truncation needs a stream cut");
  const taken = await takeSlot(ctx, scope, stream, async (current) => {
    checkState(scope, stream, current.record, ["active", "sealing", "sealed"]);
    const history = new EpochHistory(ctx.store, scope, stream, current.record.currentEpoch);
    const resolved = await resolveCut(history, cut, "cut");
    await checkAtOrAfter(history, await headCut(history, current.record), resolved, "cut", "the stream's head");
    await checkWithinLengths(ctx, scope, stream, resolved);
    const workflow: TruncateWorkflow = { type: "truncate", id: newWorkflowId(), startedAtMs: ctx.clock.nowMs(), cut: toPositions(resolved) };
    return { ...current.record, workflow };
  });
  if (taken?.record.workflow?.type === "truncate") await runTruncate(ctx, scope, stream, taken.record.workflow);
}

async function checkWithinLengths(ctx: StreamContext, scope: string, stream: string, cut: readonly CutSegment[]): Promise<void> {
  for (const c of cut) {
    const name = nameOf(scope, stream, c.segment);
    try {
      const info = await ctx.segments.segmentInfo(name);
      if (c.offset > info.length) throw new InvalidArgumentError(`cut: offset ${c.offset} of ${name} is past its length ${info.length}`);
    } catch (err) {
      if (err instanceof NoSuchSegmentError) throw new InvalidArgumentError(`cut: ${name} no longer exists (an earlier truncation deleted it)`);
      throw err;
    }
  }
}

/** Truncates and deletes as the slot's cut says, then moves the head (see the file comment). */
export async function runTruncate(ctx: StreamContext, scope: string, stream: string, wf: TruncateWorkflow): Promise<void> {
  const found = await readStream(ctx.store, scope, stream);
  if (found?.record.workflow?.id !== wf.id) return;
  const history = new EpochHistory(ctx.store, scope, stream, found.record.currentEpoch);
  const cut: CutSegment[] = [];
  for (const p of wf.cut) {
    const segment = await history.find(p);
    if (segment === undefined) throw new Error(`truncation cut names ${idOf(p)}, unknown to the history of ${scope}/${stream}`);
    cut.push({ segment, offset: p.offset });
  }
  const head = await headCut(history, found.record);
  try {
    const truncated = await forEachWhileRunning(ctx, scope, stream, wf.id, cut, (c) => ctx.segments.truncateSegment(nameOf(scope, stream, c.segment), c.offset));
    if (!truncated) return;
  } catch (err) {
    // A refusal that retrying cannot cure would hold the slot for ever: give the truncation up.
    if (!(err instanceof SluiceError) || err.retriable) throw err;
    log.warn("truncation refused by a segment store; abandoned", { scope, stream, error: err });
    await finishWorkflow(ctx, scope, stream, wf.id, (current) => ({ record: current }));
    throw err;
  }
  // Walking back from the cut stops at the old head: what lay before it was deleted by then.
  const headIds = new Set(head.map((h) => idOf(h.segment)));
  const cutIds = new Set(cut.map((c) => idOf(c.segment)));
  const before = await history.ancestors(
    cut.map((c) => c.segment),
    (s) => headIds.has(idOf(s)),
  );
  const doomed = [...before.values()].filter((s) => !cutIds.has(idOf(s))).map((s) => nameOf(scope, stream, s));
  if (!(await forEachWhileRunning(ctx, scope, stream, wf.id, doomed, (name) => ctx.segments.deleteSegment(name)))) return;
  if (await finishWorkflow(ctx, scope, stream, wf.id, (current) => ({ record: { ...current, head: wf.cut } }))) {
    log.info("stream truncated", { scope, stream, segmentsDeleted: doomed.length });
  }
}

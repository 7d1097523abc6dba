/**
 * Sealing a stream. The decision is the state `sealing`, set by compare-and-set; from then on no
 * transaction can be created or decided to commit (both compare the stream record), so the seal
 * workflow can settle every transaction first: OPEN ones are aborted and COMMITTING ones land.
 * Then it takes the slot (after any scale, commit or truncation), seals every current segment and
 * sets `sealed` with the slot cleared. Each step is idempotent; sealing a sealed stream is a no-op.
 */
import { ConditionalCheckFailedError, logger, NoSuchStreamError, UnavailableError, validateName } from "../../common/index.js";
import { abortTxn, listTxns } from "../txn/index.js";
import { driveCommit } from "./commit-workflow.js";
import type { StreamContext } from "./stream-context.js";
import { encodeRecord, nameOf, newWorkflowId, readStream, requireEpoch, streamKey, type SealWorkflow } from "./stream-metadata.js";
import { finishWorkflow, forEachWhileRunning, streamCasAttemptsMax, takeSlot } from "./workflow-slot.js";

const log = logger("controller");

/** Seals the stream (see the file comment). Raises NO_SUCH_STREAM, UNAVAILABLE (resumed later). */
export async function sealStream(ctx: StreamContext, scope: string, stream: string): Promise<void> {
  validateName("scope", scope);
  validateName("stream", stream);
  for (let attempt = 0; ; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    const state = found?.record.state;
    if (found === undefined || state === "creating" || state === "deleting") throw new NoSuchStreamError(`stream ${scope}/${stream} does not exist`);
    if (state === "sealed") return;
    if (state === "sealing") break;
    if (attempt >= streamCasAttemptsMax) throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${attempt} attempts to seal it; retry`);
    try {
      await ctx.store.compareAndSet(streamKey(scope, stream), found.version, encodeRecord({ ...found.record, state: "sealing", stateChangedAtMs: ctx.clock.nowMs() }));
      break;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  await continueSeal(ctx, scope, stream);
}

/** The rest of a seal once the stream is `sealing` (also how resumeWorkflows finishes one). */
export async function continueSeal(ctx: StreamContext, scope: string, stream: string): Promise<void> {
  // A seal workflow already in the slot (its owner may have died) is finished here rather than waited for.
  const found = await readStream(ctx.store, scope, stream);
  if (found?.record.workflow?.type === "seal") {
    await runSeal(ctx, scope, stream, found.record.workflow);
    return;
  }
  for (const { record } of await listTxns(ctx.store, scope, stream)) {
    if (record.state === "OPEN" || record.state === "ABORTING") await abortTxn(ctx.store, ctx.segments, ctx.clock, scope, stream, record.txnId, ctx.txn.recordKeptMs);
    else if (record.state === "COMMITTING") await driveCommit(ctx, scope, stream, record.txnId);
  }
  const taken = await takeSlot(ctx, scope, stream, (current) => {
    const state = current.record.state;
    if (state === "sealed") return Promise.resolve(undefined);
    if (state !== "sealing") return Promise.reject(new NoSuchStreamError(`stream ${scope}/${stream} is ${state}, not sealing`));
    const workflow: SealWorkflow = { type: "seal", id: newWorkflowId(), startedAtMs: ctx.clock.nowMs() };
    return Promise.resolve({ ...current.record, workflow });
  });
  if (taken?.record.workflow?.type === "seal") await runSeal(ctx, scope, stream, taken.record.workflow);
}

/** Seals every current segment, then marks the stream sealed and clears the slot. */
export async function runSeal(ctx: StreamContext, scope: string, stream: string, wf: SealWorkflow): Promise<void> {
  const found = await readStream(ctx.store, scope, stream);
  if (found?.record.workflow?.id !== wf.id) return;
  const epoch = await requireEpoch(ctx.store, scope, stream, found.record.currentEpoch);
  const names = epoch.segments.map((s) => nameOf(scope, stream, s));
  if (!(await forEachWhileRunning(ctx, scope, stream, wf.id, names, async (name) => {
    await ctx.segments.sealSegment(name);
  }))) return;
  if (await finishWorkflow(ctx, scope, stream, wf.id, (current) => ({ record: { ...current, state: "sealed", stateChangedAtMs: ctx.clock.nowMs() } }))) {
    log.info("stream sealed", { scope, stream, epoch: found.record.currentEpoch });
  }
}

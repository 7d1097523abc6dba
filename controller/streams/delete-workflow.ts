/**
 * Deleting a sealed stream. The decision is the state `deleting` with a delete workflow in the
 * slot, set together by compare-and-set. The workflow deletes every segment of every epoch and
 * every transaction segment (one already gone counts as deleted), then the transaction, epoch and
 * retention records (ended transaction records page by page: a busy stream keeps hundreds of
 * thousands; their removal index keys are left to the expiry sweep, which removes an entry whose
 * record is gone when it falls due), and the stream record last, so a crash at any point leaves a
 * `deleting` record that any controller can finish. A stale resumer stops as soon as the slot is gone (the
 * name may already belong to a new stream).
 */
import { ConditionalCheckFailedError, logger, NoSuchStreamError, StreamNotSealedError, UnavailableError, validateName } from "../../common/index.js";
import { listAll } from "../store/index.js";
import { listTxns, removeAtVersions, txnEndedPrefix, txnKey, txnSegmentsOf } from "../txn/index.js";
import type { StreamContext } from "./stream-context.js";
import {
  decodeEpoch,
  epochPrefix,
  nameOf,
  newWorkflowId,
  readStream,
  retentionKey,
  retentionPrefix,
  streamKey,
  type DeleteWorkflow,
} from "./stream-metadata.js";
import { forEachWhileRunning, stillRunning, streamCasAttemptsMax, takeSlot } from "./workflow-slot.js";

const log = logger("controller");

/** Deletes a sealed stream and everything of it. Raises NO_SUCH_STREAM, STREAM_NOT_SEALED, UNAVAILABLE. */
export async function deleteStream(ctx: StreamContext, scope: string, stream: string): Promise<void> {
  validateName("scope", scope);
  validateName("stream", stream);
  // A delete already decided (its owner may have died) is finished here rather than waited for.
  const found = await readStream(ctx.store, scope, stream);
  if (found?.record.state === "deleting" && found.record.workflow?.type === "delete") {
    await runDelete(ctx, scope, stream, found.record.workflow);
    return;
  }
  const taken = await takeSlot(ctx, scope, stream, (current) => {
    const r = current.record;
    if (r.state === "creating" || r.state === "deleting") return Promise.reject(new NoSuchStreamError(`stream ${scope}/${stream} does not exist`));
    if (r.state !== "sealed") return Promise.reject(new StreamNotSealedError(`stream ${scope}/${stream} is ${r.state}: seal it before deleting it`));
    const workflow: DeleteWorkflow = { type: "delete", id: newWorkflowId(), startedAtMs: ctx.clock.nowMs() };
    return Promise.resolve({ ...r, state: "deleting" as const, stateChangedAtMs: ctx.clock.nowMs(), workflow });
  });
  if (taken?.record.workflow?.type === "delete") await runDelete(ctx, scope, stream, taken.record.workflow);
}

/**
 * Deletes the stream's ended transaction records a page at a time (metadataListPageMax), each page
 * in metadata transactions at the versions listed, looking before each page that this delete still
 * runs. Resolves false when it stopped because the slot moved on.
 */
async function deleteEndedTxns(ctx: StreamContext, scope: string, stream: string, id: string): Promise<boolean> {
  let after: string | undefined;
  for (;;) {
    if (!(await stillRunning(ctx, scope, stream, id))) return false;
    const page = await ctx.store.list(txnEndedPrefix(scope, stream), after === undefined ? {} : { after });
    await removeAtVersions(ctx.store, page.entries.map((kv) => ({ key: kv.key, version: kv.version })));
    const last = page.entries.at(-1);
    if (!page.more || last === undefined) return true;
    after = last.key;
  }
}

/** Deletes the stream's segments and then its records (see the file comment). */
export async function runDelete(ctx: StreamContext, scope: string, stream: string, wf: DeleteWorkflow): Promise<void> {
  const epochs = await listAll(ctx.store, epochPrefix(scope, stream));
  const names = new Set<string>();
  for (const kv of epochs) for (const s of decodeEpoch(kv).segments) names.add(nameOf(scope, stream, s));
  const txns = await listTxns(ctx.store, scope, stream);
  for (const t of txns) for (const name of txnSegmentsOf(scope, stream, t.record)) names.add(name);
  const running = <T>(items: readonly T[], fn: (item: T) => Promise<unknown>) =>
    forEachWhileRunning(ctx, scope, stream, wf.id, items, async (item) => {
      await fn(item);
    });
  // Segment names repeat when a stream is made again under the same name, so each delete is preceded
  // by its own check that this delete still runs: a run that lost the race to another (which then
  // finished, and the stream was created anew) stops before it touches the new stream's segments.
  for (const name of names) {
    if (!(await running([name], (n) => ctx.segments.deleteSegment(n)))) return;
  }
  // Records go with the version they were listed at, so a record of a stream made again is never removed.
  const retention = await ctx.store.get(retentionKey(scope, stream));
  const records: { key: string; version: number }[] = [
    ...txns.map((t) => ({ key: txnKey(scope, stream, t.record.txnId), version: t.version })),
    ...epochs.map((kv) => ({ key: kv.key, version: kv.version })),
    ...(retention === undefined ? [] : [{ key: retention.key, version: retention.version }]),
    ...(await listAll(ctx.store, retentionPrefix(scope, stream))).map((kv) => ({ key: kv.key, version: kv.version })),
  ];
  const deleteListed = async (r: { key: string; version: number }) => {
    try {
      await ctx.store.delete(r.key, r.version);
    } catch (err) {
      // Changed since it was listed: it belongs to something newer than this delete.
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  };
  if (!(await running(records, deleteListed))) return;
  if (!(await deleteEndedTxns(ctx, scope, stream, wf.id))) return;
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const current = await readStream(ctx.store, scope, stream);
    if (current?.record.workflow?.id !== wf.id) return;
    try {
      await ctx.store.delete(streamKey(scope, stream), current.version);
      log.info("stream deleted", { scope, stream, segments: names.size });
      return;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to delete its record; it will be resumed`);
}

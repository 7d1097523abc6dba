/**
 * Transaction commit. COMMITTING is the durable decision (taken by compare-and-set while the stream
 * is active); from then on the commit always lands, whoever resumes it. The commit runs in the
 * stream's slot as a batch of COMMITTING transactions of one epoch:
 * - same epoch as the stream's: each transaction segment is merged into its parent (a source
 *   already gone was merged before), then the transactions are COMMITTED and the slot cleared in
 *   one metadata transaction;
 * - the stream scaled since (a rolling commit, after Pravega): with current epoch C and transaction
 *   epoch T, duplicates D of T's segments (same numbers, epoch C+1, same ranges) and A' of the
 *   current segments A (same numbers, epoch C+2) are created; the transaction segments are merged
 *   into the D, the D and the A sealed, and epochs C+1 and C+2 committed with the transactions. Per
 *   routing key a reader then sees A (events before the commit), D (the transaction's events), A'
 *   (events after), as readers take a successor only once all its predecessors are read.
 * Transaction and duplicate segments share their parent's container (containerOf hashes names with
 * epoch 0 and without the txn part), which a merge requires.
 */
import { assert, ConditionalCheckFailedError, InternalError, logger, metadataTxnBytesMax, metadataTxnEntryOverheadBytes, metadataTxnOpsMax, NoSuchSegmentError, SegmentSealedError, segmentNumberMax, TransactionClosedError, txnSegmentName, UnavailableError, validateName } from "../../common/index.js";
import {
  abortTxn,
  encodeTxn,
  endedTxnOps,
  endTxn,
  forEachBounded,
  listTxns,
  mapBounded,
  readTxn,
  requireTxn,
  txnEndOpsCount,
  txnKey,
  txnKeyBytesMax,
  txnSegmentsOf,
  validateTxnId,
  type TxnRecord,
} from "../txn/index.js";
import type { TxnOp } from "../store/index.js";
import type { StreamContext } from "./stream-context.js";
import {
  checkState,
  encodeRecord,
  epochKey,
  idOf,
  nameOf,
  newWorkflowId,
  requireEpoch,
  streamKey,
  readStream,
  type CommitWorkflow,
  type EpochRecord,
  type KeyedSegment,
  type StreamRecord,
} from "./stream-metadata.js";
import { finishWorkflow, stillRunning, takeSlot } from "./workflow-slot.js";

const log = logger("controller");

/**
 * Transactions committed in one batch. One metadata transaction ends them all, and ending one costs
 * txnEndOpsCount operations (its live record deleted, its ended record and removal index key written).
 */
export const txnCommitBatchMax = 40;
/** Bytes of transaction records (as read, COMMITTING) one batch holds, leaving room in metadataTxnBytesMax for two epoch records and the stream record. */
export const txnCommitBatchBytesMax = 512 * 1024;
// One batch commit ends each transaction, writes two epoch records and the stream record, with three compares.
assert(txnEndOpsCount * txnCommitBatchMax + 6 <= metadataTxnOpsMax, "a commit batch fits one metadata transaction");
// An ended record is the COMMITTING one without its parents (at least one) plus its end time, so no
// larger than what the batch counted; each of the three operations also costs its key and overhead.
const commitBatchEndBytesMax = txnCommitBatchBytesMax + txnCommitBatchMax * txnEndOpsCount * (txnKeyBytesMax + metadataTxnEntryOverheadBytes);
assert(commitBatchEndBytesMax + txnCommitBatchBytesMax <= metadataTxnBytesMax, "a commit batch leaves room for the epoch and stream records");

/** Rounds of taking the slot before a commit gives up with UNAVAILABLE (one normally suffices; the decision stands either way). */
export const commitRoundsMax = 8;

/** What a commit call answers: the record once COMMITTED, and whether this call found it so already. */
export interface CommitOutcome {
  record: TxnRecord;
  /**
   * True when this call read the record as COMMITTED before it decided or drove anything (a repeated
   * commit, or one that lost the race to a concurrent commit of the same id); false when this call
   * took the decision or finished a commit that was still COMMITTING.
   */
  alreadyCommitted: boolean;
}

/**
 * Commits a transaction: OPEN -> COMMITTING, then the commit workflow; resolves once COMMITTED (a
 * committed one answers at once, alreadyCommitted). Raises NO_SUCH_TRANSACTION,
 * TRANSACTION_RECORD_GONE (no record and the id is older than --txn-record-kept-ms: the outcome is
 * no longer known), TRANSACTION_CLOSED (aborting, aborted, or its lease ran out: it is then
 * aborted), STREAM_SEALED (while OPEN), UNAVAILABLE (the decision is recorded and will land; ask the
 * status later).
 */
export async function commitTxn(ctx: StreamContext, scope: string, stream: string, txnId: string): Promise<CommitOutcome> {
  validateName("scope", scope);
  validateName("stream", stream);
  validateTxnId(txnId);
  for (let round = 0; round < commitRoundsMax; round++) {
    const found = await requireTxn(ctx.store, scope, stream, txnId, ctx.clock, ctx.txn.recordKeptMs);
    const record = found.record;
    switch (record.state) {
      case "COMMITTED":
        return { record, alreadyCommitted: true };
      case "COMMITTING":
        return { record: await driveCommit(ctx, scope, stream, txnId), alreadyCommitted: false };
      case "ABORTING":
      case "ABORTED":
        throw new TransactionClosedError(`transaction ${txnId} of ${scope}/${stream} is ${record.state}; it cannot be committed`);
      case "OPEN":
        break;
    }
    if (record.leaseExpiresAtMs <= ctx.clock.nowMs()) {
      await abortTxn(ctx.store, ctx.segments, ctx.clock, scope, stream, txnId, ctx.txn.recordKeptMs);
      throw new TransactionClosedError(`transaction ${txnId} of ${scope}/${stream} expired at ${record.leaseExpiresAtMs}; it was aborted`);
    }
    const current = await readStream(ctx.store, scope, stream);
    checkState(scope, stream, current?.record, ["active"]);
    assert(current !== undefined);
    // Guarded by the stream record too: a seal that began meanwhile (state sealing) wins, and no
    // commit is decided after the seal workflow has looked for commits to finish.
    const committing: TxnRecord = { ...record, state: "COMMITTING", decidedAtMs: ctx.clock.nowMs() };
    try {
      await ctx.store.txn(
        [{ key: streamKey(scope, stream), version: current.version }, { key: txnKey(scope, stream, txnId), version: found.version }],
        [{ type: "put", key: txnKey(scope, stream, txnId), value: encodeTxn(committing) }],
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedError) continue;
      throw err;
    }
    return { record: await driveCommit(ctx, scope, stream, txnId), alreadyCommitted: false };
  }
  throw new UnavailableError(`transaction ${txnId} of ${scope}/${stream}: the stream kept changing while deciding the commit; retry`);
}

/**
 * Runs commit workflows until the COMMITTING transaction `txnId` is COMMITTED; resolves with its
 * record. Raises UNAVAILABLE when the slot stays busy (the commit lands later, by resumeWorkflows).
 */
export async function driveCommit(ctx: StreamContext, scope: string, stream: string, txnId: string): Promise<TxnRecord> {
  for (let round = 0; round < commitRoundsMax; round++) {
    const mine = (await requireTxn(ctx.store, scope, stream, txnId, ctx.clock, ctx.txn.recordKeptMs)).record;
    if (mine.state === "COMMITTED") return mine;
    assert(mine.state === "COMMITTING", `transaction ${txnId} being committed is ${mine.state}`);
    // A commit batch holding this transaction already (its owner may have died, or a client
    // retries) is run here rather than waited for: running it twice is safe.
    const busy = (await readStream(ctx.store, scope, stream))?.record.workflow;
    if (busy?.type === "commit" && busy.txnIds.includes(txnId)) {
      await runCommit(ctx, scope, stream, busy);
      continue;
    }
    const taken = await takeSlot(ctx, scope, stream, async (current) => {
      const now = (await readTxn(ctx.store, scope, stream, txnId))?.record;
      if (now?.state !== "COMMITTING") return undefined;
      checkState(scope, stream, current.record, ["active", "sealing"]);
      return { ...current.record, workflow: await planBatch(ctx, scope, stream, now, current.record) };
    });
    if (taken?.record.workflow?.type === "commit") await runCommit(ctx, scope, stream, taken.record.workflow);
  }
  throw new UnavailableError(`transaction ${txnId} of ${scope}/${stream} is committing but did not land in ${commitRoundsMax} rounds; it will be resumed`);
}

/** The batch: `mine` first, then other COMMITTING transactions of its epoch, within the bounds. */
async function planBatch(ctx: StreamContext, scope: string, stream: string, mine: TxnRecord, record: StreamRecord): Promise<CommitWorkflow> {
  const txnIds = [mine.txnId];
  let bytes = encodeTxn(mine).length;
  for (const { record: other } of await listTxns(ctx.store, scope, stream)) {
    if (txnIds.length >= txnCommitBatchMax) break;
    if (other.state !== "COMMITTING" || other.epoch !== mine.epoch || other.txnId === mine.txnId) continue;
    const size = encodeTxn(other).length;
    if (bytes + size > txnCommitBatchBytesMax) break;
    bytes += size;
    txnIds.push(other.txnId);
  }
  assert(mine.epoch <= record.currentEpoch, "a transaction's epoch is not past the stream's");
  if (mine.epoch < record.currentEpoch && record.currentEpoch + 2 > segmentNumberMax) {
    throw new InternalError(`stream ${scope}/${stream} has used up its epochs; transaction ${mine.txnId} cannot be committed`);
  }
  return { type: "commit", id: newWorkflowId(), startedAtMs: ctx.clock.nowMs(), txnIds, txnEpoch: mine.epoch, baseEpoch: record.currentEpoch };
}

/** Runs the commit batch in the slot to its end (see the file comment). */
export async function runCommit(ctx: StreamContext, scope: string, stream: string, wf: CommitWorkflow): Promise<void> {
  if (!(await stillRunning(ctx, scope, stream, wf.id))) return;
  const txns: TxnRecord[] = [];
  for (const id of wf.txnIds) {
    const found = await readTxn(ctx.store, scope, stream, id);
    if (found?.record.state === "COMMITTING") txns.push(found.record);
  }
  const nowMs = () => ctx.clock.nowMs();
  // Each transaction moves to its ended key as it is COMMITTED; the stream record's compare (the
  // slot still holds this workflow) makes that happen once.
  const committed = () => txns.flatMap((t) => endedTxnOps(scope, stream, endTxn(t, "COMMITTED", nowMs())));
  if (wf.txnEpoch === wf.baseEpoch) {
    // Transaction by transaction, so every parent holds the batch's transactions in one order.
    for (const t of txns) {
      const sources = txnSegmentsOf(scope, stream, t);
      await forEachBounded(t.parents, (p, i) => merge(ctx, nameOf(scope, stream, p), sources[i]!));
    }
    if (await finishWorkflow(ctx, scope, stream, wf.id, (current) => ({ record: current, ops: committed() }))) {
      log.info("transactions committed", { scope, stream, epoch: wf.baseEpoch, txns: txns.length });
    }
    return;
  }
  await rollingCommit(ctx, scope, stream, wf, txns, committed);
}

async function rollingCommit(
  ctx: StreamContext,
  scope: string,
  stream: string,
  wf: CommitWorkflow,
  txns: readonly TxnRecord[],
  committed: () => TxnOp[],
): Promise<void> {
  const base = await requireEpoch(ctx.store, scope, stream, wf.baseEpoch);
  const old = await requireEpoch(ctx.store, scope, stream, wf.txnEpoch);
  const duplicates: KeyedSegment[] = old.segments.map((s) => ({ number: s.number, epoch: wf.baseEpoch + 1, keyStart: s.keyStart, keyEnd: s.keyEnd }));
  const duplicateOf = new Map(old.segments.map((s, i) => [idOf(s), duplicates[i]!]));
  const successors: KeyedSegment[] = base.segments.map((s) => ({ number: s.number, epoch: wf.baseEpoch + 2, keyStart: s.keyStart, keyEnd: s.keyEnd }));
  await forEachBounded(duplicates, (d) => ctx.segments.createSegment(nameOf(scope, stream, d)));
  for (const t of txns) {
    await forEachBounded(t.parents, async (p) => {
      const d = duplicateOf.get(idOf(p));
      if (d === undefined) throw new InternalError(`transaction ${t.txnId} names parent ${idOf(p)}, not a segment of its epoch ${t.epoch}`);
      await merge(ctx, nameOf(scope, stream, d), txnSegmentName(nameOf(scope, stream, p), t.txnId));
    });
  }
  await forEachBounded(successors, (a) => ctx.segments.createSegment(nameOf(scope, stream, a)));
  if (!(await stillRunning(ctx, scope, stream, wf.id))) return;
  const duplicateLengths = await mapBounded(duplicates, (d) => ctx.segments.sealSegment(nameOf(scope, stream, d)));
  const baseLengths = await mapBounded(base.segments, (a) => ctx.segments.sealSegment(nameOf(scope, stream, a)));
  const committedHere = await finishWorkflow(ctx, scope, stream, wf.id, (current) => {
    assert(current.currentEpoch === wf.baseEpoch, "the stream stays at its epoch while a commit holds the slot");
    const nowMs = ctx.clock.nowMs();
    const first: EpochRecord = {
      epoch: wf.baseEpoch + 1,
      committedAtMs: nowMs,
      segments: duplicates.map((d) => ({ ...d, createdAtMs: nowMs })),
      sealed: base.segments.map((a, i) => ({ number: a.number, epoch: a.epoch, length: baseLengths[i]! })),
      sealedBytesTotal: base.sealedBytesTotal + baseLengths.reduce((n, l) => n + l, 0),
    };
    const second: EpochRecord = {
      epoch: wf.baseEpoch + 2,
      committedAtMs: nowMs,
      segments: successors.map((a) => ({ ...a, createdAtMs: nowMs })),
      sealed: duplicates.map((d, i) => ({ number: d.number, epoch: d.epoch, length: duplicateLengths[i]! })),
      sealedBytesTotal: first.sealedBytesTotal + duplicateLengths.reduce((n, l) => n + l, 0),
    };
    const firstKey = epochKey(scope, stream, first.epoch);
    const secondKey = epochKey(scope, stream, second.epoch);
    return {
      record: { ...current, currentEpoch: second.epoch },
      compares: [{ key: firstKey, version: 0 }, { key: secondKey, version: 0 }],
      ops: [{ type: "put", key: firstKey, value: encodeRecord(first) }, { type: "put", key: secondKey, value: encodeRecord(second) }, ...committed()],
    };
  });
  if (committedHere) log.info("transactions committed by rolling over a scale", { scope, stream, txnEpoch: wf.txnEpoch, epoch: wf.baseEpoch + 2, txns: txns.length });
}

/**
 * Merges `source` into `target`, idempotently: a source that is gone was merged by an earlier run
 * (the store deletes it in the same step). Any other failure, or a refusal while the source is
 * still there, is raised.
 */
async function merge(ctx: StreamContext, target: string, source: string): Promise<void> {
  try {
    await ctx.segments.mergeSegments(target, source);
  } catch (err) {
    if (!(err instanceof NoSuchSegmentError) && !(err instanceof SegmentSealedError)) throw err;
    try {
      await ctx.segments.segmentInfo(source);
    } catch (infoErr) {
      if (infoErr instanceof NoSuchSegmentError) return;
      throw infoErr;
    }
    throw err;
  }
}

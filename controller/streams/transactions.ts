/**
 * Creating a transaction. The record (OPEN, the current epoch, its segments as parents, the lease)
 * is written first, guarded by the stream record's version so that no transaction appears on a
 * stream that began sealing or scaled meanwhile; then one transaction segment per parent is
 * created. A crash in between leaves an OPEN record whose lease runs out, and expiry deletes its
 * segments (absent ones count as deleted): nothing is orphaned either way.
 */
import { ConditionalCheckFailedError, logger, OverloadedError, TransactionClosedError, txnsOpenPerStreamMax, UnavailableError, validateName } from "../../common/index.js";
import type { CreateTransactionResponse } from "../../proto/index.js";
import { abortTxn, encodeTxn, forEachBounded, listTxns, newTxnId, readTxn, txnKey, txnSegmentsOf, validateLeaseMs, type TxnRecord } from "../txn/index.js";
import type { StreamContext } from "./stream-context.js";
import { checkState, rangeOf, readStream, requireEpoch, streamKey } from "./stream-metadata.js";
import { streamCasAttemptsMax } from "./workflow-slot.js";

const log = logger("controller");

/**
 * Opens a transaction on the stream's current segments. Raises INVALID_NAME, INVALID_ARGUMENT (the
 * lease), NO_SUCH_STREAM, STREAM_SEALED, OVERLOADED (txnsOpenPerStreamMax open already),
 * UNAVAILABLE.
 */
export async function createTransaction(ctx: StreamContext, scope: string, stream: string, leaseMs: number): Promise<CreateTransactionResponse> {
  validateName("scope", scope);
  validateName("stream", stream);
  validateLeaseMs(leaseMs);
  let record: TxnRecord | undefined;
  for (let attempt = 0; attempt < streamCasAttemptsMax && record === undefined; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    checkState(scope, stream, found?.record, ["active"]);
    if (found === undefined) continue;
    // Counting reads the stream's transaction records; two creates racing may both pass at the
    // bound, so it can be exceeded by the number of concurrent creates, never by more.
    const open = (await listTxns(ctx.store, scope, stream)).filter((t) => t.record.state === "OPEN").length;
    if (open >= txnsOpenPerStreamMax) {
      throw new OverloadedError(`stream ${scope}/${stream} has ${open} open transactions, its bound; commit or abort some first`);
    }
    const epoch = await requireEpoch(ctx.store, scope, stream, found.record.currentEpoch);
    const nowMs = ctx.clock.nowMs();
    const candidate: TxnRecord = {
      txnId: newTxnId(),
      state: "OPEN",
      epoch: epoch.epoch,
      parents: epoch.segments.map((s) => ({ number: s.number, epoch: s.epoch, keyStart: s.keyStart, keyEnd: s.keyEnd })),
      createdAtMs: nowMs,
      leaseExpiresAtMs: nowMs + leaseMs,
    };
    try {
      const key = txnKey(scope, stream, candidate.txnId);
      await ctx.store.txn([{ key: streamKey(scope, stream), version: found.version }, { key, version: 0 }], [{ type: "put", key, value: encodeTxn(candidate) }]);
      record = candidate;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  if (record === undefined) throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to open a transaction; retry`);
  const segments = txnSegmentsOf(scope, stream, record);
  try {
    await forEachBounded(segments, (s) => ctx.segments.createSegment(s));
  } catch (err) {
    // The caller gets no id, so nobody will commit it: abort now rather than at lease expiry.
    const txnId = record.txnId;
    await abortTxn(ctx.store, ctx.segments, ctx.clock, scope, stream, txnId).catch((abortErr: unknown) => {
      log.warn("aborting a transaction whose segments could not be created failed; expiry will", { scope, stream, txn: txnId, error: abortErr });
    });
    throw err;
  }
  // A seal of the stream (or an abort by id) may have ended the transaction while its segments
  // were being made, deleting them before some were created: delete them again, and say so.
  const after = await readTxn(ctx.store, scope, stream, record.txnId);
  if (after?.record.state !== "OPEN") {
    await forEachBounded(segments, (s) => ctx.segments.deleteSegment(s));
    throw new TransactionClosedError(`transaction ${record.txnId} on ${scope}/${stream} was ended (the stream was sealed, or it was aborted) while it was created; begin another`);
  }
  return {
    txnId: record.txnId,
    epoch: record.epoch,
    segments: record.parents.map((p, i) => ({ parent: rangeOf(scope, stream, p), txnSegment: segments[i]! })),
    leaseExpiresAtMs: record.leaseExpiresAtMs,
  };
}

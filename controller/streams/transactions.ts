/**
 * Creating and listing transactions. The record (OPEN, the current epoch, its segments as parents, the lease)
 * is written first, guarded by the stream record's version so that no transaction appears on a
 * stream that began sealing or scaled meanwhile; then one transaction segment per parent is
 * created. A crash in between leaves an OPEN record whose lease runs out, and expiry deletes its
 * segments (absent ones count as deleted): nothing is orphaned either way. A caller may tag a
 * transaction (the Flink sink tags each with its job and subtask) and later list the open ones by
 * tag prefix, to find those it opened after its last checkpoint.
 */
import { ConditionalCheckFailedError, logger, OverloadedError, TransactionClosedError, txnsListedMax, txnsOpenPerStreamMax, UnavailableError, validateName } from "../../common/index.js";
import type { CreateTransactionResponse, ListTransactionsResponse, OpenTransaction } from "../../proto/index.js";
import { abortTxn, encodeTxn, forEachBounded, listTxns, newTxnId, readTxn, txnKey, txnSegmentsOf, validateLeaseMs, validateTag, type TxnRecord } from "../txn/index.js";
import type { StreamContext } from "./stream-context.js";
import { checkState, rangeOf, readStream, requireEpoch, streamKey } from "./stream-metadata.js";
import { streamCasAttemptsMax } from "./workflow-slot.js";

const log = logger("controller");

/**
 * Opens a transaction on the stream's current segments, with `tag` stored in its record. Raises
 * INVALID_NAME, INVALID_ARGUMENT (the lease outside [txnLeaseMsMin, --txn-lease-max-ms], or a tag
 * that is not printable ASCII of at most txnTagBytesMax bytes), NO_SUCH_STREAM, STREAM_SEALED,
 * OVERLOADED (txnsOpenPerStreamMax open already), UNAVAILABLE.
 */
export async function createTransaction(ctx: StreamContext, scope: string, stream: string, leaseMs: number, tag: string): Promise<CreateTransactionResponse> {
  validateName("scope", scope);
  validateName("stream", stream);
  validateLeaseMs(leaseMs, ctx.txn.leaseMsMax);
  validateTag("tag", tag);
  let record: TxnRecord | undefined;
  for (let attempt = 0; attempt < streamCasAttemptsMax && record === undefined; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    checkState(scope, stream, found?.record, ["active"]);
    if (found === undefined) continue;
    // Counting reads the stream's live transaction records (ended ones are kept apart, so a busy
    // stream's day of ended records costs nothing here); two creates racing may both pass at the
    // bound, so it can be exceeded by the number of concurrent creates, never by more.
    const open = (await listTxns(ctx.store, scope, stream)).filter((t) => t.record.state === "OPEN").length;
    if (open >= txnsOpenPerStreamMax) {
      throw new OverloadedError(`stream ${scope}/${stream} has ${open} open transactions, its bound; commit or abort some first`);
    }
    const epoch = await requireEpoch(ctx.store, scope, stream, found.record.currentEpoch);
    const nowMs = ctx.clock.nowMs();
    const candidate: TxnRecord = {
      txnId: newTxnId(nowMs),
      state: "OPEN",
      epoch: epoch.epoch,
      parents: epoch.segments.map((s) => ({ number: s.number, epoch: s.epoch, keyStart: s.keyStart, keyEnd: s.keyEnd })),
      createdAtMs: nowMs,
      leaseExpiresAtMs: nowMs + leaseMs,
      ...(tag === "" ? {} : { tag }),
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
    await abortTxn(ctx.store, ctx.segments, ctx.clock, scope, stream, txnId, ctx.txn.recordKeptMs).catch((abortErr: unknown) => {
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

/**
 * The OPEN transactions of a stream whose tag starts with `tagPrefix` (empty: every open one), in
 * id order (ids begin with their creation time, so that is creation order to the millisecond). A
 * snapshot: a transaction may end or be created right after. At most txnsListedMax are answered;
 * a stream can pass txnsOpenPerStreamMax only by creates racing at it, and a listing above
 * txnsListedMax raises OVERLOADED rather than leave some out. Raises INVALID_NAME, INVALID_ARGUMENT
 * (the prefix), NO_SUCH_STREAM (a sealed stream answers, with no open transactions).
 */
export async function listOpenTransactions(ctx: StreamContext, scope: string, stream: string, tagPrefix: string): Promise<ListTransactionsResponse> {
  validateName("scope", scope);
  validateName("stream", stream);
  validateTag("tagPrefix", tagPrefix);
  const found = await readStream(ctx.store, scope, stream);
  checkState(scope, stream, found?.record, ["active", "sealing", "sealed"]);
  const transactions: OpenTransaction[] = [];
  for (const { record } of await listTxns(ctx.store, scope, stream)) {
    const tag = record.tag ?? "";
    if (record.state !== "OPEN" || !tag.startsWith(tagPrefix)) continue;
    if (transactions.length >= txnsListedMax) {
      throw new OverloadedError(`stream ${scope}/${stream} has more than ${txnsListedMax} open transactions tagged ${JSON.stringify(tagPrefix)}*, more than one listing answers; abort some or narrow the prefix`);
    }
    transactions.push({ txnId: record.txnId, tag, createdAtMs: record.createdAtMs, leaseExpiresAtMs: record.leaseExpiresAtMs });
  }
  return { transactions };
}

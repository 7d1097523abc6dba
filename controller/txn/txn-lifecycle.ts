/**
 * The parts of a transaction's life that need nothing from the stream: the abort workflow (decide
 * ABORTING, delete the transaction's segments, reach ABORTED), lease pings, and status. Commit
 * changes the stream's segments, so it lives with the stream workflows (streams/commit-workflow.ts).
 * Every step is idempotent and every decision a compare-and-set, so two controllers may run the
 * same abort at once.
 */
import { ConditionalCheckFailedError, NoSuchSegmentError, TransactionClosedError, UnavailableError, type Clock } from "../../common/index.js";
import type { MetadataStore } from "../store/index.js";
import { forEachBounded } from "./bounded.js";
import { txnEndedKey, txnKey } from "./txn-keys.js";
import { encodeTxn, endedTxnOps, endTxn, readTxn, requireTxn, txnSegmentsOf, type TxnRecord, type VersionedTxn } from "./txn-record.js";

/**
 * Compare-and-set attempts on one transaction record. Each lost attempt means another writer
 * changed the record in between (a ping, a decision); on the embedded store a compare can also lose
 * to a write that is staged but not yet readable, so one competing write may cost two attempts.
 */
export const txnCasAttemptsMax = 64;

/** What deleting a transaction's segments needs from the data plane (absent counts as deleted). */
export interface TxnSegmentDeleter {
  deleteSegment(segment: string): Promise<void>;
}

/**
 * Moves the record by `change` (which answers the new record, or undefined to leave it) with
 * compare-and-set on the live record's version, re-reading after a lost race; a record that
 * reaches COMMITTED or ABORTED moves to its ended key in the same metadata transaction. `change` is
 * only ever asked to change a live record: an ended one (and a COMMITTED or ABORTED record still at
 * a live key, written before records moved) is answered as it is. Resolves with the record as it
 * stands afterwards, or undefined when there is none. Raises UNAVAILABLE when the races never end.
 */
export async function updateTxn(
  store: MetadataStore,
  scope: string,
  stream: string,
  txnId: string,
  change: (current: TxnRecord) => TxnRecord | undefined,
): Promise<VersionedTxn | undefined> {
  const key = txnKey(scope, stream, txnId);
  for (let attempt = 0; attempt < txnCasAttemptsMax; attempt++) {
    const found = await readTxn(store, scope, stream, txnId);
    if (found === undefined) return undefined;
    if (found.key !== key || found.record.state === "COMMITTED" || found.record.state === "ABORTED") return found;
    const next = change(found.record);
    if (next === undefined) return found;
    try {
      if (next.state === "COMMITTED" || next.state === "ABORTED") {
        const version = await store.txn([{ key, version: found.version }], endedTxnOps(scope, stream, next));
        return { record: next, version, key: txnEndedKey(scope, stream, txnId) };
      }
      const version = await store.compareAndSet(key, found.version, encodeTxn(next));
      return { record: next, version, key };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`transaction ${txnId} of ${scope}/${stream} kept changing during ${txnCasAttemptsMax} updates; retry`);
}

/**
 * Decides to abort an OPEN transaction (OPEN -> ABORTING). Resolves with the record afterwards,
 * whatever its state (a transaction already deciding the other way is left as it is). Raises
 * NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE (no record, and the id is older than recordKeptMs).
 */
export async function decideAbort(store: MetadataStore, clock: Clock, scope: string, stream: string, txnId: string, recordKeptMs: number): Promise<TxnRecord> {
  const after = await updateTxn(store, scope, stream, txnId, (r) => (r.state === "OPEN" ? { ...r, state: "ABORTING", decidedAtMs: clock.nowMs() } : undefined));
  if (after === undefined) return (await requireTxn(store, scope, stream, txnId, clock, recordKeptMs)).record;
  return after.record;
}

/**
 * Finishes the abort of an ABORTING transaction: deletes its segments (one already gone counts as
 * deleted), then ABORTED. Resolves with the record afterwards (undefined if the record is gone, as
 * when the stream was deleted meanwhile); a transaction in another state is left as it is.
 */
export async function finishAbort(store: MetadataStore, segments: TxnSegmentDeleter, clock: Clock, scope: string, stream: string, txnId: string): Promise<TxnRecord | undefined> {
  const found = await readTxn(store, scope, stream, txnId);
  if (found === undefined || found.record.state !== "ABORTING") return found?.record;
  await forEachBounded(txnSegmentsOf(scope, stream, found.record), async (segment) => {
    try {
      await segments.deleteSegment(segment);
    } catch (err) {
      // Deleting is idempotent by contract; a store that still says so is not an error here.
      if (!(err instanceof NoSuchSegmentError)) throw err;
    }
  });
  const after = await updateTxn(store, scope, stream, txnId, (r) => (r.state === "ABORTING" ? endTxn(r, "ABORTED", clock.nowMs()) : undefined));
  return after?.record;
}

/**
 * Aborts a transaction through both steps; resolves with the record afterwards. Raises
 * NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE, and TRANSACTION_CLOSED when it is committing or committed.
 */
export async function abortTxn(store: MetadataStore, segments: TxnSegmentDeleter, clock: Clock, scope: string, stream: string, txnId: string, recordKeptMs: number): Promise<TxnRecord> {
  const decided = await decideAbort(store, clock, scope, stream, txnId, recordKeptMs);
  if (decided.state === "COMMITTING" || decided.state === "COMMITTED") {
    throw new TransactionClosedError(`transaction ${txnId} of ${scope}/${stream} is ${decided.state}; it can no longer be aborted`);
  }
  if (decided.state === "ABORTED") return decided;
  return (await finishAbort(store, segments, clock, scope, stream, txnId)) ?? endTxn(decided, "ABORTED", clock.nowMs());
}

/**
 * Sets the lease of an OPEN transaction to end at now + leaseMs. A transaction whose lease has run out
 * is aborted here (as expiry would) and raises TRANSACTION_CLOSED, as does any state but OPEN.
 * Raises NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE.
 */
export async function pingTxn(
  store: MetadataStore,
  segments: TxnSegmentDeleter,
  clock: Clock,
  scope: string,
  stream: string,
  txnId: string,
  leaseMs: number,
  recordKeptMs: number,
): Promise<TxnRecord> {
  const nowMs = clock.nowMs();
  const after = await updateTxn(store, scope, stream, txnId, (r) =>
    r.state === "OPEN" && r.leaseExpiresAtMs > nowMs ? { ...r, leaseExpiresAtMs: nowMs + leaseMs } : undefined,
  );
  if (after === undefined) return (await requireTxn(store, scope, stream, txnId, clock, recordKeptMs)).record;
  if (after.record.state === "OPEN" && after.record.leaseExpiresAtMs <= nowMs) {
    await abortTxn(store, segments, clock, scope, stream, txnId, recordKeptMs);
    throw new TransactionClosedError(`transaction ${txnId} of ${scope}/${stream} expired at ${after.record.leaseExpiresAtMs}; it was aborted`);
  }
  if (after.record.state !== "OPEN") {
    throw new TransactionClosedError(`transaction ${txnId} of ${scope}/${stream} is ${after.record.state}; only an open transaction can be pinged`);
  }
  return after.record;
}

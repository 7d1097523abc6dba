/**
 * Transaction expiry, run periodically by the leader: an OPEN transaction whose lease has run out
 * is aborted (its segments deleted), and the record of a transaction that ended more than
 * recordKeptMs (--txn-record-kept-ms) ago is removed. Safe to run beside API calls and beside another controller doing
 * the same: the abort decision is a compare-and-set, and a record is removed only at the version
 * that was read.
 */
import { ConditionalCheckFailedError, logger, type Clock } from "../../common/index.js";
import { listAll, type MetadataStore } from "../store/index.js";
import { decideAbort, finishAbort, type TxnSegmentDeleter } from "./txn-lifecycle.js";
import { decodeTxn, parseTxnKey, txnRootPrefix } from "./txn-record.js";

const log = logger("controller");

export interface ExpiryResult {
  /** Transactions aborted because their lease ran out. */
  aborted: number;
  /** Records of ended transactions removed. */
  removed: number;
}

/**
 * One expiry round (see the file comment). A transaction whose abort fails does not stop the
 * others (each is logged); the first failure is raised once all were tried.
 */
export async function expireTransactions(store: MetadataStore, segments: TxnSegmentDeleter, clock: Clock, recordKeptMs: number): Promise<ExpiryResult> {
  const result: ExpiryResult = { aborted: 0, removed: 0 };
  let failure: { err: unknown } | undefined;
  for (const kv of await listAll(store, txnRootPrefix)) {
    const id = parseTxnKey(kv.key);
    if (id === undefined) continue;
    const record = decodeTxn(kv);
    const nowMs = clock.nowMs();
    if (record.state === "OPEN" && record.leaseExpiresAtMs <= nowMs) {
      try {
        const decided = await decideAbort(store, clock, id.scope, id.stream, id.txnId, recordKeptMs);
        if (decided.state === "ABORTING") {
          await finishAbort(store, segments, clock, id.scope, id.stream, id.txnId);
          result.aborted++;
        }
      } catch (err) {
        failure ??= { err };
        log.warn("expiring a transaction failed; the next round retries", { scope: id.scope, stream: id.stream, txn: id.txnId, error: err });
      }
    } else if ((record.state === "COMMITTED" || record.state === "ABORTED") && (record.endedAtMs ?? 0) + recordKeptMs <= nowMs) {
      try {
        if (await store.delete(kv.key, kv.version)) result.removed++;
      } catch (err) {
        // Changed since it was read (cannot happen to an ended record, but a compare is the rule).
        if (!(err instanceof ConditionalCheckFailedError)) throw err;
      }
    }
  }
  if (failure !== undefined) throw failure.err;
  return result;
}

/**
 * Transaction expiry, run periodically by the leader: an OPEN transaction whose lease has run out
 * is aborted (its segments deleted), and the record of a transaction that ended more than
 * recordKeptMs (--txn-record-kept-ms) ago is removed. Only live records are scanned for leases;
 * ended ones are removed through their index (txn-sweep.ts), so a round costs the live
 * transactions plus the records due, not the records kept. Safe to run beside API calls and beside
 * another controller doing the same: the abort decision is a compare-and-set, and a record is
 * removed only at the version that was read.
 */
import { ConditionalCheckFailedError, logger, type Clock } from "../../common/index.js";
import { listAll, type MetadataStore } from "../store/index.js";
import { txnRootPrefix, parseTxnKey } from "./txn-keys.js";
import { decideAbort, finishAbort, type TxnSegmentDeleter } from "./txn-lifecycle.js";
import { decodeTxn, endedTxnOps } from "./txn-record.js";
import { removeDueRecords } from "./txn-sweep.js";

const log = logger("controller");

export interface ExpiryResult {
  /** Transactions aborted because their lease ran out. */
  aborted: number;
  /** Records of ended transactions removed. */
  removed: number;
}

/**
 * One expiry round (see the file comment). A transaction whose abort fails does not stop the
 * others, nor the removal of due records (each failure is logged); the first failure is raised
 * once all were tried. A COMMITTED or ABORTED record found at a live key (written before ended
 * records moved) is moved to the ended keys here, keeping its end time.
 */
export async function expireTransactions(store: MetadataStore, segments: TxnSegmentDeleter, clock: Clock, recordKeptMs: number): Promise<ExpiryResult> {
  const result: ExpiryResult = { aborted: 0, removed: 0 };
  let failure: { err: unknown } | undefined;
  for (const kv of await listAll(store, txnRootPrefix)) {
    const id = parseTxnKey(kv.key);
    if (id === undefined) continue;
    const record = decodeTxn(kv);
    const nowMs = clock.nowMs();
    try {
      if (record.state === "OPEN" && record.leaseExpiresAtMs <= nowMs) {
        const decided = await decideAbort(store, clock, id.scope, id.stream, id.txnId, recordKeptMs);
        if (decided.state === "ABORTING") {
          await finishAbort(store, segments, clock, id.scope, id.stream, id.txnId);
          result.aborted++;
        }
      } else if (record.state === "COMMITTED" || record.state === "ABORTED") {
        const ended = { ...record, parents: [], endedAtMs: record.endedAtMs ?? nowMs };
        await store.txn([{ key: kv.key, version: kv.version }], endedTxnOps(id.scope, id.stream, ended)).catch((err: unknown) => {
          // Moved or removed since it was read (by another controller's round): nothing to do.
          if (!(err instanceof ConditionalCheckFailedError)) throw err;
        });
      }
    } catch (err) {
      failure ??= { err };
      log.warn("expiring a transaction failed; the next round retries", { scope: id.scope, stream: id.stream, txn: id.txnId, error: err });
    }
  }
  try {
    result.removed = await removeDueRecords(store, clock.nowMs(), recordKeptMs);
  } catch (err) {
    failure ??= { err };
    log.warn("removing ended transaction records failed; the next round retries", { error: err });
  }
  if (failure !== undefined) throw failure.err;
  return result;
}

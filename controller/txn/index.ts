/**
 * Transactions: their records and the parts of their life that need nothing from the stream
 * (abort, ping, status, expiry). The commit workflow changes the stream's segments and lives in
 * controller/streams, which builds on this module (streams -> txn, never the other way).
 */
export { forEachBounded, mapBounded, segmentCallsConcurrentMax } from "./bounded.js";
export {
  decodeTxn,
  encodeTxn,
  endedTxnOps,
  endTxn,
  listTxns,
  missingTxnError,
  newTxnId,
  parentSegmentOf,
  readTxn,
  requireTxn,
  txnEndOpsCount,
  txnIdCreatedAtMs,
  txnSegmentsOf,
  txnStatus,
  validateLeaseMs,
  validateTag,
  validateTxnId,
  type TxnParent,
  type TxnPhase,
  type TxnRecord,
  type VersionedTxn,
} from "./txn-record.js";
export {
  parseTxnExpiryKey,
  parseTxnKey,
  txnEndedKey,
  txnEndedPrefix,
  txnEndedRootPrefix,
  txnExpiryKey,
  txnExpiryRootPrefix,
  txnKey,
  txnKeyBytesMax,
  txnPrefix,
  txnRootPrefix,
} from "./txn-keys.js";
export { removeAtVersions, removeDueRecords, txnSweepPageMax, txnSweepRemovedPerRoundMax, type Removal } from "./txn-sweep.js";
export { abortTxn, decideAbort, finishAbort, pingTxn, txnCasAttemptsMax, updateTxn, type TxnSegmentDeleter } from "./txn-lifecycle.js";
export { expireTransactions, type ExpiryResult } from "./txn-expiry.js";
export { describeMs, txnSettings, txnSettingsDefault, type TxnSettings } from "./txn-settings.js";

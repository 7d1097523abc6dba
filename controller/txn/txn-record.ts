/**
 * Transaction records (TxnRecord, JSON; where they are kept: txn-keys.ts). A record is the durable
 * state of one transaction; its state only moves forward along
 *   OPEN -> COMMITTING -> COMMITTED   or   OPEN -> ABORTING -> ABORTED,
 * each step by compare-and-set on the record's version, so of two controllers deciding at once
 * exactly one decision stands. COMMITTING and ABORTING are the durable decisions: from then on the
 * outcome is fixed and whoever resumes the workflow finishes it. A record that reaches COMMITTED or
 * ABORTED drops its parents (its segments are merged or deleted by then), so the records kept for
 * --txn-record-kept-ms after the end stay small, and moves from the live keys to the ended ones in
 * the same metadata transaction (endedTxnOps), so live scans (listTxns) never read them.
 *
 * A transaction id is 32 lower-case hex digits: the first 12 are its creation time (ms since the
 * epoch, big-endian), the other 20 random. The time lets a call naming an id without a record tell
 * "removed after it ended" (TRANSACTION_RECORD_GONE) from "never existed" (NO_SUCH_TRANSACTION).
 */
import { randomBytes } from "node:crypto";
import {
  assert,
  DataCorruptionError,
  InvalidArgumentError,
  NoSuchTransactionError,
  quoteBounded,
  segmentName,
  TransactionRecordGoneError,
  txnLeaseMsMin,
  txnSegmentName,
  txnTagBytesMax,
  type Clock,
  type SluiceError,
} from "../../common/index.js";
import type { TransactionStatusResponse, TxnState } from "../../proto/index.js";
import { listAll, type KeyValue, type MetadataStore, type TxnOp } from "../store/index.js";
import { txnEndedKey, txnExpiryKey, txnKey, txnPrefix } from "./txn-keys.js";
import { describeMs } from "./txn-settings.js";

/** The states a stored transaction can be in (TXN_STATE_UNSPECIFIED never is). */
export type TxnPhase = Exclude<TxnState, "TXN_STATE_UNSPECIFIED">;

/** A parent segment of a transaction: a segment of the epoch the transaction was created in. */
export interface TxnParent {
  number: number;
  epoch: number;
  keyStart: number;
  keyEnd: number;
}

export interface TxnRecord {
  txnId: string;
  state: TxnPhase;
  /** The stream's epoch when the transaction was created; `parents` are that epoch's segments. */
  epoch: number;
  /** The parents while the transaction lives; empty once COMMITTED or ABORTED (see endTxn). */
  parents: TxnParent[];
  /** The caller's tag (printable ASCII, at most txnTagBytesMax bytes); absent in records written before tags. */
  tag?: string;
  createdAtMs: number;
  leaseExpiresAtMs: number;
  /** When COMMITTING or ABORTING was decided (resumeWorkflows ages workflows by it). */
  decidedAtMs?: number;
  /** When COMMITTED or ABORTED was reached (the record is removed txnRecordKeptMs later). */
  endedAtMs?: number;
}

/** A record with the key and version it was read at (for the next compare-and-set). */
export interface VersionedTxn {
  record: TxnRecord;
  version: number;
  /** The live key (txnKey) or, for a record that ended, the ended key (txnEndedKey). */
  key: string;
}

const txnIdPattern = /^[0-9a-f]{32}$/;

/** Hex digits of an id that hold its creation time: 48 bits of ms, enough until the year 10889. */
const txnIdTimeDigits = 12;

/** A fresh transaction id created at `nowMs`: the time as 12 hex digits, then 10 random bytes as 20. */
export function newTxnId(nowMs: number): string {
  assert(Number.isSafeInteger(nowMs) && nowMs >= 0 && nowMs < 2 ** (4 * txnIdTimeDigits), "a creation time fits a transaction id");
  return nowMs.toString(16).padStart(txnIdTimeDigits, "0") + randomBytes(10).toString("hex");
}

/** The creation time (ms since the epoch) a valid transaction id embeds. */
export function txnIdCreatedAtMs(txnId: string): number {
  return Number.parseInt(txnId.slice(0, txnIdTimeDigits), 16);
}

/**
 * The error for an id that has no record at `nowMs`: TRANSACTION_RECORD_GONE when the id was created
 * more than `recordKeptMs` ago (a record, had there been one, may have been removed after it ended),
 * otherwise NO_SUCH_TRANSACTION (a record that existed would still be there).
 */
export function missingTxnError(scope: string, stream: string, txnId: string, nowMs: number, recordKeptMs: number): SluiceError {
  const createdAtMs = txnIdCreatedAtMs(txnId);
  if (createdAtMs <= nowMs - recordKeptMs) {
    return new TransactionRecordGoneError(
      `transaction ${txnId} of ${scope}/${stream} has no record: if it existed it ended more than ${describeMs(recordKeptMs)} ago (--txn-record-kept-ms), and its outcome is no longer known`,
    );
  }
  return new NoSuchTransactionError(`transaction ${txnId} of ${scope}/${stream} does not exist`);
}

/** Checks a transaction id from a caller; raises INVALID_ARGUMENT saying what an id looks like. */
export function validateTxnId(txnId: string): string {
  if (typeof txnId !== "string" || txnId.length !== 32 || !txnIdPattern.test(txnId)) {
    throw new InvalidArgumentError(`invalid transaction id ${quoteBounded(txnId)}: expected 32 lower-case hex digits`);
  }
  return txnId;
}

/** Checks a lease from a caller against this controller's longest; raises INVALID_ARGUMENT naming the allowed range. */
export function validateLeaseMs(leaseMs: number, leaseMsMax: number): number {
  if (!Number.isInteger(leaseMs) || leaseMs < txnLeaseMsMin || leaseMs > leaseMsMax) {
    throw new InvalidArgumentError(`leaseMs must be an integer in [${txnLeaseMsMin}, ${leaseMsMax}] (this controller's --txn-lease-max-ms is ${leaseMsMax}), got ${leaseMs}`);
  }
  return leaseMs;
}

const tagPattern = /^[\x20-\x7e]*$/;

/** Checks a tag or tag prefix from a caller: printable ASCII, at most txnTagBytesMax bytes. Raises INVALID_ARGUMENT. */
export function validateTag(what: "tag" | "tagPrefix", tag: string): string {
  if (typeof tag !== "string" || tag.length > txnTagBytesMax || !tagPattern.test(tag)) {
    throw new InvalidArgumentError(`${what} ${quoteBounded(tag)} is not valid: at most ${txnTagBytesMax} bytes of printable ASCII (space to ~)`);
  }
  return tag;
}

/** The record as it ends (COMMITTED or ABORTED at `nowMs`): the parents are dropped, as nothing reads them after. */
export function endTxn(record: TxnRecord, state: "COMMITTED" | "ABORTED", nowMs: number): TxnRecord {
  return { ...record, state, endedAtMs: nowMs, parents: [] };
}

/** The name of parent `p`'s segment of stream scope/stream. */
export function parentSegmentOf(scope: string, stream: string, p: TxnParent): string {
  return segmentName(scope, stream, p.number, p.epoch);
}

/** The transaction's own segments, one per parent, in the order of `parents`. */
export function txnSegmentsOf(scope: string, stream: string, record: TxnRecord): string[] {
  return record.parents.map((p) => txnSegmentName(parentSegmentOf(scope, stream, p), record.txnId));
}

/** The status answer; `alreadyCommitted` only for a commit that found the record COMMITTED. */
export function txnStatus(record: TxnRecord, alreadyCommitted = false): TransactionStatusResponse {
  return { state: record.state, leaseExpiresAtMs: record.leaseExpiresAtMs, alreadyCommitted };
}

export function encodeTxn(record: TxnRecord): Buffer {
  return Buffer.from(JSON.stringify(record), "utf8");
}

const phases: readonly string[] = ["OPEN", "COMMITTING", "COMMITTED", "ABORTING", "ABORTED"];

/** Parses a stored record; raises DATA_CORRUPTION naming the key when it does not have the shape written. */
export function decodeTxn(kv: KeyValue): TxnRecord {
  let value: unknown;
  try {
    value = JSON.parse(kv.value.toString("utf8"));
  } catch (err) {
    throw new DataCorruptionError(`${kv.key}: transaction record is not JSON`, { cause: err });
  }
  const r = value as Partial<TxnRecord> | null;
  if (
    r === null ||
    typeof r !== "object" ||
    typeof r.txnId !== "string" ||
    typeof r.state !== "string" ||
    !phases.includes(r.state) ||
    typeof r.epoch !== "number" ||
    !Array.isArray(r.parents) ||
    typeof r.leaseExpiresAtMs !== "number" ||
    typeof r.createdAtMs !== "number" ||
    (r.tag !== undefined && typeof r.tag !== "string")
  ) {
    throw new DataCorruptionError(`${kv.key}: transaction record does not have the expected fields`);
  }
  return r as TxnRecord;
}

/**
 * The record of a transaction, live or ended, or undefined when there is none. The live key is read
 * first: a record moves only from live to ended, in one metadata transaction, so a record missing
 * from the live key and then from the ended key did not exist at the first read (or was removed).
 */
export async function readTxn(store: MetadataStore, scope: string, stream: string, txnId: string): Promise<VersionedTxn | undefined> {
  const kv = (await store.get(txnKey(scope, stream, txnId))) ?? (await store.get(txnEndedKey(scope, stream, txnId)));
  return kv === undefined ? undefined : { record: decodeTxn(kv), version: kv.version, key: kv.key };
}

/** Metadata operations one ended transaction costs in the transaction that ends it (see endedTxnOps). */
export const txnEndOpsCount = 3;

/**
 * The operations that end a transaction, to be applied in one metadata transaction with the state
 * change: delete the live record, write `ended` (a record from endTxn) at its ended key, and write
 * its removal index key. The caller guards them, by a compare on the live record's version or by
 * the stream's slot, so a transaction ends once.
 */
export function endedTxnOps(scope: string, stream: string, ended: TxnRecord): TxnOp[] {
  assert((ended.state === "COMMITTED" || ended.state === "ABORTED") && ended.endedAtMs !== undefined && ended.parents.length === 0, "an ended record comes from endTxn");
  return [
    { type: "delete", key: txnKey(scope, stream, ended.txnId) },
    { type: "put", key: txnEndedKey(scope, stream, ended.txnId), value: encodeTxn(ended) },
    { type: "put", key: txnExpiryKey(ended.endedAtMs, scope, stream, ended.txnId), value: Buffer.alloc(0) },
  ];
}

/**
 * Like readTxn, but raises when there is no record: TRANSACTION_RECORD_GONE or NO_SUCH_TRANSACTION
 * by the id's age against `recordKeptMs` (see missingTxnError).
 */
export async function requireTxn(store: MetadataStore, scope: string, stream: string, txnId: string, clock: Clock, recordKeptMs: number): Promise<VersionedTxn> {
  const found = await readTxn(store, scope, stream, txnId);
  if (found === undefined) throw missingTxnError(scope, stream, txnId, clock.nowMs(), recordKeptMs);
  return found;
}

/**
 * Every live (OPEN, COMMITTING, ABORTING) record of a stream, in id order; ended records are not
 * read (they are kept elsewhere), so the cost is bounded by the stream's live transactions.
 */
export async function listTxns(store: MetadataStore, scope: string, stream: string): Promise<VersionedTxn[]> {
  return (await listAll(store, txnPrefix(scope, stream))).map((kv) => ({ record: decodeTxn(kv), version: kv.version, key: kv.key }));
}

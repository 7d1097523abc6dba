/**
 * Transaction records: `txns/<scope>/<stream>/<txnId>` -> TxnRecord (JSON). A record is the durable
 * state of one transaction; its state only moves forward along
 *   OPEN -> COMMITTING -> COMMITTED   or   OPEN -> ABORTING -> ABORTED,
 * each step by compare-and-set on the record's version, so of two controllers deciding at once
 * exactly one decision stands. COMMITTING and ABORTING are the durable decisions: from then on the
 * outcome is fixed and whoever resumes the workflow finishes it.
 */
import { randomBytes } from "node:crypto";
import {
  DataCorruptionError,
  InvalidArgumentError,
  NoSuchTransactionError,
  quoteBounded,
  segmentName,
  txnLeaseMsMax,
  txnLeaseMsMin,
  txnSegmentName,
} from "../../common/index.js";
import type { TransactionStatusResponse, TxnState } from "../../proto/index.js";
import { listAll, type KeyValue, type MetadataStore } from "../store/index.js";

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
  parents: TxnParent[];
  createdAtMs: number;
  leaseExpiresAtMs: number;
  /** When COMMITTING or ABORTING was decided (resumeWorkflows ages workflows by it). */
  decidedAtMs?: number;
  /** When COMMITTED or ABORTED was reached (the record is removed txnRecordKeptMs later). */
  endedAtMs?: number;
}

/** A record with the version it was read at (for the next compare-and-set). */
export interface VersionedTxn {
  record: TxnRecord;
  version: number;
}

export const txnRootPrefix = "txns/";

export function txnPrefix(scope: string, stream: string): string {
  return `${txnRootPrefix}${scope}/${stream}/`;
}

export function txnKey(scope: string, stream: string, txnId: string): string {
  return `${txnPrefix(scope, stream)}${txnId}`;
}

/** The scope, stream and id named by a key under `txns/`, or undefined for another key. */
export function parseTxnKey(key: string): { scope: string; stream: string; txnId: string } | undefined {
  const m = /^txns\/([^/]+)\/([^/]+)\/([0-9a-f]{32})$/.exec(key);
  return m === null ? undefined : { scope: m[1]!, stream: m[2]!, txnId: m[3]! };
}

const txnIdPattern = /^[0-9a-f]{32}$/;

/** A fresh transaction id: 16 random bytes as 32 lower-case hex digits. */
export function newTxnId(): string {
  return randomBytes(16).toString("hex");
}

/** Checks a transaction id from a caller; raises INVALID_ARGUMENT saying what an id looks like. */
export function validateTxnId(txnId: string): string {
  if (typeof txnId !== "string" || txnId.length !== 32 || !txnIdPattern.test(txnId)) {
    throw new InvalidArgumentError(`invalid transaction id ${quoteBounded(txnId)}: expected 32 lower-case hex digits`);
  }
  return txnId;
}

/** Checks a lease from a caller; raises INVALID_ARGUMENT naming the allowed range. */
export function validateLeaseMs(leaseMs: number): number {
  if (!Number.isInteger(leaseMs) || leaseMs < txnLeaseMsMin || leaseMs > txnLeaseMsMax) {
    throw new InvalidArgumentError(`leaseMs must be an integer in [${txnLeaseMsMin}, ${txnLeaseMsMax}], got ${leaseMs}`);
  }
  return leaseMs;
}

/** The name of parent `p`'s segment of stream scope/stream. */
export function parentSegmentOf(scope: string, stream: string, p: TxnParent): string {
  return segmentName(scope, stream, p.number, p.epoch);
}

/** The transaction's own segments, one per parent, in the order of `parents`. */
export function txnSegmentsOf(scope: string, stream: string, record: TxnRecord): string[] {
  return record.parents.map((p) => txnSegmentName(parentSegmentOf(scope, stream, p), record.txnId));
}

export function txnStatus(record: TxnRecord): TransactionStatusResponse {
  return { state: record.state, leaseExpiresAtMs: record.leaseExpiresAtMs };
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
    typeof r.createdAtMs !== "number"
  ) {
    throw new DataCorruptionError(`${kv.key}: transaction record does not have the expected fields`);
  }
  return r as TxnRecord;
}

export async function readTxn(store: MetadataStore, scope: string, stream: string, txnId: string): Promise<VersionedTxn | undefined> {
  const kv = await store.get(txnKey(scope, stream, txnId));
  return kv === undefined ? undefined : { record: decodeTxn(kv), version: kv.version };
}

/** Like readTxn, but raises NO_SUCH_TRANSACTION when there is no record. */
export async function requireTxn(store: MetadataStore, scope: string, stream: string, txnId: string): Promise<VersionedTxn> {
  const found = await readTxn(store, scope, stream, txnId);
  if (found === undefined) {
    throw new NoSuchTransactionError(`transaction ${txnId} of ${scope}/${stream} does not exist (never created, or ended more than a while ago)`);
  }
  return found;
}

/** Every transaction record of a stream, in id order. */
export async function listTxns(store: MetadataStore, scope: string, stream: string): Promise<VersionedTxn[]> {
  return (await listAll(store, txnPrefix(scope, stream))).map((kv) => ({ record: decodeTxn(kv), version: kv.version }));
}

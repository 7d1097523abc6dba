/**
 * The stream metadata layout in the MetadataStore (JSON values):
 *   scopes/<scope>                                   -> ScopeRecord
 *   streams/<scope>/<stream>                         -> StreamRecord (state, config, current epoch,
 *                                                       next segment number, head cut, workflow slot)
 *   epochs/<scope>/<stream>/<epoch, 10 digits>       -> EpochRecord (segments, lengths sealed by it)
 *   txns/<scope>/<stream>/<txnId>                    -> TxnRecord of a live transaction (controller/txn;
 *                                                       ended ones under txnsended/ and txnsexpiry/, txn-keys.ts)
 * Retention (controller/retention) keeps its own keys at `retention/<scope>/<stream>` and under
 * `retention/<scope>/<stream>/`; reader groups (someone else's) under `readergroups/<scope>/`.
 *
 * A segment is identified by (number, epoch that created it): a rolling transaction commit makes a
 * duplicate of a segment with the same number and a later epoch. Epoch records never change once
 * written and are kept until the stream is deleted (truncation deletes segments, not history), so
 * successors and predecessors can always be derived from them.
 */
import { randomBytes } from "node:crypto";
import { assert, DataCorruptionError, metadataValueBytesMax, NoSuchStreamError, segmentName, StreamSealedError } from "../../common/index.js";
import type { RetentionPolicy, ScalingPolicy, SegmentRange } from "../../proto/index.js";
import type { KeyValue, MetadataStore } from "../store/index.js";

export type { SegmentPlacement } from "./segment-ops.js";

export type StreamState = "creating" | "active" | "sealing" | "sealed" | "deleting";

export interface SegmentId {
  number: number;
  /** The epoch that created the segment. */
  epoch: number;
}

export interface KeyedSegment extends SegmentId {
  keyStart: number;
  keyEnd: number;
}

export interface EpochSegment extends KeyedSegment {
  /** When the epoch that created the segment was committed (wall clock). */
  createdAtMs: number;
}

export interface SealedLength extends SegmentId {
  length: number;
}

export interface CutPosition extends SegmentId {
  offset: number;
}

export interface EpochRecord {
  epoch: number;
  committedAtMs: number;
  /** The epoch's segments, ordered by keyStart; their ranges cover [0, 1) exactly, end to end. */
  segments: EpochSegment[];
  /** The segments of the previous epoch that this epoch replaced, with their final lengths. */
  sealed: SealedLength[];
  /** Bytes of every segment sealed by this epoch or an earlier one. */
  sealedBytesTotal: number;
}

/** A stream config with every default filled in (see stream-config.ts). */
export interface FullStreamConfig {
  scaling: ScalingPolicy;
  retention: RetentionPolicy;
}

interface WorkflowBase {
  /** Random; tells this run of the workflow from a later one in the same slot. */
  id: string;
  startedAtMs: number;
}

export interface ScaleWorkflow extends WorkflowBase {
  type: "scale";
  /** The epoch the scale commits (current + 1 when it was planned). */
  epoch: number;
  seal: SegmentId[];
  create: KeyedSegment[];
}

export interface CommitWorkflow extends WorkflowBase {
  type: "commit";
  /** COMMITTING transactions of epoch `txnEpoch`, merged in this order. */
  txnIds: string[];
  txnEpoch: number;
  /** The stream's epoch when the slot was taken; a rolling commit when it is past txnEpoch. */
  baseEpoch: number;
}

export interface SealWorkflow extends WorkflowBase {
  type: "seal";
}

export interface DeleteWorkflow extends WorkflowBase {
  type: "delete";
}

export interface TruncateWorkflow extends WorkflowBase {
  type: "truncate";
  cut: CutPosition[];
}

export type Workflow = ScaleWorkflow | CommitWorkflow | SealWorkflow | DeleteWorkflow | TruncateWorkflow;

export interface StreamRecord {
  state: StreamState;
  config: FullStreamConfig;
  currentEpoch: number;
  /** The number the next new segment gets (duplicates of a rolling commit reuse numbers). */
  nextNumber: number;
  createdAtMs: number;
  /** When `state` last changed (resumeWorkflows ages a half-done create or seal by it). */
  stateChangedAtMs: number;
  /** The last truncation cut; absent: every segment of epoch 0 at offset 0. */
  head?: CutPosition[];
  /** The one workflow running on the stream; another waits until it is cleared. */
  workflow?: Workflow;
}

export interface VersionedStream {
  record: StreamRecord;
  version: number;
}

export interface ScopeRecord {
  createdAtMs: number;
}

export const scopeRootPrefix = "scopes/";
export const streamRootPrefix = "streams/";
export const scopeKey = (scope: string): string => `${scopeRootPrefix}${scope}`;
export const streamPrefix = (scope: string): string => `${streamRootPrefix}${scope}/`;
export const streamKey = (scope: string, stream: string): string => `${streamPrefix(scope)}${stream}`;
export const epochPrefix = (scope: string, stream: string): string => `epochs/${scope}/${stream}/`;
export const epochKey = (scope: string, stream: string, epoch: number): string => `${epochPrefix(scope, stream)}${String(epoch).padStart(10, "0")}`;
export const readerGroupPrefix = (scope: string): string => `readergroups/${scope}/`;
export const retentionKey = (scope: string, stream: string): string => `retention/${scope}/${stream}`;
export const retentionPrefix = (scope: string, stream: string): string => `${retentionKey(scope, stream)}/`;

/** The scope and stream of a key under `streams/`, or undefined for another key. */
export function parseStreamKey(key: string): { scope: string; stream: string } | undefined {
  const m = /^streams\/([^/]+)\/([^/]+)$/.exec(key);
  return m === null ? undefined : { scope: m[1]!, stream: m[2]! };
}

export function newWorkflowId(): string {
  return randomBytes(8).toString("hex");
}

/** The map key of a segment identity (number and creating epoch). */
export const idOf = (s: SegmentId): string => `${s.number}.${s.epoch}`;
export const sameSegment = (a: SegmentId, b: SegmentId): boolean => a.number === b.number && a.epoch === b.epoch;
export const nameOf = (scope: string, stream: string, s: SegmentId): string => segmentName(scope, stream, s.number, s.epoch);
export const overlaps = (a: KeyedSegment, b: KeyedSegment): boolean => a.keyStart < b.keyEnd && b.keyStart < a.keyEnd;

export function rangeOf(scope: string, stream: string, s: KeyedSegment): SegmentRange {
  return { segment: nameOf(scope, stream, s), number: s.number, epoch: s.epoch, keyStart: s.keyStart, keyEnd: s.keyEnd };
}

/** Every record is produced by this module's callers from bounded inputs; one that would not fit the store is a bug. */
export function encodeRecord(value: StreamRecord | EpochRecord | ScopeRecord): Buffer {
  const bytes = Buffer.from(JSON.stringify(value), "utf8");
  assert(bytes.length <= metadataValueBytesMax, `a metadata record of ${bytes.length} bytes exceeds ${metadataValueBytesMax}`);
  return bytes;
}

function parse(kv: KeyValue, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(kv.value.toString("utf8"));
  } catch (err) {
    throw new DataCorruptionError(`${kv.key}: ${what} is not JSON`, { cause: err });
  }
  if (value === null || typeof value !== "object") throw new DataCorruptionError(`${kv.key}: ${what} is not an object`);
  return value as Record<string, unknown>;
}

const states: readonly string[] = ["creating", "active", "sealing", "sealed", "deleting"];

export function decodeStream(kv: KeyValue): StreamRecord {
  const r = parse(kv, "stream record");
  if (
    typeof r["state"] !== "string" ||
    !states.includes(r["state"]) ||
    typeof r["config"] !== "object" ||
    typeof r["currentEpoch"] !== "number" ||
    typeof r["nextNumber"] !== "number" ||
    typeof r["createdAtMs"] !== "number"
  ) {
    throw new DataCorruptionError(`${kv.key}: stream record does not have the expected fields`);
  }
  return r as unknown as StreamRecord;
}

export function decodeEpoch(kv: KeyValue): EpochRecord {
  const r = parse(kv, "epoch record");
  if (typeof r["epoch"] !== "number" || !Array.isArray(r["segments"]) || !Array.isArray(r["sealed"]) || typeof r["sealedBytesTotal"] !== "number") {
    throw new DataCorruptionError(`${kv.key}: epoch record does not have the expected fields`);
  }
  return r as unknown as EpochRecord;
}

export async function readStream(store: MetadataStore, scope: string, stream: string): Promise<VersionedStream | undefined> {
  const kv = await store.get(streamKey(scope, stream));
  return kv === undefined ? undefined : { record: decodeStream(kv), version: kv.version };
}

/**
 * Reads the stream and checks its state is one of `allowed`. Raises NO_SUCH_STREAM (absent, still
 * being created, being deleted) and STREAM_SEALED (sealing or sealed when those are not allowed).
 */
export async function requireStream(store: MetadataStore, scope: string, stream: string, allowed: readonly StreamState[]): Promise<VersionedStream> {
  const found = await readStream(store, scope, stream);
  checkState(scope, stream, found?.record, allowed);
  assert(found !== undefined);
  return found;
}

export function checkState(scope: string, stream: string, record: StreamRecord | undefined, allowed: readonly StreamState[]): void {
  if (record !== undefined && allowed.includes(record.state)) return;
  if (record !== undefined && (record.state === "sealing" || record.state === "sealed")) {
    throw new StreamSealedError(`stream ${scope}/${stream} is ${record.state}`);
  }
  throw new NoSuchStreamError(`stream ${scope}/${stream} does not exist`);
}

export async function readEpoch(store: MetadataStore, scope: string, stream: string, epoch: number): Promise<EpochRecord | undefined> {
  const kv = await store.get(epochKey(scope, stream, epoch));
  return kv === undefined ? undefined : decodeEpoch(kv);
}

/** Reads an epoch the stream record says exists; raises DATA_CORRUPTION when it is missing. */
export async function requireEpoch(store: MetadataStore, scope: string, stream: string, epoch: number): Promise<EpochRecord> {
  const record = await readEpoch(store, scope, stream, epoch);
  if (record === undefined) throw new DataCorruptionError(`${epochKey(scope, stream, epoch)} is missing: stream ${scope}/${stream} has passed epoch ${epoch}`);
  return record;
}

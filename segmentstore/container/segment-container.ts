/**
 * A segment container: the unit of ownership, recovery and Tier-1 logging. Every change is
 * validated here against the pending state (which counts the operations accepted before it), then
 * queued to the operation processor, logged, and applied once durable (operation-processor.ts).
 * Validation errors are raised before anything is queued, so a refused operation changes nothing.
 *
 * Recovery replays the container's log entries through the same `apply` before `start`; a
 * container stopped by its log (a newer owner fenced it) answers WRONG_HOST from then on.
 *
 * With Tier-2, a StorageWriter (writer/storage-writer.ts) moves held bytes to chunks, and reads
 * below what memory holds are served from Tier-2 through the store's chunk cache.
 */
import { assert, chunksListedMax, ConditionalCheckFailedError, DataCorruptionError, InvalidArgumentError, NoSuchChunkError, InvalidEventNumberError, NoSuchSegmentError, OverloadedError, SegmentExistsError, SegmentSealedError, SegmentTruncatedError, type SluiceError, attributeUpdatesMax, readBytesMax, readWaitMsMax, segmentsPerStoreMax } from "../../common/index.js";
import type { Clock } from "../../common/index.js";
import { skipEvents } from "../../proto/index.js";
import type { ChunkCache } from "../readindex/chunk-cache.js";
import type { TailWaiters } from "../readindex/read-index.js";
import type { ChunkRef } from "../readindex/segment-data.js";
import type { SegmentLoadStats } from "../stats/segment-load.js";
import type { ChunkStorage } from "../tier2/chunk-storage.js";
import { StorageWriter, type FlushPolicy } from "../writer/storage-writer.js";
import { ContainerState, type CacheBudget, type SegmentState } from "./container-state.js";
import { decodeOperations, type Operation } from "./operations.js";
import { OperationProcessor, type CheckpointPolicy, type ContainerLog } from "./operation-processor.js";

export type { CacheBudget } from "./container-state.js";
export type { CheckpointPolicy } from "./operation-processor.js";

export interface AppendResult {
  eventNumber: number;
  segmentLength: number;
}

export interface SegmentInfo {
  name: string;
  startOffset: number;
  length: number;
  sealed: boolean;
  lastModifiedMs: number;
}

export interface ContainerReadResult {
  offset: number;
  data: Buffer;
  atTail: boolean;
  endOfSegment: boolean;
}

export interface AttributeUpdateRequest {
  id: Buffer;
  /** -1 removes the attribute. */
  value: number;
  /** Apply only if the current value (-1: absent) equals `expected`. */
  compare: boolean;
  expected: number;
}

/** Tier-2 for a store's containers: where chunks go, the cache reads go through, and when to flush. */
export interface Tier2Services {
  storage: ChunkStorage;
  cache: ChunkCache;
  flush: FlushPolicy;
}

export interface ContainerServices {
  clock: Clock;
  /** Without it, every byte stays pinned in memory until truncated (unit tests). */
  tier2?: Tier2Services;
  cache: CacheBudget;
  tail: TailWaiters;
  stats: SegmentLoadStats;
  checkpoints: CheckpointPolicy;
  /** The container stopped (fenced, failed, or released); it answers only errors from now on. */
  stopped(container: SegmentContainer, err: SluiceError): void;
}

export class SegmentContainer {
  private readonly state: ContainerState;
  private readonly processor: OperationProcessor;
  private readonly pendingCreates = new Set<string>();
  private writer: StorageWriter | undefined;

  constructor(
    readonly id: number,
    private readonly services: ContainerServices,
  ) {
    this.state = new ContainerState(id, services.clock, services.cache, {
      changed: (segment) => services.tail.notify(segment),
      appended: (segment, events, bytes) => services.stats.record(segment, events, bytes),
      removed: (segment) => services.stats.remove(segment),
      chunksDropped: (chunks) => this.writer?.chunksDropped(chunks),
      flushDue: (s) => this.writer?.flushDue(s),
    });
    this.processor = new OperationProcessor(id, this.state, services.clock, services.checkpoints, (err) => {
      this.writer?.stop();
      for (const name of this.state.segments.keys()) services.tail.notify(name);
      services.stopped(this, err);
    });
  }

  /** Applies one recovered log entry (at log address `address`). Called for every entry, in order, before `start`. */
  replay(address: number, entry: Buffer): void {
    assert(!this.processor.started, "replay happens before start");
    for (const op of decodeOperations(entry, `container ${this.id} entry ${address}`)) this.state.apply(op, false, address);
  }

  /**
   * Starts serving with `log` for new operations (its first entry is a metadata checkpoint), and
   * tiering to Tier-2 as the owner at the log's epoch. Raises DATA_CORRUPTION if the replay left
   * bytes that are neither in memory nor in Tier-2.
   */
  start(durableLog: ContainerLog & { readonly epoch: number }): void {
    this.state.checkCoverage();
    this.processor.start(durableLog);
    const tier2 = this.services.tier2;
    if (tier2 === undefined) return;
    this.writer = new StorageWriter({
      container: this.id,
      epoch: durableLog.epoch,
      storage: tier2.storage,
      cache: tier2.cache,
      policy: tier2.flush,
      clock: this.services.clock,
      state: this.state,
      pinned: this.services.cache,
      record: (segmentId, chunk) => this.recordChunk(segmentId, chunk),
    });
    this.writer.start();
  }

  /** Chunks this owner has written to Tier-2 and recorded (for tests). */
  get flushedChunks(): number {
    return this.writer?.flushedChunks ?? 0;
  }

  /** Logs that `chunk` holds its range of segment `segmentId`; false if that segment takes no more operations. */
  private async recordChunk(segmentId: number, chunk: ChunkRef): Promise<boolean> {
    // Not held to the queue bound: recording a chunk is what frees memory under load.
    const failure = this.processor.failure;
    if (failure !== undefined) throw failure;
    const s = this.state.byId.get(segmentId);
    if (s === undefined || s.deletePending) return false;
    await this.processor.enqueue({ kind: "ChunkAdded", segmentId, chunk });
    return true;
  }

  /** Stops serving: queued operations fail with `reason`, and so does everything after. */
  stop(reason: SluiceError): void {
    this.processor.stop(reason);
  }

  /**
   * Drops every segment's bytes and gives them back to the store's pinned count. Only after
   * `stop` (or a failed recovery): the next owner rebuilds them from the log.
   */
  releaseMemory(): void {
    assert(this.processor.failure !== undefined || !this.processor.started, "memory is released only by a stopped container");
    for (const name of this.state.segments.keys()) this.services.tail.notify(name);
    this.state.releaseAll();
  }

  get segmentCount(): number {
    return this.state.segments.size;
  }

  /** Every segment served here (for load statistics and tests). */
  segmentNames(): string[] {
    return [...this.state.segments.keys()];
  }

  get checkpointsLoaded(): number {
    return this.state.checkpointsLoaded;
  }

  get checkpointsWritten(): number {
    return this.processor.checkpointsWritten;
  }

  /** Creates an empty segment. Raises SEGMENT_EXISTS. Resolves once durable. */
  createSegment(name: string): Promise<void> {
    const refused = this.processor.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (this.state.segments.has(name) || this.pendingCreates.has(name)) {
      return Promise.reject(new SegmentExistsError(`segment ${name} exists`));
    }
    if (this.state.segments.size + this.pendingCreates.size >= segmentsPerStoreMax) {
      return Promise.reject(new OverloadedError(`container ${this.id} holds ${segmentsPerStoreMax} segments`));
    }
    this.pendingCreates.add(name);
    const op: Operation = { kind: "CreateSegment", segmentId: this.state.nextSegmentId++, name };
    return this.processor
      .enqueue(op)
      .then(() => {
        // Load statistics report a new segment at rate 0 before its first append (unless it was deleted at once).
        if (this.state.segments.has(name)) this.services.stats.track(name);
      })
      .finally(() => this.pendingCreates.delete(name));
  }

  /** The last event number stored (durable) for `writerId` on `name`, or -1. Raises NO_SUCH_SEGMENT. */
  lastEventNumber(name: string, writerId: Buffer): number {
    return this.durableSegment(name).writers.durable(writerId);
  }

  /**
   * Appends validated events `data` (events `lastEventNumber - eventCount + 1 .. lastEventNumber`
   * of `writerId`), only at `expectedOffset` if given. Events already stored or queued for this
   * writer are dropped, so a resend is applied at most once; the promise still resolves only once
   * the original is durable.
   *
   * Validation errors (NO_SUCH_SEGMENT, SEGMENT_SEALED, INVALID_EVENT_NUMBER for a gap in the
   * writer's numbers, CONDITIONAL_CHECK_FAILED, OVERLOADED, CONTAINER_NOT_READY, WRONG_HOST) are
   * thrown synchronously, so the front end can stop the writer's next blocks before they are
   * dispatched: a writer's events are applied without gaps, which is what lets a resend start
   * right after the stored number.
   */
  append(name: string, writerId: Buffer, lastEventNumber: number, eventCount: number, data: Buffer, expectedOffset?: number): Promise<AppendResult> {
    const refused = this.processor.refusal();
    if (refused !== undefined) throw refused;
    const s = this.pendingSegment(name);
    const firstEventNumber = lastEventNumber - eventCount + 1;
    const known = s.writers.latest(writerId);
    if (eventCount < 1 || firstEventNumber < 0 || firstEventNumber > known + 1) {
      throw new InvalidEventNumberError(
        `events ${firstEventNumber}..${lastEventNumber} of writer ${writerId.toString("hex")} do not follow its last stored event ${known} on ${name}`,
      );
    }
    const result = () => ({ eventNumber: lastEventNumber, segmentLength: s.data.length });
    if (lastEventNumber <= known) return this.processor.enqueue(undefined).then(result);
    if (s.sealPending) throw new SegmentSealedError(`segment ${name} is sealed`);
    if (expectedOffset !== undefined && expectedOffset !== s.pendingLength) {
      throw new ConditionalCheckFailedError(`${name} is ${s.pendingLength} bytes long, not ${expectedOffset}: nothing was appended`);
    }
    let events = data;
    let count = eventCount;
    if (firstEventNumber <= known) {
      // Part of this block was stored before (a resend after reconnect that was re-batched).
      const skip = known - firstEventNumber + 1;
      events = skipEvents(data, skip);
      count -= skip;
    }
    s.writers.setPending(writerId, lastEventNumber);
    s.pendingLength += events.length;
    const op: Operation = { kind: "Append", segmentId: s.id, writerId, lastEventNumber, eventCount: count, data: events };
    if (expectedOffset !== undefined) op.expectedOffset = expectedOffset;
    return this.processor.enqueue(op).then(result);
  }

  /** Seals `name` (idempotent); resolves with its final length. */
  async seal(name: string): Promise<number> {
    const s = this.accept(name);
    if (!s.sealPending) {
      s.sealPending = true;
      await this.processor.enqueue({ kind: "Seal", segmentId: s.id });
    } else {
      await this.processor.enqueue(undefined);
    }
    return s.data.length;
  }

  /**
   * Moves the start offset of `name` to `offset`; resolves with the start offset after it. At or
   * below the current start it changes nothing. Raises INVALID_ARGUMENT past the length.
   */
  async truncate(name: string, offset: number): Promise<number> {
    const s = this.accept(name);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > s.pendingLength) {
      throw new InvalidArgumentError(`cannot truncate ${name} at ${offset}: it is ${s.pendingLength} bytes long`);
    }
    if (offset <= s.pendingStartOffset) {
      await this.processor.enqueue(undefined);
    } else {
      s.pendingStartOffset = offset;
      await this.processor.enqueue({ kind: "Truncate", segmentId: s.id, startOffset: offset });
    }
    return s.data.startOffset;
  }

  /**
   * Seals `source`, appends all its bytes to `target` and deletes `source` (a transaction commit);
   * resolves with the target's length after it. Both must live in this container.
   */
  async merge(target: string, source: string): Promise<number> {
    const t = this.accept(target);
    const s = this.pendingSegment(source);
    if (t === s) throw new InvalidArgumentError(`cannot merge ${source} into itself`);
    if (t.sealPending) throw new SegmentSealedError(`merge target ${target} is sealed`);
    if (s.pendingStartOffset > 0) throw new InvalidArgumentError(`merge source ${source} was truncated; only a whole segment can be merged`);
    s.deletePending = true;
    t.pendingLength += s.pendingLength;
    await this.processor.enqueue({ kind: "Merge", targetId: t.id, sourceId: s.id });
    return t.data.length;
  }

  /** Deletes `name` and its data. */
  async deleteSegment(name: string): Promise<void> {
    const s = this.accept(name);
    s.deletePending = true;
    await this.processor.enqueue({ kind: "Delete", segmentId: s.id });
  }

  /**
   * Applies `updates` atomically: if any compare fails, CONDITIONAL_CHECK_FAILED and nothing
   * changes. Raises INVALID_ARGUMENT for bad values or past the per-segment bound.
   */
  async updateAttributes(name: string, updates: readonly AttributeUpdateRequest[]): Promise<void> {
    const s = this.accept(name);
    if (updates.length < 1 || updates.length > attributeUpdatesMax) throw new InvalidArgumentError(`an attribute update holds 1 to ${attributeUpdatesMax} attributes, not ${updates.length}`);
    const seen = new Set<string>();
    for (const u of updates) {
      const key = u.id.toString("hex");
      if (u.id.length !== 16 || seen.has(key)) throw new InvalidArgumentError(`attribute ids must be 16 bytes and distinct within an update (${key})`);
      seen.add(key);
      for (const v of [u.value, u.expected]) {
        if (!Number.isSafeInteger(v) || v < -1) throw new InvalidArgumentError(`attribute ${key}: value ${v} is not in [-1, 2^53-1]`);
      }
      const current = s.attributes.latest(u.id);
      if (u.compare && current !== u.expected) {
        throw new ConditionalCheckFailedError(`attribute ${key} of ${name} is ${current}, not ${u.expected}: nothing was updated`);
      }
    }
    s.attributes.checkBound(updates, name);
    const values = updates.map((u) => ({ id: u.id, value: u.value }));
    s.attributes.setPending(values);
    await this.processor.enqueue({ kind: "UpdateAttributes", segmentId: s.id, updates: values });
  }

  /** Durable values of attributes `ids` (-1: absent). */
  getAttributes(name: string, ids: readonly Buffer[]): number[] {
    const s = this.durableSegment(name);
    return ids.map((id) => s.attributes.durable(id));
  }

  /** Raises NO_SUCH_SEGMENT. */
  info(name: string): SegmentInfo {
    const s = this.durableSegment(name);
    return { name, startOffset: s.data.startOffset, length: s.data.length, sealed: s.sealed, lastModifiedMs: s.lastModifiedMs };
  }

  /**
   * The Tier-2 chunks holding bytes of `name` at or after `offset`, in offset order, at most
   * `maxCount` (lowered to chunksListedMax): first the one holding `offset`, if a chunk does. Only
   * chunks whose record is durable are listed (wire.md, "Tier-2 chunks"). Raises NO_SUCH_SEGMENT,
   * SEGMENT_TRUNCATED, INVALID_ARGUMENT (offset past the end, maxCount below 1).
   */
  chunks(name: string, offset: number, maxCount: number): ChunkRef[] {
    if (!Number.isInteger(maxCount) || maxCount < 1) throw new InvalidArgumentError(`maxCount ${maxCount} must be at least 1`);
    const s = this.durableSegment(name);
    this.checkReadable(s, offset);
    // Chunks never overlap and are kept in offset order, so their ends are in order too: find the first ending after `offset`.
    const all = s.data.chunks;
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = all[mid]!;
      if (c.offset + c.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return all.slice(lo, lo + Math.min(maxCount, chunksListedMax)).map((c) => ({ ...c }));
  }

  /**
   * Reads up to `maxBytes` durable bytes from `offset`; at the tail waits up to `waitMs` for data.
   * Raises NO_SUCH_SEGMENT, SEGMENT_TRUNCATED, INVALID_ARGUMENT (offset past the end, bad sizes).
   */
  async read(name: string, offset: number, maxBytes: number, waitMs: number): Promise<ContainerReadResult> {
    if (maxBytes < 1 || maxBytes > readBytesMax) throw new InvalidArgumentError(`maxBytes must be in [1, ${readBytesMax}]`);
    if (waitMs < 0 || waitMs > readWaitMsMax) throw new InvalidArgumentError(`waitMs must be in [0, ${readWaitMsMax}]`);
    let s = this.durableSegment(name);
    this.checkReadable(s, offset);
    if (offset === s.data.length && !s.sealed && waitMs > 0) {
      await this.services.tail.wait(name, waitMs);
      s = this.durableSegment(name);
      this.checkReadable(s, offset);
    }
    let data = s.data.read(offset, maxBytes);
    if (data === undefined) {
      data = await this.readTiered(s, offset, maxBytes);
      s = this.durableSegment(name);
    }
    const atTail = offset + data.length === s.data.length;
    return { offset, data, atTail, endOfSegment: atTail && s.sealed };
  }

  /** Bytes from `offset` of a chunk in Tier-2 (through the chunk cache). */
  private async readTiered(s: SegmentState, offset: number, maxBytes: number): Promise<Buffer> {
    const at = s.data.chunkAt(offset);
    const cache = this.services.tier2?.cache;
    if (at === undefined || cache === undefined) throw new DataCorruptionError(`${s.name}: offset ${offset} is neither in memory nor in a Tier-2 chunk`);
    try {
      return await cache.read(at.chunk, offset - at.chunk.offset, maxBytes, at.next);
    } catch (err) {
      if (!(err instanceof NoSuchChunkError)) throw err;
      // Truncated meanwhile (its chunks were deleted), or a chunk the metadata needs is gone.
      this.checkReadable(this.durableSegment(s.name), offset);
      throw new DataCorruptionError(`${s.name}: chunk ${at.chunk.name} (bytes ${at.chunk.offset}..${at.chunk.offset + at.chunk.length}) is missing from Tier-2`, { cause: err });
    }
  }

  private checkReadable(s: SegmentState, offset: number): void {
    if (offset < s.data.startOffset) throw new SegmentTruncatedError(`${s.name} starts at ${s.data.startOffset}; offset ${offset} is truncated`);
    if (offset > s.data.length) throw new InvalidArgumentError(`offset ${offset} is past the end of ${s.name} (length ${s.data.length})`);
  }

  /** A segment that exists durably, for reads; raises WRONG_HOST/CONTAINER_NOT_READY once stopped. */
  private durableSegment(name: string): SegmentState {
    const failure = this.processor.failure;
    if (failure !== undefined) throw failure;
    const s = this.state.segments.get(name);
    if (s === undefined) throw new NoSuchSegmentError(`segment ${name} does not exist`);
    return s;
  }

  /** A segment that takes operations (no delete or merge accepted for it). */
  private pendingSegment(name: string): SegmentState {
    const s = this.state.segments.get(name);
    if (s === undefined || s.deletePending) throw new NoSuchSegmentError(`segment ${name} does not exist`);
    return s;
  }

  /** Checks that a new operation on `name` may be queued. */
  private accept(name: string): SegmentState {
    const refused = this.processor.refusal();
    if (refused !== undefined) throw refused;
    return this.pendingSegment(name);
  }
}

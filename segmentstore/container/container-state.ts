/**
 * A container's segments: metadata (lengths, start offsets, seals, writer event numbers,
 * attributes) and their bytes in the read index, changed only by applying durable operations in
 * log order. The live path and recovery call the same `apply`, so state after a restart equals
 * state before it.
 *
 * Each segment also carries a pending view (length, start offset, seal, delete counting accepted
 * operations not yet durable) against which the container validates new operations; applying an
 * operation makes the durable view catch up with it.
 *
 * A segment's bytes are held in memory until a chunk in Tier-2 holds them (segment-data.ts); the
 * chunk is recorded by a logged ChunkAdded operation, whose apply drops the held bytes.
 *
 * Metadata checkpoints: `checkpointOps` describes the whole state (with every segment's chunks) as
 * operations written to the log back to back. During recovery:
 * - a complete checkpoint that is the first thing replayed is the base state: the log was
 *   truncated there (invariant 2 let it be, since everything appended before it is in Tier-2), so
 *   the segments, their lengths and chunks are loaded from it and the rest of the log replays on
 *   top; `checkCoverage` then proves every byte is in memory or in a chunk;
 * - a later complete checkpoint is checked against the state the replay built (a mismatch is
 *   DATA_CORRUPTION: the log and its checkpoint disagree), and its writer and attribute tables are
 *   loaded.
 */
import { assert, DataCorruptionError, unreachable, type Clock } from "../../common/index.js";
import { SegmentData, type ChunkRef } from "../readindex/segment-data.js";
import { AttributeTable } from "./attribute-table.js";
import type { CheckpointSegment, Operation } from "./operations.js";
import { WriterTable } from "./writer-table.js";

/** Bytes the read indexes of all containers of a store hold, against one pinned bound. */
export interface CacheBudget {
  usedBytes: number;
  readonly maxBytes: number;
}

export interface SegmentState {
  readonly id: number;
  readonly name: string;
  readonly data: SegmentData;
  sealed: boolean;
  lastModifiedMs: number;
  readonly writers: WriterTable;
  readonly attributes: AttributeTable;
  /** Length counting accepted appends and merges not yet durable. */
  pendingLength: number;
  pendingStartOffset: number;
  sealPending: boolean;
  /** A delete, or a merge into another segment, is accepted: the segment takes no more operations. */
  deletePending: boolean;
}

export interface StateHooks {
  /** The segment changed (data, seal, delete): wake its tail readers. */
  changed(segment: string): void;
  /** A live (not replayed) append of `events` events, `bytes` bytes: load statistics. */
  appended(segment: string, events: number, bytes: number): void;
  /** The segment is gone (deleted or merged away). */
  removed(segment: string): void;
  /** Live only: Tier-2 chunks no metadata references any more (truncated, deleted, or recorded too late). */
  chunksDropped(chunks: readonly ChunkRef[]): void;
  /** Live only: the segment was sealed or merged into; its held bytes should go to Tier-2 now. */
  flushDue(segment: SegmentState): void;
}

interface CollectingCheckpoint {
  segmentCount: number;
  nextSegmentId: number;
  segments: CheckpointSegment[];
  chunks: Map<number, ChunkRef[]>;
}

/** Chunks per CheckpointChunks operation, so that one stays well under an entry's size. */
const checkpointChunksPerOp = 256;

export class ContainerState {
  readonly segments = new Map<string, SegmentState>();
  readonly byId = new Map<number, SegmentState>();
  /** Ids of segments that may hold bytes not yet in Tier-2 (the storage writer's worklist). */
  readonly unflushed = new Set<number>();
  nextSegmentId = 1;
  private collecting: CollectingCheckpoint | undefined;
  /** Complete checkpoints loaded during recovery (for tests and the recovery log line). */
  checkpointsLoaded = 0;

  constructor(
    private readonly containerId: number,
    private readonly clock: Clock,
    private readonly cache: CacheBudget,
    private readonly hooks: StateHooks,
  ) {}

  private byIdOrBug(id: number, op: string): SegmentState {
    const s = this.byId.get(id);
    assert(s !== undefined, `container ${this.containerId}: ${op} of unknown segment id ${id}`);
    return s;
  }

  /**
   * Applies a durable operation, read from (or written to) the log entry at `address`: `live` on
   * the write path, not during recovery.
   */
  apply(op: Operation, live: boolean, address: number): void {
    if (this.collecting !== undefined && op.kind !== "CheckpointSegment" && op.kind !== "CheckpointChunks" && op.kind !== "CheckpointEnd") {
      // The owner that wrote this checkpoint died before finishing it; the next owner's
      // operations follow. A partial checkpoint is never used.
      this.collecting = undefined;
    }
    switch (op.kind) {
      case "CreateSegment": {
        this.add(op.segmentId, op.name, new SegmentData(), false, this.clock.nowMs());
        return;
      }
      case "Append": {
        const s = this.byIdOrBug(op.segmentId, "append");
        assert(!s.sealed, `append to sealed segment ${s.name}`);
        assert(op.expectedOffset === undefined || op.expectedOffset === s.data.length, `conditional append to ${s.name} at ${op.expectedOffset}, length ${s.data.length}`);
        // A slice of a larger socket or journal buffer would keep all of it alive; keep a copy then.
        const data = op.data.length * 2 < op.data.buffer.byteLength ? Buffer.from(op.data) : op.data;
        s.data.append(data, address);
        this.cache.usedBytes += data.length;
        this.unflushed.add(s.id);
        s.pendingLength = Math.max(s.pendingLength, s.data.length);
        s.writers.setDurable(op.writerId, op.lastEventNumber);
        s.lastModifiedMs = this.clock.nowMs();
        if (live) this.hooks.appended(s.name, op.eventCount, data.length);
        this.hooks.changed(s.name);
        return;
      }
      case "Seal": {
        const s = this.byIdOrBug(op.segmentId, "seal");
        s.sealed = true;
        s.sealPending = true;
        s.lastModifiedMs = this.clock.nowMs();
        this.hooks.changed(s.name);
        if (live) this.hooks.flushDue(s);
        return;
      }
      case "Truncate": {
        const s = this.byIdOrBug(op.segmentId, "truncate");
        assert(op.startOffset <= s.data.length, `truncate ${s.name} at ${op.startOffset} past its length ${s.data.length}`);
        if (op.startOffset > s.data.startOffset) {
          const { released, dropped } = s.data.truncate(op.startOffset);
          this.cache.usedBytes -= released;
          if (live && dropped.length > 0) this.hooks.chunksDropped(dropped);
        }
        s.pendingStartOffset = Math.max(s.pendingStartOffset, s.data.startOffset);
        s.lastModifiedMs = this.clock.nowMs();
        return;
      }
      case "Merge": {
        const target = this.byIdOrBug(op.targetId, "merge target");
        const source = this.byIdOrBug(op.sourceId, "merge source");
        assert(!target.sealed && target !== source, `merge ${source.name} into ${target.name}`);
        target.data.appendFrom(source.data);
        target.pendingLength = Math.max(target.pendingLength, target.data.length);
        target.lastModifiedMs = this.clock.nowMs();
        this.remove(source);
        this.unflushed.add(target.id);
        this.hooks.changed(target.name);
        if (live) this.hooks.flushDue(target);
        return;
      }
      case "Delete": {
        const s = this.byIdOrBug(op.segmentId, "delete");
        this.cache.usedBytes -= s.data.heldBytes;
        if (live && s.data.chunks.length > 0) this.hooks.chunksDropped(s.data.chunks);
        this.remove(s);
        return;
      }
      case "ChunkAdded": {
        const s = this.byId.get(op.segmentId);
        const c = op.chunk;
        // Recorded after its segment was deleted, merged away, or truncated past it, or (a bug)
        // overlapping a chunk already there: nothing references it, so it goes.
        if (s === undefined || c.offset + c.length <= s.data.startOffset || s.data.overlapsChunk(c)) {
          if (live) this.hooks.chunksDropped([c]);
          return;
        }
        assert(c.offset + c.length <= s.data.length, `chunk ${c.name} of ${s.name} ends past its length ${s.data.length}`);
        this.cache.usedBytes -= s.data.addChunk(c);
        return;
      }
      case "UpdateAttributes": {
        const s = this.byIdOrBug(op.segmentId, "attribute update");
        s.attributes.apply(op.updates, live);
        s.lastModifiedMs = this.clock.nowMs();
        return;
      }
      case "CheckpointBegin":
        if (!live) this.collecting = { segmentCount: op.segmentCount, nextSegmentId: op.nextSegmentId, segments: [], chunks: new Map() };
        return;
      case "CheckpointSegment":
        this.collecting?.segments.push(op);
        return;
      case "CheckpointChunks": {
        const list = this.collecting?.chunks;
        if (list !== undefined) list.set(op.segmentId, [...(list.get(op.segmentId) ?? []), ...op.chunks]);
        return;
      }
      case "CheckpointEnd": {
        const c = this.collecting;
        this.collecting = undefined;
        if (c !== undefined) this.loadCheckpoint(c, op.segmentCount);
        return;
      }
      default:
        unreachable(op, "operation");
    }
  }

  private add(id: number, name: string, data: SegmentData, sealed: boolean, lastModifiedMs: number): SegmentState {
    assert(!this.segments.has(name), `segment ${name} created twice`);
    const s: SegmentState = {
      id,
      name,
      data,
      sealed,
      lastModifiedMs,
      writers: new WriterTable(),
      attributes: new AttributeTable(),
      pendingLength: data.length,
      pendingStartOffset: data.startOffset,
      sealPending: sealed,
      deletePending: false,
    };
    this.segments.set(name, s);
    this.byId.set(id, s);
    this.nextSegmentId = Math.max(this.nextSegmentId, id + 1);
    return s;
  }

  private remove(s: SegmentState): void {
    this.segments.delete(s.name);
    this.byId.delete(s.id);
    this.unflushed.delete(s.id);
    this.hooks.removed(s.name);
    this.hooks.changed(s.name);
  }

  /** Gives back every byte this container holds to the store's pinned count (it stops serving). */
  releaseAll(): void {
    for (const s of this.byId.values()) this.cache.usedBytes -= s.data.heldBytes;
    this.segments.clear();
    this.byId.clear();
    this.unflushed.clear();
  }

  /** The oldest log address of any byte not yet in Tier-2 (Infinity: all of it is there). */
  oldestUnflushedAddress(): number {
    let min = Infinity;
    for (const id of this.unflushed) min = Math.min(min, this.byId.get(id)?.data.oldestAddress ?? Infinity);
    return min;
  }

  /**
   * After a recovery: every byte of every segment must be in memory or in a Tier-2 chunk. A gap
   * means the log was truncated past bytes Tier-2 does not have: DATA_CORRUPTION.
   */
  checkCoverage(): void {
    for (const s of this.byId.values()) {
      const gaps = s.data.gaps();
      if (gaps.length > 0) {
        const g = gaps[0]!;
        throw new DataCorruptionError(`container ${this.containerId}: bytes ${g.from}..${g.to} of ${s.name} are neither in the log nor in a Tier-2 chunk (${gaps.length} gaps)`);
      }
    }
  }

  /** The whole state as checkpoint operations (Begin, one per segment, End). */
  checkpointOps(): Operation[] {
    const ops: Operation[] = [{ kind: "CheckpointBegin", segmentCount: this.byId.size, nextSegmentId: this.nextSegmentId }];
    for (const s of this.byId.values()) {
      ops.push({
        kind: "CheckpointSegment",
        segmentId: s.id,
        name: s.name,
        startOffset: s.data.startOffset,
        length: s.data.length,
        sealed: s.sealed,
        lastModifiedMs: s.lastModifiedMs,
        writers: s.writers.entries(),
        attributes: s.attributes.entries(),
      });
      const chunks = s.data.chunks;
      for (let i = 0; i < chunks.length; i += checkpointChunksPerOp) {
        ops.push({ kind: "CheckpointChunks", segmentId: s.id, chunks: chunks.slice(i, i + checkpointChunksPerOp) });
      }
    }
    ops.push({ kind: "CheckpointEnd", segmentCount: this.byId.size });
    return ops;
  }

  private loadCheckpoint(c: CollectingCheckpoint, endCount: number): void {
    const corrupt = (why: string) => new DataCorruptionError(`container ${this.containerId}: metadata checkpoint disagrees with the log: ${why}`);
    if (c.segments.length !== c.segmentCount || endCount !== c.segmentCount) {
      throw corrupt(`it announces ${c.segmentCount} segments, holds ${c.segments.length}, ends with ${endCount}`);
    }
    // With no segment built yet, the checkpoint is the base (a replay that starts at a truncation
    // point); a checkpoint of no segments loads the same either way.
    const base = this.byId.size === 0;
    if (!base && c.segmentCount !== this.byId.size) throw corrupt(`it lists ${c.segmentCount} segments, the log built ${this.byId.size}`);
    for (const cp of c.segments) {
      const chunks = c.chunks.get(cp.segmentId) ?? [];
      let s = this.byId.get(cp.segmentId);
      if (base) {
        s = this.add(cp.segmentId, cp.name, new SegmentData(cp.startOffset, cp.length, chunks), cp.sealed, cp.lastModifiedMs);
      } else if (s === undefined || s.name !== cp.name) {
        throw corrupt(`segment ${cp.name} (id ${cp.segmentId}) is not in the log`);
      } else if (s.data.length !== cp.length || s.data.startOffset !== cp.startOffset || s.sealed !== cp.sealed) {
        throw corrupt(`${cp.name}: checkpoint ${cp.startOffset}..${cp.length} sealed=${cp.sealed}, log ${s.data.startOffset}..${s.data.length} sealed=${s.sealed}`);
      } else if (!sameChunks(s.data.chunks, chunks)) {
        throw corrupt(`${cp.name}: checkpoint lists ${chunks.length} chunks, the log built ${s.data.chunks.length} different ones`);
      }
      s.writers.load(cp.writers);
      s.attributes.load(cp.attributes);
      s.lastModifiedMs = cp.lastModifiedMs;
    }
    this.nextSegmentId = Math.max(this.nextSegmentId, c.nextSegmentId);
    this.checkpointsLoaded++;
  }
}

function sameChunks(a: readonly ChunkRef[], b: readonly ChunkRef[]): boolean {
  return a.length === b.length && a.every((x, i) => x.name === b[i]!.name && x.offset === b[i]!.offset && x.length === b[i]!.length);
}

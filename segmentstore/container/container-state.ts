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
 * Metadata checkpoints: `checkpointOps` describes the whole state as operations written to the log
 * back to back. During recovery a complete checkpoint is loaded: writer and attribute tables are
 * taken from it, and every segment's length, start offset and seal are checked against the state
 * the replay built (a mismatch is DATA_CORRUPTION: the log and its checkpoint disagree).
 */
import { assert, DataCorruptionError, unreachable, type Clock } from "../../common/index.js";
import { SegmentData } from "../readindex/read-index.js";
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
}

interface CollectingCheckpoint {
  segmentCount: number;
  nextSegmentId: number;
  segments: CheckpointSegment[];
}

export class ContainerState {
  readonly segments = new Map<string, SegmentState>();
  readonly byId = new Map<number, SegmentState>();
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

  /** Applies a durable operation: `live` on the write path, not during recovery. */
  apply(op: Operation, live: boolean): void {
    if (this.collecting !== undefined && op.kind !== "CheckpointSegment" && op.kind !== "CheckpointEnd") {
      // The owner that wrote this checkpoint died before finishing it; the next owner's
      // operations follow. A partial checkpoint is never used.
      this.collecting = undefined;
    }
    switch (op.kind) {
      case "CreateSegment": {
        assert(!this.segments.has(op.name), `segment ${op.name} created twice`);
        const s: SegmentState = {
          id: op.segmentId,
          name: op.name,
          data: new SegmentData(0),
          sealed: false,
          lastModifiedMs: this.clock.nowMs(),
          writers: new WriterTable(),
          attributes: new AttributeTable(),
          pendingLength: 0,
          pendingStartOffset: 0,
          sealPending: false,
          deletePending: false,
        };
        this.segments.set(op.name, s);
        this.byId.set(op.segmentId, s);
        this.nextSegmentId = Math.max(this.nextSegmentId, op.segmentId + 1);
        return;
      }
      case "Append": {
        const s = this.byIdOrBug(op.segmentId, "append");
        assert(!s.sealed, `append to sealed segment ${s.name}`);
        assert(op.expectedOffset === undefined || op.expectedOffset === s.data.length, `conditional append to ${s.name} at ${op.expectedOffset}, length ${s.data.length}`);
        // A slice of a larger socket or journal buffer would keep all of it alive; keep a copy then.
        const data = op.data.length * 2 < op.data.buffer.byteLength ? Buffer.from(op.data) : op.data;
        s.data.append(data);
        this.cache.usedBytes += data.length;
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
        return;
      }
      case "Truncate": {
        const s = this.byIdOrBug(op.segmentId, "truncate");
        assert(op.startOffset <= s.data.length, `truncate ${s.name} at ${op.startOffset} past its length ${s.data.length}`);
        if (op.startOffset > s.data.startOffset) this.cache.usedBytes -= s.data.truncate(op.startOffset);
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
        this.hooks.changed(target.name);
        return;
      }
      case "Delete": {
        const s = this.byIdOrBug(op.segmentId, "delete");
        this.cache.usedBytes -= s.data.heldBytes;
        this.remove(s);
        return;
      }
      case "UpdateAttributes": {
        const s = this.byIdOrBug(op.segmentId, "attribute update");
        s.attributes.apply(op.updates, live);
        s.lastModifiedMs = this.clock.nowMs();
        return;
      }
      case "CheckpointBegin":
        if (!live) this.collecting = { segmentCount: op.segmentCount, nextSegmentId: op.nextSegmentId, segments: [] };
        return;
      case "CheckpointSegment":
        this.collecting?.segments.push(op);
        return;
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

  private remove(s: SegmentState): void {
    this.segments.delete(s.name);
    this.byId.delete(s.id);
    this.hooks.removed(s.name);
    this.hooks.changed(s.name);
  }

  /** Gives back every byte this container holds to the store's pinned count (it stops serving). */
  releaseAll(): void {
    for (const s of this.byId.values()) this.cache.usedBytes -= s.data.heldBytes;
    this.segments.clear();
    this.byId.clear();
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
    }
    ops.push({ kind: "CheckpointEnd", segmentCount: this.byId.size });
    return ops;
  }

  private loadCheckpoint(c: CollectingCheckpoint, endCount: number): void {
    const corrupt = (why: string) => new DataCorruptionError(`container ${this.containerId}: metadata checkpoint disagrees with the log: ${why}`);
    if (c.segments.length !== c.segmentCount || endCount !== c.segmentCount) {
      throw corrupt(`it announces ${c.segmentCount} segments, holds ${c.segments.length}, ends with ${endCount}`);
    }
    if (c.segmentCount !== this.byId.size) throw corrupt(`it lists ${c.segmentCount} segments, the log built ${this.byId.size}`);
    for (const cp of c.segments) {
      const s = this.byId.get(cp.segmentId);
      if (s === undefined || s.name !== cp.name) {
        // Until Tier-2 holds data, the log is never truncated, so every segment of a checkpoint was
        // built by the replay before it.
        throw corrupt(`segment ${cp.name} (id ${cp.segmentId}) is not in the log`);
      }
      if (s.data.length !== cp.length || s.data.startOffset !== cp.startOffset || s.sealed !== cp.sealed) {
        throw corrupt(`${cp.name}: checkpoint ${cp.startOffset}..${cp.length} sealed=${cp.sealed}, log ${s.data.startOffset}..${s.data.length} sealed=${s.sealed}`);
      }
      s.writers.load(cp.writers);
      s.attributes.load(cp.attributes);
      s.lastModifiedMs = cp.lastModifiedMs;
    }
    this.nextSegmentId = Math.max(this.nextSegmentId, c.nextSegmentId);
    this.checkpointsLoaded++;
  }
}

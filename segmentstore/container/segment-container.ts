/**
 * A segment container: the unit of ownership, recovery and Tier-1 logging. All changes go through
 * its operation processor:
 *
 *   validate against the pending state -> bounded queue -> group commit (every queued operation,
 *   up to ~1 MiB, in one Tier-1 entry; a lone operation goes out at once) -> durable -> apply to
 *   segment metadata and the read index -> wake tail readers -> resolve, in queue order.
 *
 * A few entries are in flight per container (containerInflightEntriesMax); operations arriving
 * meanwhile gather for the next entry, which is what makes batches grow with load without a
 * linger timer, and the next entry waits in the log's queue while one syncs. Recovery replays the
 * container's entries through the same `apply`, so state after a restart equals state before it.
 * An error from the log fails the container for good (fail-stop): nothing is acked after it.
 */
import { assert, unreachable, ContainerNotReadyError, InvalidArgumentError, InvalidEventNumberError, NoSuchSegmentError, OverloadedError, SegmentExistsError, SegmentTruncatedError, StorageFullError, toSluiceError, type SluiceError, containerBatchBytesMax, containerInflightEntriesMax, containerQueueBytesMax, containerQueueOpsMax, readBytesMax, readWaitMsMax, segmentsPerStoreMax, logger } from "../../common/index.js";
import type { Clock } from "../../common/index.js";
import { skipEvents } from "../../proto/index.js";
import { SegmentData, TailWaiters } from "../readindex/read-index.js";
import type { DataLogAppender } from "../tier1/durable-data-log.js";
import { decodeOperations, encodeOperation, operationBytes, type Operation } from "./operations.js";
import { WriterTable } from "./writer-table.js";

const log = logger("container");

/** Bytes held in memory by all containers of a store, against one bound. */
export interface CacheBudget {
  usedBytes: number;
  readonly maxBytes: number;
}

interface SegmentState {
  id: number;
  name: string;
  data: SegmentData;
  sealed: boolean;
  lastModifiedMs: number;
  /** Length including appends queued but not yet durable (for the pinned-bytes check). */
  pendingLength: number;
  writers: WriterTable;
}

interface Pending {
  /** The operation to log, or undefined for a duplicate that only waits for earlier operations. */
  op: Operation | undefined;
  bytes: number;
  done(err: SluiceError | undefined): void;
}

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

export class SegmentContainer {
  private readonly segments = new Map<string, SegmentState>();
  private readonly byId = new Map<number, SegmentState>();
  private readonly pendingCreates = new Set<string>();
  private nextSegmentId = 1;
  private queue: Pending[] = [];
  private queueBytes = 0;
  /** Operations of the Tier-1 entries written and not yet durable, oldest entry first. */
  private readonly inflightBatches: Pending[][] = [];
  private flushScheduled = false;
  private failure: SluiceError | undefined;
  private log: DataLogAppender | undefined;

  constructor(
    readonly id: number,
    private readonly clock: Clock,
    private readonly cache: CacheBudget,
    private readonly tail: TailWaiters,
  ) {}

  /** Applies one recovered log entry. Called for every entry, in order, before `start`. */
  replay(entryId: number, entry: Buffer): void {
    assert(this.log === undefined, "replay happens before start");
    for (const op of decodeOperations(entry, `container ${this.id} entry ${entryId}`)) this.apply(op);
  }

  /** Starts serving with `log` for new operations. */
  start(durableLog: DataLogAppender): void {
    this.log = durableLog;
  }

  get segmentCount(): number {
    return this.segments.size;
  }

  /** Creates an empty segment. Raises SEGMENT_EXISTS. Resolves once durable. */
  createSegment(name: string): Promise<void> {
    const failed = this.checkUsable();
    if (failed !== undefined) return Promise.reject(failed);
    if (this.segments.has(name) || this.pendingCreates.has(name)) {
      return Promise.reject(new SegmentExistsError(`segment ${name} exists`));
    }
    if (this.segments.size + this.pendingCreates.size >= segmentsPerStoreMax) {
      return Promise.reject(new OverloadedError(`container ${this.id} holds ${segmentsPerStoreMax} segments`));
    }
    this.pendingCreates.add(name);
    const op: Operation = { kind: "CreateSegment", segmentId: this.nextSegmentId++, name };
    return this.enqueue(op).finally(() => this.pendingCreates.delete(name));
  }

  /** The last event number stored (durable) for `writerId` on `name`, or -1. Raises NO_SUCH_SEGMENT. */
  lastEventNumber(name: string, writerId: Buffer): number {
    return this.segment(name).writers.durable(writerId);
  }

  /**
   * Appends validated events `data` (events `lastEventNumber - eventCount + 1 .. lastEventNumber`
   * of `writerId`). Events already stored or queued for this writer are dropped, so a resend is
   * applied at most once; the promise still resolves only once the original is durable.
   *
   * Validation errors (NO_SUCH_SEGMENT, SEGMENT_SEALED, INVALID_EVENT_NUMBER for a gap in the
   * writer's numbers, STORAGE_FULL, OVERLOADED, CONTAINER_NOT_READY) are thrown synchronously, so
   * the front end can stop the writer's next blocks before they are dispatched: a writer's events
   * are applied without gaps, which is what lets a resend start right after the stored number.
   */
  append(name: string, writerId: Buffer, lastEventNumber: number, eventCount: number, data: Buffer): Promise<AppendResult> {
    const failed = this.checkUsable();
    if (failed !== undefined) throw failed;
    const s = this.segment(name);
    const firstEventNumber = lastEventNumber - eventCount + 1;
    const known = s.writers.latest(writerId);
    if (eventCount < 1 || firstEventNumber < 0 || firstEventNumber > known + 1) {
      throw new InvalidEventNumberError(
        `events ${firstEventNumber}..${lastEventNumber} of writer ${writerId.toString("hex")} do not follow its last stored event ${known} on ${name}`,
      );
    }
    const result = () => ({ eventNumber: lastEventNumber, segmentLength: s.data.length });
    if (lastEventNumber <= known) return this.enqueue(undefined).then(result);
    let events = data;
    let count = eventCount;
    if (firstEventNumber <= known) {
      // Part of this block was stored before (a resend after reconnect that was re-batched).
      const skip = known - firstEventNumber + 1;
      events = skipEvents(data, skip);
      count -= skip;
    }
    if (this.cache.usedBytes + (s.pendingLength - s.data.length) + events.length > this.cache.maxBytes) {
      throw new StorageFullError(`the read index holds ${this.cache.usedBytes} bytes, its bound is ${this.cache.maxBytes}; raise --cache-bytes-max`);
    }
    s.writers.setPending(writerId, lastEventNumber);
    s.pendingLength += events.length;
    const op: Operation = { kind: "Append", segmentId: s.id, writerId, lastEventNumber, eventCount: count, data: events };
    return this.enqueue(op).then(result);
  }

  /** Raises NO_SUCH_SEGMENT. */
  info(name: string): SegmentInfo {
    const s = this.segment(name);
    return { name, startOffset: s.data.startOffset, length: s.data.length, sealed: s.sealed, lastModifiedMs: s.lastModifiedMs };
  }

  /**
   * Reads up to `maxBytes` durable bytes from `offset`; at the tail waits up to `waitMs` for data.
   * Raises NO_SUCH_SEGMENT, SEGMENT_TRUNCATED, INVALID_ARGUMENT (offset past the end, bad sizes).
   */
  async read(name: string, offset: number, maxBytes: number, waitMs: number): Promise<ContainerReadResult> {
    if (maxBytes < 1 || maxBytes > readBytesMax) throw new InvalidArgumentError(`maxBytes must be in [1, ${readBytesMax}]`);
    if (waitMs < 0 || waitMs > readWaitMsMax) throw new InvalidArgumentError(`waitMs must be in [0, ${readWaitMsMax}]`);
    let s = this.segment(name);
    if (offset < s.data.startOffset) throw new SegmentTruncatedError(`${name} starts at ${s.data.startOffset}; offset ${offset} is truncated`);
    if (offset > s.data.length) throw new InvalidArgumentError(`offset ${offset} is past the end of ${name} (length ${s.data.length})`);
    if (offset === s.data.length && !s.sealed && waitMs > 0) {
      await this.tail.wait(name, waitMs);
      s = this.segment(name);
    }
    const data = s.data.read(offset, maxBytes);
    const atTail = offset + data.length === s.data.length;
    return { offset, data, atTail, endOfSegment: atTail && s.sealed };
  }

  private segment(name: string): SegmentState {
    const s = this.segments.get(name);
    if (s === undefined) throw new NoSuchSegmentError(`segment ${name} does not exist`);
    return s;
  }

  private checkUsable(): SluiceError | undefined {
    if (this.failure !== undefined) return new ContainerNotReadyError(`container ${this.id} has failed: ${this.failure.message}`);
    if (this.log === undefined) return new ContainerNotReadyError(`container ${this.id} is recovering`);
    if (this.queue.length >= containerQueueOpsMax || this.queueBytes >= containerQueueBytesMax) {
      return new OverloadedError(`container ${this.id} has ${this.queue.length} operations (${this.queueBytes} bytes) queued`);
    }
    return undefined;
  }

  private enqueue(op: Operation | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const bytes = op === undefined ? 0 : operationBytes(op);
      this.queue.push({ op, bytes, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.queueBytes += bytes;
      if (this.inflightBatches.length < containerInflightEntriesMax && !this.flushScheduled) {
        // A microtask, not a timer: operations decoded from the same socket read join one entry.
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /**
   * Writes the queued operations as Tier-1 entries (each up to ~1 MiB), keeping at most
   * `containerInflightEntriesMax` entries in flight: while one is being synced the next is already
   * in the log's queue, so the disk never waits for this container's CPU work. The log makes
   * entries durable in append order, so they are applied in that order too.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.inflightBatches.length < containerInflightEntriesMax && this.queue.length > 0 && this.failure === undefined) {
      this.writeEntry();
    }
  }

  private writeEntry(): void {
    const durableLog = this.log;
    assert(durableLog !== undefined, "started");
    let n = 0;
    let bytes = 0;
    const pieces: Buffer[] = [];
    while (n < this.queue.length) {
      const p = this.queue[n]!;
      if (n > 0 && bytes + p.bytes > containerBatchBytesMax) break;
      if (p.op !== undefined) for (const piece of encodeOperation(p.op)) pieces.push(piece);
      bytes += p.bytes;
      n++;
    }
    const batch = this.queue.slice(0, n);
    this.queue = this.queue.slice(n);
    this.queueBytes -= bytes;
    if (pieces.length === 0) {
      // Only duplicates: nothing to log. They are acked with the newest entry in flight (which
      // holds or follows their originals), or at once when every earlier entry is durable.
      const newest = this.inflightBatches[this.inflightBatches.length - 1];
      if (newest !== undefined) newest.push(...batch);
      else for (const p of batch) p.done(undefined);
      return;
    }
    this.inflightBatches.push(batch);
    durableLog.append(pieces).then(
      () => {
        if (this.failure !== undefined) {
          this.fail(this.failure, batch);
          return;
        }
        // The log resolves entries in append order and these handlers run in registration order.
        assert(this.inflightBatches[0] === batch, "entries become durable in order");
        this.inflightBatches.shift();
        for (const p of batch) {
          if (p.op !== undefined) this.apply(p.op);
          p.done(undefined);
        }
        this.flush();
      },
      (err: unknown) => this.fail(toSluiceError(err), batch),
    );
  }

  /** Fail-stop: nothing more is acked; every waiting operation is rejected. */
  private fail(err: SluiceError, batch: Pending[]): void {
    if (this.failure !== undefined) {
      for (const p of batch) p.done(new ContainerNotReadyError(`container ${this.id} has failed: ${this.failure.message}`, { cause: err }));
      return;
    }
    this.failure = err;
    log.error("container failed; it accepts no more operations", { container: this.id, error: err });
    const rejected = new ContainerNotReadyError(`container ${this.id} has failed: ${err.message}`, { cause: err });
    for (const p of [...batch, ...this.queue]) p.done(rejected);
    this.queue = [];
    this.queueBytes = 0;
    this.tail.notifyAll();
  }

  /** Applies a durable operation to metadata and the read index (live path and recovery alike). */
  private apply(op: Operation): void {
    switch (op.kind) {
      case "CreateSegment": {
        assert(!this.segments.has(op.name), `segment ${op.name} created twice`);
        const s: SegmentState = {
          id: op.segmentId,
          name: op.name,
          data: new SegmentData(0),
          sealed: false,
          lastModifiedMs: this.clock.nowMs(),
          pendingLength: 0,
          writers: new WriterTable(),
        };
        this.segments.set(op.name, s);
        this.byId.set(op.segmentId, s);
        this.nextSegmentId = Math.max(this.nextSegmentId, op.segmentId + 1);
        return;
      }
      case "Append": {
        const s = this.byId.get(op.segmentId);
        assert(s !== undefined, `append to unknown segment id ${op.segmentId}`);
        // A slice of a larger socket or journal buffer would keep all of it alive; keep a copy then.
        const data = op.data.length * 2 < op.data.buffer.byteLength ? Buffer.from(op.data) : op.data;
        s.data.append(data);
        this.cache.usedBytes += data.length;
        s.pendingLength = Math.max(s.pendingLength, s.data.length);
        s.writers.setDurable(op.writerId, op.lastEventNumber);
        s.lastModifiedMs = this.clock.nowMs();
        this.tail.notify(s.name);
        return;
      }
      default:
        unreachable(op, "operation");
    }
  }
}

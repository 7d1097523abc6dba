/**
 * A container's operation processor:
 *
 *   bounded queue -> group commit (every queued operation, up to ~1 MiB, in one Tier-1 entry; a
 *   lone operation goes out at once, no linger timer) -> durable -> apply to the state -> resolve,
 *   in queue order.
 *
 * A few entries are in flight (containerInflightEntriesMax); operations arriving meanwhile gather
 * for the next entry, which is what makes batches grow with load, and the next entry waits in the
 * log's queue while one syncs.
 *
 * Metadata checkpoints: after `checkpointBytes` logged or `checkpointOps` operations, at start, and
 * every `checkpointIntervalMs` when anything changed, the processor lets the entries in flight
 * become durable and applied (new operations wait in the queue meanwhile), then writes the whole
 * state as checkpoint operations before anything else. The state it describes is then exactly the
 * state after every operation logged before it.
 *
 * Tier-1 truncation (invariant 2): the log is truncated at the first entry of a durable checkpoint
 * C once no byte appended before C is held outside Tier-2 (the state's oldest unflushed address is
 * at or past C). Recovery then starts at C, with the checkpoint as its base state. It is tried
 * after a checkpoint is durable and after a chunk is recorded, one truncation at a time.
 *
 * An error from the log stops the processor for good (fail-stop): nothing is acked after it and
 * every waiting operation is rejected. `stop` does the same on purpose (the container moved).
 *
 * A full disk under the log (the log's `storageFull`) is not an error yet: new operations are
 * refused STORAGE_FULL at once (clients back off and retry) while the log holds what it has; if
 * the log then fails STORAGE_FULL, the processor stops with that code, so clients learn why.
 */
import { assert, toSluiceError, ContainerNotReadyError, OverloadedError, StorageFullError, WrongHostError, type SluiceError, containerBatchBytesMax, containerInflightEntriesMax, containerQueueBytesMax, containerQueueOpsMax, logger } from "../../common/index.js";
import type { Clock, TimerHandle } from "../../common/index.js";
import type { DurableDataLog } from "../tier1/durable-data-log.js";
import type { ContainerState } from "./container-state.js";
import { encodeOperation, operationBytes, type Operation } from "./operations.js";

const log = logger("container");

/** What a container writes through: appends, and truncation below what Tier-2 holds. */
export type ContainerLog = Pick<DurableDataLog, "append" | "truncate" | "storageFull">;

/** Durable checkpoints remembered as truncation points (the newest ones). */
const truncationPointsMax = 16;

export interface CheckpointPolicy {
  checkpointBytes: number;
  checkpointOps: number;
  checkpointIntervalMs: number;
}

interface Pending {
  /** The operation to log, or undefined for one that only waits for the operations before it. */
  op: Operation | undefined;
  bytes: number;
  done(err: SluiceError | undefined): void;
}

export class OperationProcessor {
  private queue: Pending[] = [];
  private queueBytes = 0;
  /** Operations of the Tier-1 entries written and not yet durable, oldest entry first. */
  private readonly inflightBatches: Pending[][] = [];
  private flushScheduled = false;
  private log: ContainerLog | undefined;
  /** First-entry addresses of durable checkpoints not yet truncated at, oldest first. */
  private checkpointAddresses: number[] = [];
  private truncating = false;
  private truncateAgain = false;
  /** The address the log was last truncated at (0: never by this owner). */
  truncatedAt = 0;
  private stopped: SluiceError | undefined;
  private checkpointDue = false;
  private bytesSinceCheckpoint = 0;
  private opsSinceCheckpoint = 0;
  private timer: TimerHandle | undefined;
  /** Checkpoints written (for tests and logs). */
  checkpointsWritten = 0;

  constructor(
    private readonly containerId: number,
    private readonly state: ContainerState,
    private readonly clock: Clock,
    private readonly policy: CheckpointPolicy,
    private readonly onStopped: (err: SluiceError) => void,
  ) {}

  /** Starts logging through `durableLog`; the first entry is a checkpoint of the recovered state. */
  start(durableLog: ContainerLog): void {
    assert(this.log === undefined, "started once");
    this.log = durableLog;
    this.checkpointDue = true;
    this.flushSoon();
    this.armTimer();
  }

  get started(): boolean {
    return this.log !== undefined;
  }

  /** Why the processor stopped, if it has. */
  get failure(): SluiceError | undefined {
    return this.stopped;
  }

  /** The error a new operation gets now, if any: stopped, recovering, the log's disk full, or the queue bound. */
  refusal(): SluiceError | undefined {
    if (this.stopped !== undefined) return this.stopped;
    if (this.log === undefined) return new ContainerNotReadyError(`container ${this.containerId} is recovering`);
    const full = this.log.storageFull;
    if (full !== undefined) return full;
    if (this.queue.length >= containerQueueOpsMax || this.queueBytes >= containerQueueBytesMax) {
      return new OverloadedError(`container ${this.containerId} has ${this.queue.length} operations (${this.queueBytes} bytes) queued`);
    }
    return undefined;
  }

  /** Queues `op` (validated by the caller); resolves once it is durable and applied. */
  enqueue(op: Operation | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const bytes = op === undefined ? 0 : operationBytes(op);
      this.queue.push({ op, bytes, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.queueBytes += bytes;
      this.flushSoon();
    });
  }

  private flushSoon(): void {
    if (this.inflightBatches.length < containerInflightEntriesMax && !this.flushScheduled && this.log !== undefined) {
      // A microtask, not a timer: operations decoded from the same socket read join one entry.
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private armTimer(): void {
    this.timer = this.clock.setTimer(this.policy.checkpointIntervalMs, () => {
      if (this.stopped !== undefined) return;
      if (this.opsSinceCheckpoint > 0) {
        this.checkpointDue = true;
        this.flushSoon();
      }
      this.armTimer();
    });
  }

  /** Writes queued operations as entries, keeping at most `containerInflightEntriesMax` in flight. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.checkpointDue) {
      // The checkpoint must describe the state after every entry before it: wait for those.
      if (this.inflightBatches.length > 0 || this.stopped !== undefined) return;
      this.writeCheckpoint();
    }
    while (this.inflightBatches.length < containerInflightEntriesMax && this.queue.length > 0 && this.stopped === undefined && !this.checkpointDue) {
      this.writeEntry();
    }
  }

  private writeCheckpoint(): void {
    this.checkpointDue = false;
    this.bytesSinceCheckpoint = 0;
    this.opsSinceCheckpoint = 0;
    this.checkpointsWritten++;
    let pieces: Buffer[] = [];
    let bytes = 0;
    let firstAddress: number | undefined;
    // The first entry's address is the truncation point (recovery must begin at the Begin), but
    // only once the last entry is durable too: a torn checkpoint is never a place to start from.
    const flushPieces = (last: boolean) => {
      this.writeBatch(pieces, [], (address) => {
        firstAddress ??= address;
        if (last) this.checkpointDurable(firstAddress);
      });
      pieces = [];
      bytes = 0;
    };
    for (const op of this.state.checkpointOps()) {
      const encoded = encodeOperation(op);
      const n = encoded.reduce((sum, b) => sum + b.length, 0);
      if (bytes > 0 && bytes + n > containerBatchBytesMax) flushPieces(false);
      pieces.push(...encoded);
      bytes += n;
    }
    flushPieces(true);
  }

  private checkpointDurable(address: number): void {
    this.checkpointAddresses.push(address);
    if (this.checkpointAddresses.length > truncationPointsMax) this.checkpointAddresses.shift();
    this.truncateLog();
  }

  /**
   * Truncates the log at the newest durable checkpoint below every byte not yet in Tier-2, if
   * that is past the last truncation. Runs one truncation at a time; a failure is logged and the
   * next chance retries (the log itself fails the container if it was fenced).
   */
  truncateLog(): void {
    const durableLog = this.log;
    if (durableLog === undefined || this.stopped !== undefined) return;
    if (this.truncating) {
      this.truncateAgain = true;
      return;
    }
    const oldest = this.state.oldestUnflushedAddress();
    const points = this.checkpointAddresses.filter((a) => a <= oldest && a > this.truncatedAt);
    const at = points[points.length - 1];
    if (at === undefined) return;
    this.truncating = true;
    durableLog.truncate(at).then(
      () => {
        this.truncatedAt = at;
        this.checkpointAddresses = this.checkpointAddresses.filter((a) => a > at);
      },
      (err: unknown) => {
        if (this.stopped === undefined) log.warn("cannot truncate the container log yet", { container: this.containerId, address: at, error: toSluiceError(err).message });
      },
    ).finally(() => {
      this.truncating = false;
      if (this.truncateAgain) {
        this.truncateAgain = false;
        this.truncateLog();
      }
    });
  }

  private writeEntry(): void {
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
      // Nothing to log: they are done with the newest entry in flight (which holds or follows
      // what they wait for), or at once when every earlier entry is durable.
      const newest = this.inflightBatches[this.inflightBatches.length - 1];
      if (newest !== undefined) newest.push(...batch);
      else for (const p of batch) p.done(undefined);
      return;
    }
    this.bytesSinceCheckpoint += bytes;
    this.opsSinceCheckpoint += batch.length;
    if (this.bytesSinceCheckpoint >= this.policy.checkpointBytes || this.opsSinceCheckpoint >= this.policy.checkpointOps) this.checkpointDue = true;
    this.writeBatch(pieces, batch);
  }

  private writeBatch(pieces: Buffer[], batch: Pending[], onDurable?: (address: number) => void): void {
    const durableLog = this.log;
    assert(durableLog !== undefined, "started");
    this.inflightBatches.push(batch);
    durableLog.append(pieces).then(
      (address) => {
        if (this.stopped !== undefined) {
          this.reject(batch);
          return;
        }
        // The log resolves entries in append order and these handlers run in registration order.
        assert(this.inflightBatches[0] === batch, "entries become durable in order");
        this.inflightBatches.shift();
        let chunkAdded = false;
        for (const p of batch) {
          if (p.op !== undefined) {
            this.state.apply(p.op, true, address);
            if (p.op.kind === "ChunkAdded") chunkAdded = true;
          }
          p.done(undefined);
        }
        onDurable?.(address);
        if (chunkAdded) this.truncateLog();
        this.flush();
      },
      (err: unknown) => {
        // Every entry in flight fails with the log; the first says why, once.
        if (this.stopped === undefined) this.stop(this.logFailure(toSluiceError(err)));
        this.reject(batch);
      },
    );
  }

  /** What a failed log append means for the container's clients. */
  private logFailure(err: SluiceError): SluiceError {
    if (err.code === "WRITER_NOT_PRIMARY" || err.code === "LEDGER_FENCED") {
      log.warn("container fenced: a newer owner opened its log", { container: this.containerId, reason: err.message });
      return new WrongHostError(`container ${this.containerId} was taken over by a newer owner; ask the controller where its segments are served now`, { cause: err });
    }
    if (err instanceof StorageFullError) {
      // Retriable: the container is recovered once there is room; its clients keep the code.
      log.warn("container stopped: its log's disk is full", { container: this.containerId, error: err.message });
      return new StorageFullError(`container ${this.containerId} stopped: ${err.message}`, { cause: err });
    }
    log.error("container failed; it accepts no more operations", { container: this.containerId, error: err });
    return new ContainerNotReadyError(`container ${this.containerId} has failed: ${err.message}`, { cause: err });
  }

  private reject(batch: Pending[]): void {
    const err = this.stopped;
    assert(err !== undefined, "rejects only once stopped");
    for (const p of batch) p.done(err);
  }

  /**
   * Stops for good with `err`: every queued operation is rejected with it now, and every entry in
   * flight when it settles (even a durable one: its writer learns what was stored when it sets up
   * again, on the next owner).
   */
  stop(err: SluiceError): void {
    if (this.stopped !== undefined) return;
    this.stopped = err;
    this.timer?.cancel();
    const queued = this.queue;
    this.queue = [];
    this.queueBytes = 0;
    this.reject(queued);
    this.onStopped(err);
  }
}

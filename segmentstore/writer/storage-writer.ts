/**
 * The StorageWriter of one container: moves held bytes (durable in Tier-1, pinned in memory) to
 * Tier-2 as immutable chunks, and removes chunks nothing references any more.
 *
 * Flush: a segment's held bytes go to Tier-2 once they reach `flushBytes`, once the oldest has
 * waited `flushAgeMs`, at once when the segment is sealed or merged into, and at once, largest
 * segment first, while the store's pinned bytes are above half their bound. A flush takes the
 * first contiguous run of held slices (at most `chunkBytesMax`), writes it as a new chunk named by
 * segment, start offset and this owner's epoch, then records it with a logged ChunkAdded
 * operation; applying that drops the held bytes (unpinning them) and lets Tier-1 be truncated.
 * One flush per segment at a time, `concurrency` per container.
 *
 * Faults: a chunk write that fails (S3 500/503, timeouts) is retried with backoff, with the same
 * name and the same bytes, for as long as this owner serves the container; meanwhile the bytes
 * stay pinned, so appends go on until the pinned bound and then writers are throttled. Nothing is
 * dropped. A write whose response was lost is retried harmlessly (the storage accepts the same
 * bytes under the same name).
 *
 * Collection: chunks dropped by truncation or deletion, and chunks recorded too late (their
 * segment went away meanwhile), are deleted in the background. After a takeover, chunks of older
 * epochs that the recovered metadata does not reference (written by a dead owner that never
 * recorded them) are listed and deleted.
 */
import { ChunkExistsError, logger, MiB, toSluiceError, type Clock, type TimerHandle } from "../../common/index.js";
import type { CacheBudget, ContainerState, SegmentState } from "../container/container-state.js";
import type { ChunkCache } from "../readindex/chunk-cache.js";
import type { ChunkRef } from "../readindex/segment-data.js";
import type { ChunkStorage } from "../tier2/chunk-storage.js";
import { chunkEpoch, chunkName, containerChunkPrefix } from "../tier2/chunk-names.js";

const log = logger("storagewriter");

export interface FlushPolicy {
  flushBytes: number;
  flushAgeMs: number;
  chunkBytesMax: number;
  /** Flushes in flight per container. */
  concurrency: number;
}

export const flushPolicyDefault: FlushPolicy = { flushBytes: 8 * MiB, flushAgeMs: 10_000, chunkBytesMax: 64 * MiB, concurrency: 2 };

/** How often the writer looks for segments to flush. */
const tickMs = 20;
const retryDelayMsMin = 100;
const retryDelayMsMax = 10_000;
/** Chunk names waiting for deletion; past this they are left to the next takeover's collection. */
const deletionsQueuedMax = 100_000;
/** A chunk name is tried this many times when other bytes hold it. */
const nameAttemptsMax = 100;
/** Failures are logged at most this often per container. */
const warnEveryMs = 10_000;

export interface StorageWriterOptions {
  container: number;
  epoch: number;
  storage: ChunkStorage;
  cache: ChunkCache;
  policy: FlushPolicy;
  clock: Clock;
  state: ContainerState;
  pinned: CacheBudget;
  /**
   * Records `chunk` for segment `segmentId` through the container's log; resolves true once
   * durable and applied, false if the segment no longer takes operations. Rejects once the
   * container stopped.
   */
  record(segmentId: number, chunk: ChunkRef): Promise<boolean>;
}

export class StorageWriter {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly flushing = new Set<number>();
  private readonly due = new Set<number>();
  private readonly heldSinceMs = new Map<number, number>();
  private readonly deletions: ChunkRef[] = [];
  private deleting = false;
  private lastWarnMs = -Infinity;
  /** Chunks written to Tier-2 and recorded by this owner (for tests). */
  flushedChunks = 0;

  constructor(private readonly o: StorageWriterOptions) {}

  /** Starts flushing, and collects what older owners left over. */
  start(): void {
    this.arm();
    void this.collectLeftovers();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** A segment was sealed or merged into: flush what it holds now. */
  flushDue(s: SegmentState): void {
    if (this.o.state.unflushed.has(s.id)) this.due.add(s.id);
  }

  /** Chunks nothing references any more: delete them from Tier-2. */
  chunksDropped(chunks: readonly ChunkRef[]): void {
    for (const c of chunks) {
      this.o.cache.forget(c.name, c.length);
      if (this.deletions.length >= deletionsQueuedMax) {
        this.warn("too many chunks wait for deletion; leaving the rest to the next takeover", { chunk: c.name });
        continue;
      }
      this.deletions.push(c);
    }
    void this.runDeletions();
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(tickMs, () => {
      this.tick();
      this.arm();
    });
  }

  private tick(): void {
    const { state, policy, pinned, clock } = this.o;
    const now = clock.monotonicMs();
    const pressure = pinned.usedBytes >= pinned.maxBytes / 2;
    const ready: SegmentState[] = [];
    for (const id of state.unflushed) {
      const s = state.byId.get(id);
      if (s === undefined || s.data.heldBytes === 0) {
        if (!this.flushing.has(id)) {
          state.unflushed.delete(id);
          this.heldSinceMs.delete(id);
          this.due.delete(id);
        }
        continue;
      }
      let since = this.heldSinceMs.get(id);
      if (since === undefined) this.heldSinceMs.set(id, (since = now));
      if (this.flushing.has(id)) continue;
      if (pressure || s.sealed || this.due.has(id) || s.data.heldBytes >= policy.flushBytes || now - since >= policy.flushAgeMs) ready.push(s);
    }
    if (ready.length === 0) return;
    ready.sort((a, b) => b.data.heldBytes - a.data.heldBytes);
    for (const s of ready) {
      if (this.flushing.size >= policy.concurrency) break;
      void this.flush(s);
    }
  }

  private async flush(s: SegmentState): Promise<void> {
    const run = s.data.firstHeldRun(this.o.policy.chunkBytesMax);
    if (run === undefined) return;
    this.flushing.add(s.id);
    this.due.delete(s.id);
    let chunk: ChunkRef | undefined;
    try {
      const name = await this.write(s.name, s.id, run.offset, run.pieces);
      if (name === undefined) return;
      chunk = { name, offset: run.offset, length: run.bytes };
      const recorded = await this.o.record(s.id, chunk);
      if (!recorded) {
        this.chunksDropped([chunk]);
        return;
      }
      this.flushedChunks++;
      // What is still held arrived later: its age starts at the next look.
      this.heldSinceMs.delete(s.id);
    } catch (err) {
      // The container stopped (its log failed or it moved): the next owner flushes from its log
      // and collects the chunk. Anything else: the chunk is not recorded, so it goes now.
      if (!this.stopped && chunk !== undefined) this.chunksDropped([chunk]);
      log.debug("flush ended without recording its chunk", { container: this.o.container, segment: s.name, error: toSluiceError(err).message });
    } finally {
      this.flushing.delete(s.id);
    }
  }

  /** Writes a new chunk, retrying until it is stored or this writer stops; resolves its name (undefined: stopped). */
  private async write(segment: string, segmentId: number, offset: number, pieces: Buffer[]): Promise<string | undefined> {
    let delayMs = retryDelayMsMin;
    for (let attempt = 0; attempt < nameAttemptsMax && !this.stopped; ) {
      const name = chunkName(this.o.container, segment, segmentId, offset, this.o.epoch, attempt);
      try {
        await this.o.storage.create(name, pieces);
        return name;
      } catch (err) {
        if (err instanceof ChunkExistsError) {
          attempt++;
          continue;
        }
        this.warn("cannot write a chunk to Tier-2; retrying (its bytes stay in memory)", { chunk: name, delayMs, error: toSluiceError(err).message });
        await this.sleep(delayMs);
        delayMs = Math.min(retryDelayMsMax, delayMs * 2);
      }
    }
    if (!this.stopped) log.error("no free chunk name; the segment's bytes stay in memory", { container: this.o.container, segment, offset });
    return undefined;
  }

  private async runDeletions(): Promise<void> {
    if (this.deleting) return;
    this.deleting = true;
    let delayMs = retryDelayMsMin;
    try {
      while (this.deletions.length > 0 && !this.stopped) {
        const c = this.deletions[0]!;
        try {
          await this.o.storage.delete(c.name);
          this.deletions.shift();
          delayMs = retryDelayMsMin;
        } catch (err) {
          this.warn("cannot delete a chunk from Tier-2; retrying", { chunk: c.name, error: toSluiceError(err).message });
          await this.sleep(delayMs);
          delayMs = Math.min(retryDelayMsMax, delayMs * 2);
        }
      }
    } finally {
      this.deleting = false;
    }
  }

  /** Deletes chunks of older epochs that the recovered metadata does not reference. */
  private async collectLeftovers(): Promise<void> {
    const referenced = new Set<string>();
    for (const s of this.o.state.byId.values()) for (const c of s.data.chunks) referenced.add(c.name);
    const leftovers: ChunkRef[] = [];
    try {
      for await (const info of this.o.storage.list(containerChunkPrefix(this.o.container))) {
        if (this.stopped) return;
        const epoch = chunkEpoch(info.name);
        if (epoch !== undefined && epoch < this.o.epoch && !referenced.has(info.name)) leftovers.push({ name: info.name, offset: 0, length: info.bytes });
        if (leftovers.length >= deletionsQueuedMax) break;
      }
    } catch (err) {
      this.warn("cannot list Tier-2 chunks to collect leftovers; the next takeover will", { error: toSluiceError(err).message });
      return;
    }
    if (leftovers.length > 0) log.info("collecting chunks left over by older owners", { container: this.o.container, chunks: leftovers.length });
    this.chunksDropped(leftovers);
  }

  private warn(message: string, fields: Record<string, unknown>): void {
    const now = this.o.clock.monotonicMs();
    if (now - this.lastWarnMs < warnEveryMs) return;
    this.lastWarnMs = now;
    log.warn(message, { container: this.o.container, ...fields });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.o.clock.setTimer(ms, resolve));
  }
}

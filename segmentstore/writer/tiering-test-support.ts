/** Fakes for unit tests of tiering logic: a Tier-2 in memory that can be made to fail, and a log that acks at once. */
import { ChunkExistsError, InvalidArgumentError, NoSuchChunkError, systemClock, UnavailableError, WriterNotPrimaryError } from "../../common/index.js";
import type { ChunkInfo, ChunkStorage } from "../tier2/chunk-storage.js";
import type { ContainerLog } from "../container/operation-processor.js";
import { SegmentContainer, type CacheBudget, type ContainerServices } from "../container/segment-container.js";
import { ChunkCache } from "../readindex/chunk-cache.js";
import { TailWaiters } from "../readindex/read-index.js";
import { SegmentLoadStats } from "../stats/segment-load.js";
import type { LogEntry } from "../tier1/durable-data-log.js";
import type { FlushPolicy } from "./storage-writer.js";

export class MemoryChunkStorage implements ChunkStorage {
  readonly description = "memory";
  readonly objects = new Map<string, Buffer>();
  /** While set, every call fails UNAVAILABLE (an object store answering 503). */
  failing = false;

  private check(): void {
    if (this.failing) throw new UnavailableError("503 SlowDown (test)");
  }
  create(name: string, data: readonly Buffer[]): Promise<void> {
    this.check();
    const bytes = Buffer.concat(data);
    const old = this.objects.get(name);
    if (old !== undefined && !old.equals(bytes)) return Promise.reject(new ChunkExistsError(name));
    this.objects.set(name, bytes);
    return Promise.resolve();
  }
  read(name: string, offset: number, length: number): Promise<Buffer> {
    this.check();
    const o = this.objects.get(name);
    if (o === undefined) return Promise.reject(new NoSuchChunkError(name));
    if (offset + length > o.length) return Promise.reject(new InvalidArgumentError(`${name}: past the end`));
    return Promise.resolve(Buffer.from(o.subarray(offset, offset + length)));
  }
  delete(name: string): Promise<void> {
    this.check();
    this.objects.delete(name);
    return Promise.resolve();
  }
  async *list(prefix: string): AsyncIterable<ChunkInfo> {
    this.check();
    await Promise.resolve();
    for (const name of [...this.objects.keys()].sort()) if (name.startsWith(prefix)) yield { name, bytes: this.objects.get(name)!.length };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A container log in memory: appends are durable at once (in order), truncation drops entries. */
export class MemoryLog implements ContainerLog {
  readonly entries: LogEntry[] = [];
  truncatedAt = 0;
  /** Set when a newer owner took the log over: appends fail WRITER_NOT_PRIMARY. */
  fenced = false;
  private next: number;
  constructor(
    readonly epoch: number,
    from?: MemoryLog,
  ) {
    // A new owner continues the same log, and fences the old one.
    if (from !== undefined) {
      from.fenced = true;
      this.entries = from.entries;
      this.truncatedAt = from.truncatedAt;
    }
    this.next = this.entries.length === 0 ? 1 : this.entries[this.entries.length - 1]!.address + 1;
  }
  append(pieces: readonly Buffer[]): Promise<number> {
    if (this.fenced) return Promise.reject(new WriterNotPrimaryError(`epoch ${this.epoch} was fenced`));
    const address = this.next++;
    this.entries.push({ address, data: Buffer.concat(pieces) });
    return Promise.resolve(address);
  }
  truncate(address: number): Promise<void> {
    this.truncatedAt = Math.max(this.truncatedAt, address);
    while (this.entries.length > 0 && this.entries[0]!.address < this.truncatedAt) this.entries.shift();
    return Promise.resolve();
  }
}

/** Services for one container with Tier-2 on `storage`, a real clock, and small thresholds. */
export function tieringServices(storage: ChunkStorage, flush: Partial<FlushPolicy> = {}): { services: ContainerServices; pinned: CacheBudget } {
  const pinned: CacheBudget = { usedBytes: 0, maxBytes: 1 << 30 };
  return {
    pinned,
    services: {
      clock: systemClock,
      cache: pinned,
      tail: new TailWaiters(systemClock),
      stats: new SegmentLoadStats(systemClock, { windowsMs: [1000] }),
      checkpoints: { checkpointBytes: 16 * 1024, checkpointOps: 1_000_000, checkpointIntervalMs: 3_600_000 },
      tier2: {
        storage,
        cache: new ChunkCache(storage, { maxBytes: 1 << 20, blockBytes: 1 << 20 }),
        flush: { flushBytes: 4096, flushAgeMs: 50, chunkBytesMax: 8192, concurrency: 2, ...flush },
      },
      stopped: () => undefined,
    },
  };
}

/** A new owner of container 0: replays `log` from its truncation point and starts at `epoch` (fencing the old owner). */
export function recoverContainer(storage: ChunkStorage, log: MemoryLog, epoch: number): { c: SegmentContainer; pinned: CacheBudget; log: MemoryLog } {
  const { services, pinned } = tieringServices(storage);
  const c = new SegmentContainer(0, services);
  for (const e of log.entries) if (e.address >= log.truncatedAt) c.replay(e.address, e.data);
  const next = new MemoryLog(epoch, log);
  c.start(next);
  return { c, pinned, log: next };
}

export async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

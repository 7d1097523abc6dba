/** Fakes for unit tests of tiering logic: a Tier-2 in memory that can be made to fail, and a log that acks at once. */
import { ChunkExistsError, InvalidArgumentError, NoSuchChunkError, UnavailableError } from "../../common/index.js";
import type { ChunkInfo, ChunkStorage } from "../tier2/chunk-storage.js";
import type { ContainerLog } from "../container/operation-processor.js";
import type { LogEntry } from "../tier1/durable-data-log.js";

export class MemoryChunkStorage implements ChunkStorage {
  readonly description = "memory";
  readonly objects = new Map<string, Buffer>();
  /** While set, every call fails UNAVAILABLE (an object store answering 503). */
  failing = false;
  creates = 0;

  private check(): void {
    if (this.failing) throw new UnavailableError("503 SlowDown (test)");
  }
  create(name: string, data: readonly Buffer[]): Promise<void> {
    this.check();
    this.creates++;
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
  private next: number;
  constructor(
    readonly epoch: number,
    from?: MemoryLog,
  ) {
    // A new owner continues the same log.
    if (from !== undefined) {
      this.entries = from.entries;
      this.truncatedAt = from.truncatedAt;
    }
    this.next = this.entries.length === 0 ? 1 : this.entries[this.entries.length - 1]!.address + 1;
  }
  append(pieces: readonly Buffer[]): Promise<number> {
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

/**
 * The chunk cache: bytes read back from Tier-2, in a byte-bounded LRU (lru-cache), shared by every
 * container of a store. Only Tier-2 data is ever here, so evicting it loses nothing: a miss
 * fetches the block again.
 *
 * Chunks are read in blocks of `blockBytes` (at least 1 MiB) aligned within the chunk. A read of a
 * block also starts the fetch of the block after it (in the same chunk, or the first block of the
 * next chunk), so a reader going through history finds its next block fetched or on its way: one
 * request ahead per reader. Concurrent reads of one block share one fetch. Fetches in flight are
 * bounded; above the bound a read-ahead is skipped and a read gets OVERLOADED (retriable).
 */
import { LRUCache } from "lru-cache";
import { assert, MiB, OverloadedError } from "../../common/index.js";
import type { ChunkStorage } from "../tier2/chunk-storage.js";
import type { ChunkRef } from "./segment-data.js";

export interface ChunkCacheOptions {
  /** Bytes the cache holds at most (fetches in flight are counted apart: at most fetchesMax blocks). */
  maxBytes: number;
  /** Bytes per fetch (>= 1 MiB). */
  blockBytes: number;
  /** Block fetches in flight at once, over all readers. */
  fetchesMax: number;
}

export const chunkCacheDefaults: ChunkCacheOptions = { maxBytes: 1024 * MiB, blockBytes: 4 * MiB, fetchesMax: 32 };

export class ChunkCache {
  private readonly lru: LRUCache<string, Buffer>;
  private readonly fetching = new Map<string, Promise<Buffer>>();
  private readonly options: ChunkCacheOptions;

  constructor(
    private readonly storage: ChunkStorage,
    options: Partial<ChunkCacheOptions> = {},
  ) {
    this.options = { ...chunkCacheDefaults, ...options };
    assert(this.options.blockBytes >= MiB, "read-ahead blocks of at least 1 MiB");
    this.lru = new LRUCache<string, Buffer>({ maxSize: Math.max(1, this.options.maxBytes), sizeCalculation: (b) => Math.max(1, b.length) });
  }

  /** Bytes cached now. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /**
   * Up to `maxBytes` of `chunk` from `within` (an offset inside the chunk), never past the end of
   * its block; starts the fetch of the block after it. `next` is the segment's next chunk.
   */
  async read(chunk: ChunkRef, within: number, maxBytes: number, next: ChunkRef | undefined): Promise<Buffer> {
    assert(within >= 0 && within < chunk.length, "read inside the chunk");
    const { blockBytes } = this.options;
    const block = Math.floor(within / blockBytes);
    this.readAhead(chunk, block, next);
    const data = await this.block(chunk, block);
    const at = within - block * blockBytes;
    return data.subarray(at, Math.min(data.length, at + maxBytes));
  }

  /** Forgets every block of chunk `name` (deleted from Tier-2). */
  forget(name: string, length: number): void {
    for (let b = 0; b * this.options.blockBytes < length; b++) this.lru.delete(key(name, b));
  }

  private readAhead(chunk: ChunkRef, block: number, next: ChunkRef | undefined): void {
    const nextBlock = (block + 1) * this.options.blockBytes < chunk.length ? { c: chunk, b: block + 1 } : next === undefined ? undefined : { c: next, b: 0 };
    if (nextBlock === undefined || this.fetching.size >= this.options.fetchesMax) return;
    // A failed read-ahead is forgotten; the read that needs the block fetches it again.
    this.block(nextBlock.c, nextBlock.b).catch(() => undefined);
  }

  private block(chunk: ChunkRef, block: number): Promise<Buffer> {
    const k = key(chunk.name, block);
    const cached = this.lru.get(k);
    if (cached !== undefined) return Promise.resolve(cached);
    const inflight = this.fetching.get(k);
    if (inflight !== undefined) return inflight;
    if (this.fetching.size >= this.options.fetchesMax) {
      return Promise.reject(new OverloadedError(`${this.fetching.size} reads from Tier-2 are in flight; retry shortly`));
    }
    const from = block * this.options.blockBytes;
    const length = Math.min(this.options.blockBytes, chunk.length - from);
    const p = this.storage.read(chunk.name, from, length).then(
      (data) => {
        this.fetching.delete(k);
        this.lru.set(k, data);
        return data;
      },
      (err: unknown) => {
        this.fetching.delete(k);
        throw err;
      },
    );
    this.fetching.set(k, p);
    return p;
  }
}

function key(name: string, block: number): string {
  return `${name}#${block}`;
}

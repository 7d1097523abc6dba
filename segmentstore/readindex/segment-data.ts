/**
 * The bytes of one segment: where each range of [startOffset, length) is.
 *
 * - Held slices: durable bytes not yet in Tier-2, in memory. They are pinned (counted against the
 *   store's pinned bound, never evicted); each remembers the Tier-1 log address of the entry that
 *   appended it, since the log may be truncated only above the oldest of them (invariant 2).
 * - Chunks: ranges stored in Tier-2, read through the store's chunk cache.
 *
 * A chunk is made of whole held slices, and recording it drops them, so slices and chunks never
 * overlap, and together they cover [startOffset, length) once a recovery has replayed its log
 * (`gaps` finds what is not covered). A merge appends a whole segment, slices and chunks, shifted.
 * Truncation drops whole slices and whole chunks below the new start offset; a slice or chunk
 * straddling it stays until a later truncation passes it.
 */
import { assert } from "../../common/index.js";

/** A Tier-2 chunk holding bytes [offset, offset + length) of a segment. */
export interface ChunkRef {
  name: string;
  offset: number;
  length: number;
}

/** Contiguous held bytes starting at `offset`, for a flush. */
export interface HeldRun {
  offset: number;
  pieces: Buffer[];
  bytes: number;
}

export class SegmentData {
  private slices: Buffer[] = [];
  /** Segment offset of each slice's first byte, parallel to `slices`, increasing. */
  private starts: number[] = [];
  /** Log address of the entry that appended each slice, parallel to `slices`. */
  private addresses: number[] = [];
  private chunkList: ChunkRef[] = [];
  private start: number;
  private end: number;
  private held = 0;

  constructor(startOffset = 0, length = startOffset, chunks: readonly ChunkRef[] = []) {
    assert(length >= startOffset, "length at or above the start offset");
    this.start = startOffset;
    this.end = length;
    this.chunkList = [...chunks];
  }

  get startOffset(): number {
    return this.start;
  }

  get length(): number {
    return this.end;
  }

  /** Bytes held in memory, all pinned (counted against the pinned bound). */
  get heldBytes(): number {
    return this.held;
  }

  get chunks(): readonly ChunkRef[] {
    return this.chunkList;
  }

  /** The oldest log address any held byte came from (Infinity: nothing held). */
  get oldestAddress(): number {
    let min = Infinity;
    for (const a of this.addresses) if (a < min) min = a;
    return min;
  }

  /** Adds durable bytes at the end, appended by the log entry at `address`. */
  append(data: Buffer, address: number): void {
    if (data.length === 0) return;
    this.push(data, this.end, address);
    this.end += data.length;
  }

  private push(data: Buffer, at: number, address: number): void {
    this.slices.push(data);
    this.starts.push(at);
    this.addresses.push(address);
    this.held += data.length;
  }

  /**
   * Moves every byte of `source` (slices and chunks) to the end of this segment, without copying,
   * and empties it. `source` must never have been truncated (merge refuses that).
   */
  appendFrom(source: SegmentData): void {
    assert(source.start === 0, "a merge source is never truncated");
    const shift = this.end;
    source.slices.forEach((slice, i) => this.push(slice, source.starts[i]! + shift, source.addresses[i]!));
    for (const c of source.chunkList) this.chunkList.push({ ...c, offset: c.offset + shift });
    this.end += source.end;
    source.slices = [];
    source.starts = [];
    source.addresses = [];
    source.chunkList = [];
    source.held = 0;
    source.end = 0;
  }

  /**
   * Moves the start offset to `offset` (startOffset <= offset <= length), dropping the slices and
   * chunks wholly below it. Returns the bytes released from memory and the chunks no longer used.
   */
  truncate(offset: number): { released: number; dropped: ChunkRef[] } {
    assert(offset >= this.start && offset <= this.end, "truncate offset within segment");
    this.start = offset;
    let n = 0;
    let released = 0;
    while (n < this.slices.length && this.starts[n]! + this.slices[n]!.length <= offset) released += this.slices[n++]!.length;
    this.removeSlices(0, n);
    let k = 0;
    while (k < this.chunkList.length && this.chunkList[k]!.offset + this.chunkList[k]!.length <= offset) k++;
    const dropped = this.chunkList.splice(0, k);
    return { released, dropped };
  }

  private removeSlices(from: number, count: number): number {
    if (count === 0) return 0;
    let bytes = 0;
    for (let i = from; i < from + count; i++) bytes += this.slices[i]!.length;
    this.slices.splice(from, count);
    this.starts.splice(from, count);
    this.addresses.splice(from, count);
    this.held -= bytes;
    return bytes;
  }

  /**
   * Records that `chunk` holds its range in Tier-2 and drops the held slices inside it. Returns the
   * bytes released from memory. Raises nothing: the caller checks `overlapsChunk` first.
   */
  addChunk(chunk: ChunkRef): number {
    const end = chunk.offset + chunk.length;
    let at = this.chunkList.length;
    while (at > 0 && this.chunkList[at - 1]!.offset > chunk.offset) at--;
    this.chunkList.splice(at, 0, { ...chunk });
    const first = this.sliceIndexAtOrAfter(chunk.offset);
    let count = 0;
    while (first + count < this.slices.length && this.starts[first + count]! + this.slices[first + count]!.length <= end) count++;
    return this.removeSlices(first, count);
  }

  /** Whether `chunk` would overlap a chunk already recorded. */
  overlapsChunk(chunk: ChunkRef): boolean {
    const end = chunk.offset + chunk.length;
    return this.chunkList.some((c) => c.offset < end && chunk.offset < c.offset + c.length);
  }

  /**
   * The first run of contiguous held slices, whole slices only, of at most `maxBytes` (but at
   * least one slice); undefined when nothing is held.
   */
  firstHeldRun(maxBytes: number): HeldRun | undefined {
    if (this.slices.length === 0) return undefined;
    const offset = this.starts[0]!;
    const pieces: Buffer[] = [];
    let bytes = 0;
    for (let i = 0; i < this.slices.length; i++) {
      const s = this.slices[i]!;
      if (this.starts[i] !== offset + bytes || (i > 0 && bytes + s.length > maxBytes)) break;
      pieces.push(s);
      bytes += s.length;
    }
    return { offset, pieces, bytes };
  }

  /**
   * Held bytes from `offset` (startOffset <= offset <= length), up to `maxBytes` and up to the end
   * of the contiguous held run, joined into one buffer; undefined when `offset` is not held (it
   * is in a chunk). Empty at the end of the segment.
   */
  read(offset: number, maxBytes: number): Buffer | undefined {
    assert(offset >= this.start && offset <= this.end, "read offset within segment");
    if (offset === this.end || maxBytes === 0) return Buffer.alloc(0);
    const i = this.sliceIndexAtOrAfter(offset + 1) - 1;
    if (i < 0 || this.starts[i]! + this.slices[i]!.length <= offset) return undefined;
    const first = this.slices[i]!;
    const within = offset - this.starts[i]!;
    const n = Math.min(maxBytes, this.end - offset);
    if (first.length - within >= n) return first.subarray(within, within + n);
    const parts: Buffer[] = [first.subarray(within)];
    let got = first.length - within;
    for (let j = i + 1; j < this.slices.length && got < n && this.starts[j] === offset + got; j++) {
      const s = this.slices[j]!;
      parts.push(s.subarray(0, Math.min(s.length, n - got)));
      got += parts[parts.length - 1]!.length;
    }
    return Buffer.concat(parts, got);
  }

  /** The chunk holding `offset`, with the next chunk (for read-ahead), if any. */
  chunkAt(offset: number): { chunk: ChunkRef; next: ChunkRef | undefined } | undefined {
    let lo = 0;
    let hi = this.chunkList.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.chunkList[mid]!;
      if (offset < c.offset) hi = mid - 1;
      else if (offset >= c.offset + c.length) lo = mid + 1;
      else return { chunk: c, next: this.chunkList[mid + 1] };
    }
    return undefined;
  }

  /** Ranges of [startOffset, length) held neither in memory nor in a chunk (none after a sound recovery). */
  gaps(): { from: number; to: number }[] {
    const ranges = [
      ...this.slices.map((s, i) => ({ from: this.starts[i]!, to: this.starts[i]! + s.length })),
      ...this.chunkList.map((c) => ({ from: c.offset, to: c.offset + c.length })),
    ].sort((a, b) => a.from - b.from);
    const out: { from: number; to: number }[] = [];
    let at = this.start;
    for (const r of ranges) {
      if (r.from > at) out.push({ from: at, to: Math.min(r.from, this.end) });
      at = Math.max(at, r.to);
      if (at >= this.end) break;
    }
    if (at < this.end) out.push({ from: at, to: this.end });
    return out.filter((g) => g.to > g.from);
  }

  /** Index of the first slice starting at or after `offset`. */
  private sliceIndexAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

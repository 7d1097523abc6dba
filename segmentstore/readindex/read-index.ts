/**
 * The read index: a segment's durable bytes held in memory, and reads that wait at the tail.
 *
 * Only durable bytes are ever added (the container applies an append after Tier-1 acked it), so a
 * read can never see bytes that could be lost. Until Tier-2 exists every byte is pinned: the total
 * is counted against the pinned bound, above which the front end holds new appends (throttling
 * the writers) until truncation or deletion frees memory.
 */
import { assert, OverloadedError, tailWaitersMax } from "../../common/index.js";
import type { Clock, TimerHandle } from "../../common/index.js";

export interface ReadResult {
  offset: number;
  data: Buffer;
  atTail: boolean;
}

interface Waiter {
  timer: TimerHandle;
  wake(): void;
}

/**
 * The bytes of one segment, as a list of slices in offset order. Truncation drops whole slices
 * below the new start offset (a slice straddling it stays until the next truncation passes it),
 * so `heldBytes` may exceed `length - startOffset` by less than one slice.
 */
export class SegmentData {
  private slices: Buffer[] = [];
  /** Segment offset of each slice's first byte, parallel to `slices`. */
  private starts: number[] = [];
  private start: number;
  private end: number;
  private held = 0;

  constructor(startOffset: number) {
    this.start = startOffset;
    this.end = startOffset;
  }

  get startOffset(): number {
    return this.start;
  }

  get length(): number {
    return this.end;
  }

  /** Bytes this segment keeps in memory (counted against the pinned bound). */
  get heldBytes(): number {
    return this.held;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.slices.push(data);
    this.starts.push(this.end);
    this.end += data.length;
    this.held += data.length;
  }

  /**
   * Moves every byte of `source` to the end of this segment, without copying, and empties it.
   * `source` must never have been truncated (merge refuses that). Returns the bytes moved.
   */
  appendFrom(source: SegmentData): number {
    assert(source.start === 0, "a merge source is never truncated");
    const moved = source.held;
    for (const slice of source.slices) this.append(slice);
    source.slices = [];
    source.starts = [];
    source.held = 0;
    source.end = 0;
    return moved;
  }

  /**
   * Moves the start offset to `offset` (startOffset <= offset <= length) and drops the slices
   * wholly below it. Returns the bytes released from memory.
   */
  truncate(offset: number): number {
    assert(offset >= this.start && offset <= this.end, "truncate offset within segment");
    this.start = offset;
    let n = 0;
    let released = 0;
    while (n < this.slices.length && this.starts[n]! + this.slices[n]!.length <= offset) released += this.slices[n++]!.length;
    if (n > 0) {
      this.slices = this.slices.slice(n);
      this.starts = this.starts.slice(n);
    }
    this.held -= released;
    return released;
  }

  /** Up to `maxBytes` from `offset` (startOffset <= offset <= length), joined into one buffer. */
  read(offset: number, maxBytes: number): Buffer {
    assert(offset >= this.start && offset <= this.end, "read offset within segment");
    const n = Math.min(maxBytes, this.end - offset);
    if (n === 0) return Buffer.alloc(0);
    let i = this.sliceAt(offset);
    const first = this.slices[i]!;
    const within = offset - this.starts[i]!;
    if (first.length - within >= n) return first.subarray(within, within + n);
    const out = Buffer.allocUnsafe(n);
    let copied = first.copy(out, 0, within);
    while (copied < n) {
      const s = this.slices[++i]!;
      copied += s.copy(out, copied, 0, Math.min(s.length, n - copied));
    }
    return out;
  }

  private sliceAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Tail readers of many segments, bounded in number, each with a deadline. */
export class TailWaiters {
  private readonly waiting = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(private readonly clock: Clock) {}

  /**
   * Resolves when `notify(segment)` is called or after `waitMs`, whichever is first. Raises
   * OVERLOADED when `tailWaitersMax` reads are already waiting.
   */
  wait(segment: string, waitMs: number): Promise<void> {
    if (this.count >= tailWaitersMax) {
      return Promise.reject(new OverloadedError(`more than ${tailWaitersMax} reads waiting at the tail`));
    }
    return new Promise((resolve) => {
      let set = this.waiting.get(segment);
      if (set === undefined) {
        set = new Set();
        this.waiting.set(segment, set);
      }
      const waiters = set;
      const waiter: Waiter = {
        timer: this.clock.setTimer(waitMs, () => done()),
        wake: () => done(),
      };
      const done = () => {
        if (!waiters.delete(waiter)) return;
        this.count--;
        waiter.timer.cancel();
        if (waiters.size === 0 && this.waiting.get(segment) === waiters) this.waiting.delete(segment);
        resolve();
      };
      waiters.add(waiter);
      this.count++;
    });
  }

  /** Wakes every read waiting on `segment`. */
  notify(segment: string): void {
    const set = this.waiting.get(segment);
    if (set === undefined) return;
    for (const w of [...set]) w.wake();
  }

  /** Wakes everything (at shutdown). */
  notifyAll(): void {
    for (const segment of [...this.waiting.keys()]) this.notify(segment);
  }
}

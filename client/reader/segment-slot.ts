/**
 * What an EventReader keeps per segment it holds (a Slot: the segment's reader, its buffered events
 * and the position after the last one returned), and the Wakeup that a waiting readNext sleeps on
 * until data arrives or the group's state changes.
 */
import { eventHeaderBytes, toSluiceError, type SluiceError } from "../../common/index.js";
import type { GroupContext } from "./group-context.js";
import { streamOf } from "./group-state.js";
import { SegmentReader, type Event } from "./segment-reader.js";

/** How long one read at a segment's tail waits for data (long poll). */
const tailWaitMs = 5_000;

/** One segment the reader holds. */
export class Slot {
  readonly stream: string;
  reader: SegmentReader;
  /** Offset after the last event returned. */
  position: number;
  buffer: Event[] = [];
  next = 0;
  pending: Promise<void> | undefined;
  error: SluiceError | undefined;
  /** Not before this time does the reader ask again for the successors. */
  retryAtMs = 0;

  constructor(
    readonly segment: string,
    readonly endOffset: number,
    offset: number,
    private readonly ctx: GroupContext,
    private readonly wake: () => void,
  ) {
    this.stream = streamOf(segment);
    this.position = offset;
    this.reader = this.open(offset);
  }

  open(offset: number): SegmentReader {
    return new SegmentReader(this.segment, this.ctx.services.connect, { offset, waitMs: tailWaitMs, ...(this.endOffset >= 0 ? { endOffset: this.endOffset } : {}) });
  }

  get drained(): boolean {
    return this.next >= this.buffer.length;
  }

  /** Read to its end and every event returned. */
  get done(): boolean {
    return this.drained && this.pending === undefined && this.error === undefined && this.reader.done;
  }

  /** Starts a read unless one is under way, events are buffered, or the segment is read. */
  fetch(): void {
    if (this.pending !== undefined || !this.drained || this.error !== undefined || this.reader.done) return;
    const reader = this.reader;
    this.pending = reader.next().then(
      (events) => {
        if (reader !== this.reader) return;
        this.buffer = events;
        this.next = 0;
      },
      (err: unknown) => {
        if (reader === this.reader) this.error = toSluiceError(err);
      },
    );
    void this.pending.finally(() => {
      if (reader === this.reader) this.pending = undefined;
      this.wake();
    });
  }

  /** The next buffered event, if any; the position moves past it. */
  take(): Event | undefined {
    const e = this.buffer[this.next++];
    if (e !== undefined) this.position = e.offset + eventHeaderBytes + e.data.length;
    return e;
  }

  /** Reads again from `offset`, dropping what was buffered. */
  restart(offset: number): void {
    this.reader.close();
    this.position = offset;
    this.buffer = [];
    this.next = 0;
    this.pending = undefined;
    this.error = undefined;
    this.reader = this.open(offset);
  }

  close(): void {
    this.reader.close();
  }
}

/** Wakes a waiting readNext when data arrives or the group's state changes. */
export class Wakeup {
  private waiter: (() => void) | undefined;
  private signalled = false;

  notify(): void {
    this.signalled = true;
    this.waiter?.();
  }

  wait(ms: number, ctx: GroupContext): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        this.waiter = undefined;
        this.signalled = false;
        resolve();
      };
      const timer = ctx.clock.setTimer(ms, done);
      this.waiter = done;
    });
  }
}

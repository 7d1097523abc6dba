/**
 * EventWriter: writes events to a stream. A routing key picks the segment whose key range holds
 * the key's hash, so events of one key go to one segment, in order. Writes are pipelined and
 * batched per segment; `write` resolves once the event is durable. Memory is bounded: above
 * `writerInflightBytesMax` of unacknowledged bytes, new writes wait in a queue (handed on in call
 * order), and above `writerQueuedBytesMax` queued, `write` fails with OVERLOADED; `ready()` tells a
 * producer when to continue.
 */
import { EventTooLargeError, ClosedError, InvalidArgumentError, OverloadedError, keyPosition, eventBytesMax, eventHeaderBytes, writerInflightBytesMax, writerQueuedBytesMax } from "../../common/index.js";
import type { SegmentRange, WireConnection } from "../../proto/index.js";
import type { ConnectOptions } from "../connection/segment-retry.js";
import { SegmentWriter, type SegmentWriterContext } from "./segment-writer.js";

export interface WriteOptions {
  /** Events with the same key keep their order; without a key the segment is chosen at random. */
  routingKey?: string;
}

export interface WriterServices {
  currentSegments(): Promise<SegmentRange[]>;
  /** Connection to the segment store serving `segment`; with `refresh`, asks the controller again where that is. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
  /** Called once the writer is closed. */
  closed?(): void;
}

interface QueuedWrite {
  bytes: Uint8Array;
  routingKey: string | undefined;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class EventWriter {
  private segments: { range: SegmentRange; writer: SegmentWriter }[] | undefined;
  private loading = false;
  private outstandingBytes = 0;
  /**
   * Writes waiting for capacity or for the segment list. They are handed to their segments
   * synchronously and in call order, so a later write never overtakes an earlier one.
   */
  private queued: QueuedWrite[] = [];
  private queuedBytes = 0;
  private readonly readyWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    readonly stream: string,
    private readonly services: WriterServices,
  ) {}

  /** Writes one event; resolves when it is durable. Raises EVENT_TOO_LARGE, CLOSED, and append errors. */
  write(data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`writer for ${this.stream} is closed`));
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (bytes.length > eventBytesMax) {
      return Promise.reject(new EventTooLargeError(`event of ${bytes.length} bytes exceeds the ${eventBytesMax}-byte limit`));
    }
    if (this.queued.length === 0 && this.segments !== undefined && this.hasRoom(bytes.length)) {
      return this.dispatch(bytes, options.routingKey);
    }
    if (this.queuedBytes + bytes.length > writerQueuedBytesMax) {
      return Promise.reject(
        new OverloadedError(`writer for ${this.stream} holds ${this.queuedBytes} bytes waiting for acks; await writer.ready() before writing more`),
      );
    }
    this.queuedBytes += bytes.length;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // As for events that go straight to a segment: a failure also surfaces in flush(), so a
    // producer that does not await each write does not crash on an unhandled rejection.
    promise.catch(() => undefined);
    this.queued.push({ bytes, routingKey: options.routingKey, promise, resolve, reject });
    if (this.segments === undefined) this.load();
    return promise;
  }

  /**
   * Resolves when the writer has room for more events (its unacknowledged bytes are below the
   * bound). A producer that writes without awaiting each write awaits this between bursts, which
   * keeps its memory bounded while the pipeline stays full.
   */
  ready(): Promise<void> {
    if (this.queued.length === 0 && this.outstandingBytes < writerInflightBytesMax) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Resolves when every event written so far is durable; rejects with the first failure. */
  async flush(): Promise<void> {
    const waiting = this.queued.map((q) => q.promise);
    await Promise.all(waiting);
    await Promise.all((this.segments ?? []).map((s) => s.writer.flush()));
  }

  /** Flushes, then releases the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      for (const s of this.segments ?? []) s.writer.close();
      this.services.closed?.();
    }
  }

  private hasRoom(payloadBytes: number): boolean {
    // An event larger than the whole bound still goes alone once nothing else is outstanding.
    return this.outstandingBytes === 0 || this.outstandingBytes + payloadBytes + eventHeaderBytes <= writerInflightBytesMax;
  }

  /** Hands queued writes to their segments, in order, while there is room. */
  private drain(): void {
    while (this.segments !== undefined && this.queued.length > 0 && this.hasRoom(this.queued[0]!.bytes.length)) {
      const q = this.queued.shift()!;
      this.queuedBytes -= q.bytes.length;
      this.dispatch(q.bytes, q.routingKey).then(q.resolve, q.reject);
    }
  }

  private load(): void {
    if (this.loading) return;
    this.loading = true;
    this.services.currentSegments().then(
      (ranges) => {
        this.loading = false;
        if (ranges.length === 0) {
          this.failQueued(new InvalidArgumentError(`stream ${this.stream} has no segments`));
          return;
        }
        const context = this.context();
        this.segments = ranges.map((range) => ({ range, writer: new SegmentWriter(range.segment, context) }));
        this.drain();
      },
      (err: unknown) => {
        this.loading = false;
        this.failQueued(err);
      },
    );
  }

  private failQueued(err: unknown): void {
    const failed = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    for (const resume of this.readyWaiters.splice(0)) resume();
    for (const q of failed) q.reject(err);
  }

  /** Hands one event to its segment writer, counting its bytes until the writer releases them. */
  private dispatch(bytes: Uint8Array, routingKey: string | undefined): Promise<void> {
    const writer = this.segmentFor(routingKey);
    const failed = writer.failed;
    if (failed !== undefined) return Promise.reject(failed);
    this.outstandingBytes += bytes.length + eventHeaderBytes;
    return writer.write(bytes);
  }

  private segmentFor(routingKey: string | undefined): SegmentWriter {
    const segments = this.segments!;
    const position = routingKey === undefined ? Math.random() : keyPosition(routingKey);
    let entry = segments[segments.length - 1]!;
    for (const s of segments) {
      if (position >= s.range.keyStart && position < s.range.keyEnd) {
        entry = s;
        break;
      }
    }
    // A writer that gave up on a retriable error (the store was unreachable for long) is replaced
    // for new events; the events it failed were reported to their callers.
    if (entry.writer.failed?.retriable === true) entry.writer = new SegmentWriter(entry.range.segment, this.context());
    return entry.writer;
  }

  private context(): SegmentWriterContext {
    return {
      connect: (segment: string, options?: ConnectOptions) => this.services.connect(segment, options),
      released: (n: number) => this.release(n),
    };
  }

  private release(bytes: number): void {
    this.outstandingBytes -= bytes;
    this.drain();
    if (this.readyWaiters.length > 0 && this.queued.length === 0 && this.outstandingBytes < writerInflightBytesMax) {
      for (const resume of this.readyWaiters.splice(0)) resume();
    }
  }
}

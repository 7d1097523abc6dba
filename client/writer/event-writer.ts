/**
 * EventWriter: writes events to a stream. A routing key picks the segment whose key range holds
 * the key's hash, so events of one key go to one segment, in order. Writes are pipelined and
 * batched per segment; `write` resolves once the event is durable. Memory is bounded: above
 * `writerInflightBytesMax` of unacknowledged bytes, new writes wait in a queue (handed on in call
 * order), and above `writerQueuedBytesMax` queued, `write` fails with OVERLOADED; `ready()` tells a
 * producer when to continue.
 *
 * The writer follows scaling. When a segment is sealed under it (SEGMENT_SEALED), the events routed
 * to that segment are held, and the writer asks the controller for the successors until they are
 * named (the seal is then durable). It then asks the sealed segment what it stored of this writer:
 * those events are durable and resolve; the rest go, in their order and then the held ones, to the
 * successors by their key position, and the successors replace the sealed segment in the routing
 * table. Per key the order holds (the events of a key move together, before any later one), and
 * each event is stored in exactly one segment. The same path applies when successors are sealed in
 * turn. Held events count against the in-flight bound; bytes are released only on ack or failure.
 *
 * Events written to one segment in one turn share one promise (one per batch, not per event): it
 * resolves once all of them are durable and rejects if one fails. After a scale they may have gone
 * to different successors, so a rejected write may then have been stored in part.
 */
import { ClosedError, EventTooLargeError, InvalidArgumentError, OverloadedError, StreamSealedError, keyPosition, eventBytesMax, eventHeaderBytes, systemClock, toSluiceError, writerInflightBytesMax, writerQueuedBytesMax, type Clock } from "../../common/index.js";
import type { SegmentRange, WireConnection } from "../../proto/index.js";
import type { ConnectOptions } from "../connection/segment-retry.js";
import { RoutingTable } from "./routing-table.js";
import { SegmentWriter, type SegmentWriterContext } from "./segment-writer.js";
import { waitForSuccessors, type SuccessorSource } from "./successor-wait.js";

export interface WriteOptions {
  /** Events with the same key keep their order; without a key the segment is chosen at random. */
  routingKey?: string;
}

export interface WriterServices extends SuccessorSource {
  currentSegments(): Promise<SegmentRange[]>;
  /** Connection to the segment store serving `segment`; with `refresh`, asks the controller again where that is. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
  /** Called once the writer is closed. */
  closed?(): void;
  /** Time for the waits while a scale commits (the system clock, its timers keeping the process alive, by default). */
  clock?: Clock;
  /** Key positions for events without a routing key, in [0, 1) (Math.random by default). */
  random?: () => number;
}

/**
 * The system clock, except that its timers keep the process alive (a Clock's timers do not): while
 * events wait for a scale to commit nothing else may hold the process, and an exit then would drop
 * them unreported, as the segment writer's retry timers also keep it alive.
 */
const keepAliveClock: Clock = {
  nowMs: () => systemClock.nowMs(),
  monotonicMs: () => systemClock.monotonicMs(),
  setTimer(delayMs, fn) {
    const timer = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(timer) };
  },
};

interface QueuedWrite {
  bytes: Uint8Array;
  routingKey: string | undefined;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class EventWriter {
  private table: RoutingTable<SegmentWriter> | undefined;
  /** One writer per segment name, for every segment the table routes to. */
  private readonly writers = new Map<string, SegmentWriter>();
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
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly context: SegmentWriterContext;

  constructor(
    readonly stream: string,
    private readonly services: WriterServices,
  ) {
    this.clock = services.clock ?? keepAliveClock;
    this.random = services.random ?? Math.random;
    this.context = {
      connect: (segment: string, options?: ConnectOptions) => this.services.connect(segment, options),
      released: (n: number) => this.release(n),
      sealed: (writer: SegmentWriter) => {
        this.follow(writer).catch((err: unknown) => writer.abandon(toSluiceError(err)));
      },
    };
  }

  /**
   * Writes one event; resolves when it is durable. Raises EVENT_TOO_LARGE (nothing sent), CLOSED,
   * OVERLOADED, STREAM_SEALED, UNAVAILABLE (a scale did not commit in time, or the store could not
   * be reached), and other append errors.
   */
  write(data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`writer for ${this.stream} is closed`));
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (bytes.length > eventBytesMax) {
      return Promise.reject(new EventTooLargeError(`event of ${bytes.length} bytes exceeds the ${eventBytesMax}-byte limit`));
    }
    if (this.queued.length === 0 && this.table !== undefined && this.hasRoom(bytes.length)) {
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
    if (this.table === undefined) this.load();
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

  /** Resolves when every event written so far is durable (scales followed); rejects with the first failure. */
  async flush(): Promise<void> {
    const waiting = this.queued.map((q) => q.promise);
    await Promise.all(waiting);
    await Promise.all([...this.writers.values()].map((w) => w.flush()));
  }

  /** Flushes, then releases the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      for (const w of this.writers.values()) w.close();
      this.services.closed?.();
    }
  }

  private hasRoom(payloadBytes: number): boolean {
    // An event larger than the whole bound still goes alone once nothing else is outstanding.
    return this.outstandingBytes === 0 || this.outstandingBytes + payloadBytes + eventHeaderBytes <= writerInflightBytesMax;
  }

  /** Hands queued writes to their segments, in order, while there is room. */
  private drain(): void {
    while (this.table !== undefined && this.queued.length > 0 && this.hasRoom(this.queued[0]!.bytes.length)) {
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
        this.table = new RoutingTable(ranges.map((r) => ({ keyStart: r.keyStart, keyEnd: r.keyEnd, writer: this.writerFor(r.segment) })));
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
    // An event without a key keeps the position drawn here, also when it is carried to successors.
    const position = routingKey === undefined ? this.random() : keyPosition(routingKey);
    const writer = this.route(position);
    const failed = writer.failed;
    if (failed !== undefined) return Promise.reject(failed);
    this.outstandingBytes += bytes.length + eventHeaderBytes;
    return writer.write(bytes, position);
  }

  private route(position: number): SegmentWriter {
    const writer = this.table!.lookup(position);
    // A writer that gave up on a retriable error (the store was unreachable for long, a scale did
    // not commit in time) is replaced for new events; the events it failed were reported.
    return writer.failed?.retriable === true ? this.writerFor(writer.segment) : writer;
  }

  /** The one writer of `segment`: the existing one unless it gave up on a retriable error. */
  private writerFor(segment: string): SegmentWriter {
    const existing = this.writers.get(segment);
    if (existing !== undefined && existing.failed?.retriable !== true) return existing;
    const writer = new SegmentWriter(segment, this.context);
    this.writers.set(segment, writer);
    if (existing !== undefined) this.table?.replaceWriter(existing, writer);
    return writer;
  }

  /** Follows the scale that sealed `writer`'s segment (see the file comment). */
  private async follow(writer: SegmentWriter): Promise<void> {
    const outcome = await waitForSuccessors(writer.segment, this.services, this.clock, () => writer.failed);
    const lastStored = await writer.lastStoredAfterSeal();
    // Closed meanwhile: its events were failed with CLOSED.
    if (writer.failed !== undefined) return;
    if ("streamSealed" in outcome) {
      const err = new StreamSealedError(`stream ${this.stream} is sealed: no event can be written to it any more`);
      const { rest, storedBytes } = writer.handOver(lastStored, err);
      let bytes = storedBytes;
      for (const e of rest) {
        e.group.failed(err);
        bytes += e.payload.length + eventHeaderBytes;
      }
      this.release(bytes);
      return;
    }
    const { rest, storedBytes } = writer.handOver(lastStored, new ClosedError(`writer for ${writer.segment} handed its events to the successors`));
    if (this.writers.get(writer.segment) === writer) this.writers.delete(writer.segment);
    const table = this.table!;
    table.replaceSealed(writer, outcome.successors.map((s) => ({ keyStart: s.keyStart, keyEnd: s.keyEnd, writer: this.writerFor(s.segment) })));
    // Carried before anything else can be written (this runs synchronously to the end), so the
    // events of a key reach its successor ahead of every later event of that key.
    let failedBytes = 0;
    for (const e of rest) {
      const target = this.route(e.position);
      const failed = target.failed;
      if (failed === undefined) {
        target.carry(e);
      } else {
        e.group.failed(failed);
        failedBytes += e.payload.length + eventHeaderBytes;
      }
    }
    // Only now may released room hand queued writes to the table.
    this.release(storedBytes + failedBytes);
  }

  private release(bytes: number): void {
    this.outstandingBytes -= bytes;
    this.drain();
    if (this.readyWaiters.length > 0 && this.queued.length === 0 && this.outstandingBytes < writerInflightBytesMax) {
      for (const resume of this.readyWaiters.splice(0)) resume();
    }
  }
}

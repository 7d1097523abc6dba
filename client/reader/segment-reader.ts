/**
 * SegmentReader: reads the events of one segment in order, from an offset, either up to an end
 * offset (the batch API) or following the tail (live reading: each read at the tail waits on the
 * server until data arrives or `waitMs` passes). It is the building block of the batch reader and
 * of the reader groups to come.
 *
 * One read is kept in flight ahead of the consumer (read-ahead), so while the caller handles one
 * batch of events the next is on its way. Reads are idempotent: after a lost connection or a
 * retriable error the reader reconnects and asks again from the same offset, with bounded,
 * growing delays; other errors (NO_SUCH_SEGMENT, SEGMENT_TRUNCATED, DATA_CORRUPTION) end it. After
 * WRONG_HOST, CONTAINER_NOT_READY or a lost connection it asks the controller again where the
 * segment is served (its container may have moved to another store).
 */
import {
  ClosedError,
  DataCorruptionError,
  InvalidArgumentError,
  readBytesMax,
  readWaitMsMax,
} from "../../common/index.js";
import { EventParser, type FrameOf } from "../../proto/index.js";
import { requestSegment, type ConnectFn } from "../connection/segment-retry.js";

export interface Event {
  /** Segment byte offset of the event (of its length prefix); stable forever. */
  offset: number;
  data: Uint8Array;
}

export interface SegmentReaderOptions {
  /** Where to start (a byte offset at an event boundary). Default 0. */
  offset?: number;
  /** Stop before this offset (exclusive); without it the reader follows the tail forever. */
  endOffset?: number;
  /** How long one read waits at the tail for new data. Default 10 s; 0 answers at once. */
  waitMs?: number;
  /** Bytes asked for per read. Default 1 MiB. */
  readBytes?: number;
  /** Retries of one read on retriable errors before it fails (default 12), and the first backoff (default 50 ms, doubling to 5 s). */
  retryCountMax?: number;
  retryDelayMsMin?: number;
}

const requestSlackMs = 10_000;
const readBytesDefault = 1024 * 1024;

export class SegmentReader {
  private readonly parser: EventParser;
  /** Offset of the next byte to ask for (reads run ahead of what the caller consumed). */
  private requestOffset: number;
  private readonly endOffset: number | undefined;
  private readonly waitMs: number;
  private readonly readBytes: number;
  private readonly retryCountMax: number | undefined;
  private readonly retryDelayMsMin: number | undefined;
  private ahead: Promise<FrameOf<"SegmentRead">> | undefined;
  private closed = false;
  private sealedEnd = false;
  /** The last read failed in a way that says the segment may have moved: the next connect refreshes its endpoint. */
  private readonly stale = { endpoint: false };
  /** Cuts a retry's backoff short when the reader is closed. */
  private readonly abort = new AbortController();

  constructor(
    readonly segment: string,
    private readonly connect: ConnectFn,
    options: SegmentReaderOptions = {},
  ) {
    const offset = options.offset ?? 0;
    this.waitMs = options.waitMs ?? 10_000;
    this.readBytes = options.readBytes ?? readBytesDefault;
    this.retryCountMax = options.retryCountMax;
    this.retryDelayMsMin = options.retryDelayMsMin;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`offset ${offset} must be an integer >= 0`);
    if (options.endOffset !== undefined && (!Number.isSafeInteger(options.endOffset) || options.endOffset < offset)) {
      throw new InvalidArgumentError(`endOffset ${options.endOffset} must be an integer >= offset ${offset}`);
    }
    if (!Number.isInteger(this.waitMs) || this.waitMs < 0 || this.waitMs > readWaitMsMax) {
      throw new InvalidArgumentError(`waitMs must be an integer in [0, ${readWaitMsMax}]`);
    }
    if (!Number.isInteger(this.readBytes) || this.readBytes < 1 || this.readBytes > readBytesMax) {
      throw new InvalidArgumentError(`readBytes must be an integer in [1, ${readBytesMax}]`);
    }
    this.parser = new EventParser(offset);
    this.requestOffset = offset;
    this.endOffset = options.endOffset;
  }

  /** True once every event up to endOffset (or the end of a sealed segment) has been returned. */
  get done(): boolean {
    const end = this.endOffset;
    return (end !== undefined && this.requestOffset >= end && this.parser.pendingBytes === 0 && this.ahead === undefined) || this.sealedEnd;
  }

  /**
   * The next events, in order; an empty array when a tail read timed out with nothing new. Raises
   * CLOSED after close(), DATA_CORRUPTION for a bad length prefix, INVALID_ARGUMENT when the
   * segment ends before endOffset or endOffset falls inside an event, and the read's typed errors.
   */
  async next(): Promise<Event[]> {
    if (this.closed) throw new ClosedError(`reader of ${this.segment} is closed`);
    if (this.done) return [];
    // Take the read-ahead (or a fresh read) off first: a failed one must not be rethrown forever.
    const pending = this.ahead ?? this.request();
    this.ahead = undefined;
    const reply = await pending;
    if (this.closed) throw new ClosedError(`reader of ${this.segment} is closed`);
    if (reply.offset !== this.requestOffset) throw new InvalidArgumentError(`read of ${this.segment} answered offset ${reply.offset}, asked ${this.requestOffset}`);
    this.requestOffset += reply.data.length;
    if (reply.endOfSegment) this.sealedEnd = true;
    const end = this.endOffset;
    if (end !== undefined && reply.data.length === 0 && this.waitMs === 0 && this.requestOffset < end) {
      throw new InvalidArgumentError(`${this.segment} ends at ${this.requestOffset}, before the range end ${end}`);
    }
    const events = this.parser.push(reply.offset, reply.data);
    if (this.sealedEnd && this.parser.pendingBytes !== 0) {
      throw new DataCorruptionError(`${this.segment} is sealed at ${this.requestOffset} inside an event (${this.parser.pendingBytes} bytes of it)`);
    }
    if (end !== undefined && this.requestOffset >= end && this.parser.pendingBytes !== 0) {
      throw new InvalidArgumentError(`range end ${end} of ${this.segment} falls inside an event`);
    }
    // Read ahead while the caller handles these events.
    if (!this.done && !this.closed) {
      this.ahead = this.request();
      // The caller may close instead of asking again; the read-ahead's failure is reported by next().
      this.ahead.catch(() => undefined);
    }
    return events;
  }

  /** Every event, in order; ends at endOffset (or a sealed end); follows the tail otherwise. */
  async *events(): AsyncGenerator<Event> {
    while (!this.done) {
      for (const e of await this.next()) yield e;
    }
  }

  /** Stops the reader: a pending next() rejects with CLOSED and no further read is sent. */
  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private backoff(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, delayMs);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }

  /** One read from requestOffset, retried on retriable errors (connection/segment-retry.ts). */
  private request(): Promise<FrameOf<"SegmentRead">> {
    const offset = this.requestOffset;
    const maxBytes = this.endOffset === undefined ? this.readBytes : Math.min(this.readBytes, this.endOffset - offset);
    return requestSegment(
      this.segment,
      this.connect,
      (conn) =>
        conn.request({ type: "ReadSegment", requestId: conn.nextRequestId(), segment: this.segment, offset, maxBytes, waitMs: this.waitMs }, "SegmentRead", this.waitMs + requestSlackMs),
      {
        what: `reading ${this.segment}`,
        ...(this.retryCountMax === undefined ? {} : { retryCountMax: this.retryCountMax }),
        ...(this.retryDelayMsMin === undefined ? {} : { retryDelayMsMin: this.retryDelayMsMin }),
        wait: (ms) => this.backoff(ms),
        check: () => {
          if (this.closed) throw new ClosedError(`reader of ${this.segment} is closed`);
        },
        stale: this.stale,
      },
    );
  }
}

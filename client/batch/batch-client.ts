/**
 * The batch API: the segment ranges of a stream, and a reader for one range. Ranges are
 * independent, so a job reads them in parallel. `segments` lists every segment from the stream's
 * head (its last truncation) to now, across scaling epochs: sealed predecessors first (by the epoch
 * that created them), each from its start offset to its length at the time of the call. Stream
 * cuts as bounds come with reader groups.
 */
import { InvalidArgumentError } from "../../common/index.js";
import type { FrameOf, WireConnection } from "../../proto/index.js";
import { requestSegment, type ConnectOptions } from "../connection/segment-retry.js";
import { SegmentReader, type Event } from "../reader/segment-reader.js";
import type { SegmentSpan } from "../../proto/index.js";

export interface SegmentRangeToRead {
  segment: string;
  startOffset: number;
  endOffset: number;
}


export interface BatchServices {
  /** Every segment between the stream's head and its tail (GetSegmentsBetween without cuts). */
  segmentsBetween(stream: string): Promise<SegmentSpan[]>;
  /** Connection to the segment store serving `segment`; with `refresh`, asks the controller again where that is. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
}

const requestTimeoutMs = 30_000;

export class BatchClient {
  constructor(private readonly services: BatchServices) {}

  /** Every segment of `stream` from its head to now, predecessors before successors, each from its start offset to its length now. */
  async segments(stream: string): Promise<SegmentRangeToRead[]> {
    const spans = (await this.services.segmentsBetween(stream)).filter((s): s is SegmentSpan & { range: NonNullable<SegmentSpan["range"]> } => s.range !== undefined);
    spans.sort((a, b) => a.range.epoch - b.range.epoch || a.range.number - b.range.number);
    return Promise.all(
      spans.map(async (s) => {
        const info = await this.segmentInfo(s.range.segment);
        const endOffset = s.endOffset < 0 ? info.length : Math.min(s.endOffset, info.length);
        return { segment: s.range.segment, startOffset: Math.min(endOffset, Math.max(s.startOffset, info.startOffset)), endOffset };
      }),
    );
  }

  /** GetSegmentInfo, retried on retriable errors; after one that says the segment may have moved, from a fresh endpoint. */
  private segmentInfo(segment: string): Promise<FrameOf<"SegmentInfo">> {
    return requestSegment(
      segment,
      (s, options) => this.services.connect(s, options),
      (conn) => conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment }, "SegmentInfo", requestTimeoutMs),
      { what: `asking for ${segment}`, stale: { endpoint: false } },
    );
  }

  /** Reads the events of one range, in order. Raises NO_SUCH_SEGMENT, SEGMENT_TRUNCATED, DATA_CORRUPTION. */
  async *read(range: SegmentRangeToRead): AsyncGenerator<Event> {
    if (range.startOffset < 0 || range.endOffset < range.startOffset) {
      throw new InvalidArgumentError(`invalid range ${range.startOffset}..${range.endOffset}`);
    }
    const reader = new SegmentReader(range.segment, (segment, options) => this.services.connect(segment, options), {
      offset: range.startOffset,
      endOffset: range.endOffset,
      waitMs: 0,
    });
    try {
      yield* reader.events();
    } finally {
      reader.close();
    }
  }
}

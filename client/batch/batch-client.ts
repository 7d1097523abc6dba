/**
 * The batch API: the segment ranges of a stream, and a reader for one range. Ranges are
 * independent, so a job reads them in parallel. This foundation version lists the current
 * segments from their start to their length at the time of the call; stream cuts come with reader
 * groups.
 */
import { InvalidArgumentError } from "../../common/index.js";
import type { FrameOf, WireConnection } from "../../proto/index.js";
import { requestSegment, type ConnectOptions } from "../connection/segment-retry.js";
import { SegmentReader, type Event } from "../reader/segment-reader.js";
import type { SegmentRange } from "../../proto/index.js";

export interface SegmentRangeToRead {
  segment: string;
  startOffset: number;
  endOffset: number;
}


export interface BatchServices {
  currentSegments(stream: string): Promise<SegmentRange[]>;
  /** Connection to the segment store serving `segment`; with `refresh`, asks the controller again where that is. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
}

const requestTimeoutMs = 30_000;

export class BatchClient {
  constructor(private readonly services: BatchServices) {}

  /** Every current segment of `stream` as a range from its start offset to its length now. */
  async segments(stream: string): Promise<SegmentRangeToRead[]> {
    const ranges = await this.services.currentSegments(stream);
    return Promise.all(
      ranges.map(async (r) => {
        const info = await this.segmentInfo(r.segment);
        return { segment: r.segment, startOffset: info.startOffset, endOffset: info.length };
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

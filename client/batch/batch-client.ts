/**
 * The batch API: the segment ranges of a stream, and a reader for one range. Ranges are
 * independent, so a job reads them in parallel. This foundation version lists the current
 * segments from their start to their length at the time of the call; stream cuts come with reader
 * groups.
 */
import { InvalidArgumentError, toSluiceError, UnavailableError, type SluiceError } from "../../common/index.js";
import type { FrameOf, WireConnection } from "../../proto/index.js";
import { endpointMayBeStale, SegmentReader, type ConnectOptions, type Event } from "../reader/segment-reader.js";
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
/** Retries of one segment-info request on retriable errors (a container moving between stores), with growing delays. */
const retryCountMax = 12;
const retryDelayMsMin = 50;
const retryDelayMsMax = 5_000;

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
  private async segmentInfo(segment: string): Promise<FrameOf<"SegmentInfo">> {
    let lastError: SluiceError | undefined;
    for (let attempt = 0; attempt <= retryCountMax; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(retryDelayMsMax, retryDelayMsMin * 2 ** (attempt - 1))));
      try {
        const conn = await this.services.connect(segment, lastError !== undefined && endpointMayBeStale(lastError) ? { refresh: true } : {});
        return await conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment }, "SegmentInfo", requestTimeoutMs);
      } catch (err) {
        lastError = toSluiceError(err);
        if (!lastError.retriable) throw lastError;
      }
    }
    throw new UnavailableError(`gave up asking for ${segment} after ${retryCountMax} retries: ${lastError?.message ?? ""}`, { cause: lastError });
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

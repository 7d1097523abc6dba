/**
 * The batch API: the segment ranges of a stream between two stream cuts, and a reader for one
 * range. Ranges are independent, so a job reads them in parallel, in any order and on any number
 * of workers.
 *
 * `segments` lists every segment from the `from` cut (default: the stream's head) through
 * successors to the `to` cut (default: now), across scaling epochs, predecessors before successors
 * (by the epoch that created them), each resolved to concrete offsets: from the cut's offset (or 0
 * for a segment created after it) to the `to` cut's offset (or the segment's length at the time of
 * the call). Together the ranges hold exactly the events written between the two cuts.
 *
 * With Tier-2 access (`Sluice.connect(uri, { tier2 })`), `read` takes the part of a range already
 * in Tier-2 straight from the object store and the rest from the store (tiered-read.ts).
 */
import { InvalidArgumentError, NoSuchSegmentError, SegmentTruncatedError, batchInfoRequestsMax, parseStreamName } from "../../common/index.js";
import type { FrameOf, SegmentSpan, StreamCut, WireConnection } from "../../proto/index.js";
import { segmentInfo, type ConnectOptions } from "../connection/segment-retry.js";
import { SegmentReader, type Event } from "../reader/segment-reader.js";
import { streamOfCut } from "../stream-cut.js";
import { readTiered, type BatchReadStats } from "./tiered-read.js";
import { Tier2Reader, checkTier2Access, type Tier2Access } from "./tier2-reader.js";

export type { BatchReadStats } from "./tiered-read.js";

export interface SegmentRangeToRead {
  segment: string;
  startOffset: number;
  endOffset: number;
}

/** Bounds of `segments`: cuts of the same stream, `to` at or after `from`. */
export interface SegmentsOptions {
  /** Start here (default: the stream's head, where its data starts now). */
  from?: StreamCut;
  /** End here (default: every segment's length at the time of the call). */
  to?: StreamCut;
}

export interface BatchServices {
  /** GetSegmentsBetween: every segment from `from` (default the head) to `to` (default the current segments). */
  segmentsBetween(stream: string, from?: StreamCut, to?: StreamCut): Promise<SegmentSpan[]>;
  /** Connection to the segment store serving `segment`; with `refresh`, asks the controller again where that is. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
}

export class BatchClient {
  private readonly tier2: Tier2Reader | undefined;
  private readonly counters: BatchReadStats = { tier2Bytes: 0, storeBytes: 0, tier2Missing: 0 };

  /** With `tier2`, reads take bytes already in Tier-2 straight from the object store. Raises INVALID_ARGUMENT for a bad `tier2`. */
  constructor(
    private readonly services: BatchServices,
    tier2?: Tier2Access,
  ) {
    if (tier2 !== undefined) checkTier2Access(tier2);
    this.tier2 = tier2 === undefined ? undefined : new Tier2Reader(tier2);
  }

  /** Bytes read so far, by where they came from (store reads count only with Tier-2 access). */
  get stats(): BatchReadStats {
    return { ...this.counters };
  }

  /**
   * Every segment range of `stream` between `options.from` and `options.to` (see the file comment),
   * predecessors before successors. Raises INVALID_NAME, NO_SUCH_STREAM, INVALID_ARGUMENT (a cut
   * that is malformed, of another stream, not a cut of this stream's history, `to` before `from`,
   * or an offset past its segment's length), SEGMENT_TRUNCATED (`from` lies before the stream's
   * head: the data after it is partly deleted). Without `from`, a segment that a truncation deleted
   * after it was listed is left out (it holds nothing after the head).
   */
  async segments(stream: string, options: SegmentsOptions = {}): Promise<SegmentRangeToRead[]> {
    const { scope, stream: name } = parseStreamName(stream);
    const qualified = `${scope}/${name}`;
    for (const [what, cut] of [["from", options.from], ["to", options.to]] as const) {
      if (cut === undefined) continue;
      const of = streamOfCut(cut, what);
      if (of !== qualified) throw new InvalidArgumentError(`${what} is a cut of stream ${of}, not of ${qualified}`);
    }
    const spans = (await this.services.segmentsBetween(qualified, options.from, options.to)).filter(
      (s): s is SegmentSpan & { range: NonNullable<SegmentSpan["range"]> } => s.range !== undefined,
    );
    // The controller lists them by creating epoch; keep that order whatever it does within an epoch.
    spans.sort((a, b) => a.range.epoch - b.range.epoch);
    const explicitFrom = options.from !== undefined;
    const connect = (s: string, o?: ConnectOptions) => this.services.connect(s, o);
    const ranges = await mapBounded(spans, batchInfoRequestsMax, async (s): Promise<SegmentRangeToRead | undefined> => {
      const segment = s.range.segment;
      let info: FrameOf<"SegmentInfo">;
      try {
        info = await segmentInfo(segment, connect, { endpoint: false });
      } catch (err) {
        if (!(err instanceof NoSuchSegmentError)) throw err;
        // Truncation deletes every segment wholly before the new head: from a given cut, events
        // after it are gone; from the head, one deleted since it was listed holds nothing to read.
        if (explicitFrom) throw new SegmentTruncatedError(`${segment} was deleted by a truncation: from lies before the stream's head; take a newer cut (admin.headCut)`, { cause: err });
        return undefined;
      }
      if (s.endOffset > info.length) throw new InvalidArgumentError(`to: offset ${s.endOffset} of ${segment} is past its length ${info.length}`);
      const endOffset = s.endOffset < 0 ? info.length : s.endOffset;
      if (s.startOffset > endOffset) throw new InvalidArgumentError(`from: offset ${s.startOffset} of ${segment} is past its end ${endOffset}`);
      let startOffset = s.startOffset;
      if (startOffset < info.startOffset) {
        // From the head, the data simply starts later now; from a given cut, events after it are gone.
        if (explicitFrom) {
          throw new SegmentTruncatedError(`${segment} starts at ${info.startOffset} now, after offset ${startOffset}: from lies before the stream's head; take a newer cut (admin.headCut)`);
        }
        startOffset = Math.min(endOffset, info.startOffset);
      }
      return { segment, startOffset, endOffset };
    });
    return ranges.filter((r) => r !== undefined);
  }

  /**
   * Reads the events of one range, in order. Raises NO_SUCH_SEGMENT, SEGMENT_TRUNCATED,
   * DATA_CORRUPTION, INVALID_ARGUMENT (a range that is not one, or ends inside an event); with
   * Tier-2 access also the object store's AUTH_FAILED and UNAVAILABLE.
   */
  async *read(range: SegmentRangeToRead): AsyncGenerator<Event> {
    if (!Number.isSafeInteger(range.startOffset) || !Number.isSafeInteger(range.endOffset) || range.startOffset < 0 || range.endOffset < range.startOffset) {
      throw new InvalidArgumentError(`invalid range ${range.startOffset}..${range.endOffset}`);
    }
    if (this.tier2 !== undefined) {
      if (range.endOffset > range.startOffset) {
        yield* readTiered({ connect: (s, o) => this.services.connect(s, o), tier2: this.tier2, stats: this.counters }, range.segment, range.startOffset, range.endOffset);
      }
      return;
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

  /** Lets go of the object store's connections (with Tier-2 access); reads after it fail. */
  close(): void {
    this.tier2?.close();
  }
}

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

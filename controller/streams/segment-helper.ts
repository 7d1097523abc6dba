/**
 * SegmentOps over the data plane. Containers move between segment stores (a store dies, another
 * takes its containers over), so every attempt resolves the segment's endpoint again, and retriable
 * failures (WRONG_HOST, CONTAINER_NOT_READY, CONNECTION_CLOSED, UNAVAILABLE, OVERLOADED, TIMEOUT)
 * are retried with doubling backoff for a bounded number of attempts and a bounded total time, the
 * last failure then raised. A workflow that still fails is left in its stream's slot and resumed
 * later, so giving up here loses nothing.
 *
 * Waiting is pointless when no store can serve the segment's container soon (none is registered,
 * no fallback is configured): NO_SEGMENT_STORE from the endpoint lookup is raised at once, and so
 * is the resolver's NO_SEGMENT_STORE after a store that cannot be reached (a dead owner, with no
 * live store to take its containers over). Before, such a call retried for a minute and its caller
 * saw its own deadline pass (issue 18, case 9).
 */
import { NoSegmentStoreError, NoSuchSegmentError, SegmentExistsError, SluiceError, systemClock, type Clock } from "../../common/index.js";
import { ConnectionPool, type Endpoint, type FrameOf, type RequestFrame, type WireConnection } from "../../proto/index.js";
import type { CreateSegmentOptions, SegmentInfo, SegmentOps } from "./segment-ops.js";

export type { Endpoint };

/** Deadline of one request to a segment store. */
export const segmentRequestTimeoutMs = 10_000;
/** Backoff before the first retry; it doubles up to segmentRetryBackoffMsMax. */
export const segmentRetryBackoffMsMin = 50;
export const segmentRetryBackoffMsMax = 5_000;
/** Attempts of one call at most, and the time after which no new attempt starts. */
export const segmentCallAttemptsMax = 30;
export const segmentCallRetryMsMax = 60_000;

type ReplyType = "SegmentCreated" | "SegmentSealed" | "SegmentTruncated" | "SegmentsMerged" | "SegmentDeleted" | "SegmentInfo";
type RequestType = "CreateSegment" | "SealSegment" | "TruncateSegment" | "MergeSegments" | "DeleteSegment" | "GetSegmentInfo";
/** A request frame without its requestId (each attempt takes a fresh one on its connection). */
type RequestBody = { [K in RequestType]: Omit<FrameOf<K>, "requestId"> }[RequestType];

/** How the SegmentOps find a segment's store. */
export interface SegmentResolver {
  /** The store serving the segment now (see resolveEndpoint), asked before every attempt. */
  endpointOf(segment: string): Promise<Endpoint>;
  /**
   * Asked after the store could not be reached: the error to raise at once when no store can
   * serve the segment soon (see whyUnserved in segment-ops.ts), else undefined (retry).
   */
  whyUnserved?(segment: string): Promise<SluiceError | undefined>;
}

/**
 * Owns the data-plane connections of the controller. `opsFor` gives the SegmentOps that find each
 * segment's store through `resolver`.
 */
export class SegmentHelper {
  private readonly pool = new ConnectionPool();

  constructor(private readonly clock: Clock = systemClock) {}

  opsFor(resolver: SegmentResolver): SegmentOps {
    return new WireSegmentOps(this.pool, resolver, this.clock);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

class WireSegmentOps implements SegmentOps {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly resolver: SegmentResolver,
    private readonly clock: Clock,
  ) {}

  async createSegment(segment: string, options: CreateSegmentOptions = {}): Promise<void> {
    try {
      await this.call(segment, { type: "CreateSegment", segment }, "SegmentCreated", options.waitMsMax);
    } catch (err) {
      if (err instanceof SegmentExistsError) return;
      throw err;
    }
  }

  async sealSegment(segment: string): Promise<number> {
    return (await this.call(segment, { type: "SealSegment", segment }, "SegmentSealed")).length;
  }

  async mergeSegments(target: string, source: string): Promise<number> {
    // The target's container serves the merge (the source lives in the same one).
    return (await this.call(target, { type: "MergeSegments", target, source }, "SegmentsMerged")).targetLength;
  }

  async truncateSegment(segment: string, offset: number): Promise<void> {
    await this.call(segment, { type: "TruncateSegment", segment, startOffset: offset }, "SegmentTruncated");
  }

  async deleteSegment(segment: string): Promise<void> {
    try {
      await this.call(segment, { type: "DeleteSegment", segment }, "SegmentDeleted");
    } catch (err) {
      if (err instanceof NoSuchSegmentError) return;
      throw err;
    }
  }

  async segmentInfo(segment: string): Promise<SegmentInfo> {
    const reply = await this.call(segment, { type: "GetSegmentInfo", segment }, "SegmentInfo");
    return { startOffset: reply.startOffset, length: reply.length, sealed: reply.sealed };
  }

  /**
   * One request with retries (see the file comment), for at most `waitMsMax` (default and most
   * segmentCallRetryMsMax); each request's own deadline ends with it.
   */
  private async call<T extends ReplyType>(segment: string, body: RequestBody, expect: T, waitMsMax = segmentCallRetryMsMax): Promise<FrameOf<T>> {
    const deadlineMs = this.clock.monotonicMs() + Math.max(1, Math.min(waitMsMax, segmentCallRetryMsMax));
    let backoffMs = segmentRetryBackoffMsMin;
    for (let attempt = 1; ; attempt++) {
      try {
        const endpoint = await this.resolver.endpointOf(segment);
        const conn = await this.connect(segment, endpoint);
        const frame: RequestFrame = { ...body, requestId: conn.nextRequestId() };
        const timeoutMs = Math.max(1, Math.min(segmentRequestTimeoutMs, deadlineMs - this.clock.monotonicMs()));
        return await conn.request(frame, expect, timeoutMs);
      } catch (err) {
        const retriable = err instanceof SluiceError && err.retriable && !(err instanceof NoSegmentStoreError);
        if (!retriable || attempt >= segmentCallAttemptsMax || this.clock.monotonicMs() + backoffMs >= deadlineMs) throw err;
      }
      await new Promise<void>((resolve) => this.clock.setTimer(backoffMs, resolve));
      backoffMs = Math.min(backoffMs * 2, segmentRetryBackoffMsMax);
    }
  }

  /** A connection to `endpoint`; when none can be made, NO_SEGMENT_STORE if the resolver says no store can serve the segment soon. */
  private async connect(segment: string, endpoint: Endpoint): Promise<WireConnection> {
    try {
      return await this.pool.get(endpoint);
    } catch (err) {
      // A closed pool (the controller stopping) is not a store that cannot be reached.
      if (!(err instanceof SluiceError && err.retriable)) throw err;
      const why = await this.resolver.whyUnserved?.(segment);
      if (why === undefined) throw err;
      throw new NoSegmentStoreError(`${why.message} (the store last recorded for it, ${endpoint.host}:${endpoint.port}, cannot be reached)`, { cause: err });
    }
  }
}

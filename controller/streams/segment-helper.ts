/**
 * SegmentOps over the data plane. Containers move between segment stores (a store dies, another
 * takes its containers over), so every attempt resolves the segment's endpoint again, and retriable
 * failures (WRONG_HOST, CONTAINER_NOT_READY, CONNECTION_CLOSED, UNAVAILABLE, OVERLOADED, TIMEOUT)
 * are retried with doubling backoff for a bounded number of attempts and a bounded total time, the
 * last failure then raised. A workflow that still fails is left in its stream's slot and resumed
 * later, so giving up here loses nothing.
 */
import { NoSuchSegmentError, SegmentExistsError, SluiceError, systemClock, type Clock } from "../../common/index.js";
import { ConnectionPool, type Endpoint, type FrameOf, type RequestFrame } from "../../proto/index.js";
import type { SegmentInfo, SegmentOps } from "./segment-ops.js";

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

/**
 * Owns the data-plane connections of the controller. `opsFor` gives the SegmentOps that find each
 * segment's store through `endpointOf`, asked before every attempt (see resolveEndpoint).
 */
export class SegmentHelper {
  private readonly pool = new ConnectionPool();

  constructor(private readonly clock: Clock = systemClock) {}

  opsFor(endpointOf: (segment: string) => Promise<Endpoint>): SegmentOps {
    return new WireSegmentOps(this.pool, endpointOf, this.clock);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

class WireSegmentOps implements SegmentOps {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly endpointOf: (segment: string) => Promise<Endpoint>,
    private readonly clock: Clock,
  ) {}

  async createSegment(segment: string): Promise<void> {
    try {
      await this.call(segment, { type: "CreateSegment", segment }, "SegmentCreated");
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

  private async call<T extends ReplyType>(segment: string, body: RequestBody, expect: T): Promise<FrameOf<T>> {
    const deadlineMs = this.clock.monotonicMs() + segmentCallRetryMsMax;
    let backoffMs = segmentRetryBackoffMsMin;
    for (let attempt = 1; ; attempt++) {
      try {
        const conn = await this.pool.get(await this.endpointOf(segment));
        const frame: RequestFrame = { ...body, requestId: conn.nextRequestId() };
        return await conn.request(frame, expect, segmentRequestTimeoutMs);
      } catch (err) {
        const retriable = err instanceof SluiceError && err.retriable;
        if (!retriable || attempt >= segmentCallAttemptsMax || this.clock.monotonicMs() + backoffMs >= deadlineMs) throw err;
      }
      await new Promise<void>((resolve) => this.clock.setTimer(backoffMs, resolve));
      backoffMs = Math.min(backoffMs * 2, segmentRetryBackoffMsMax);
    }
  }
}

/**
 * Segment management requests of the data plane (wire.md, "Segment management"): each frame maps
 * to one container call and one reply frame. Errors are raised (thrown or rejected) as typed
 * errors; the connection handler turns them into Error frames for the request.
 */
import { InvalidArgumentError, unreachable } from "../../common/index.js";
import type { Frame, FrameOf } from "../../proto/index.js";
import type { SegmentContainer } from "../container/segment-container.js";

export type ManagementFrame = FrameOf<"CreateSegment" | "GetSegmentInfo" | "SealSegment" | "TruncateSegment" | "MergeSegments" | "DeleteSegment" | "UpdateAttributes" | "GetAttributes" | "GetChunks">;

/** The segment whose container serves `frame` (the target of a merge). */
export function segmentOf(frame: ManagementFrame): string {
  return frame.type === "MergeSegments" ? frame.target : frame.segment;
}

/**
 * Runs `frame` on container `c` (which serves `segmentOf(frame)`; `lookup` finds the container of
 * another segment); resolves with the reply.
 */
export async function serveManagement(frame: ManagementFrame, c: SegmentContainer, lookup: (segment: string) => SegmentContainer): Promise<Frame> {
  const requestId = frame.requestId;
  switch (frame.type) {
    case "CreateSegment":
      await c.createSegment(frame.segment);
      return { type: "SegmentCreated", requestId, segment: frame.segment };
    case "GetSegmentInfo": {
      const i = c.info(frame.segment);
      return { type: "SegmentInfo", requestId, segment: frame.segment, startOffset: i.startOffset, length: i.length, sealed: i.sealed, lastModifiedMs: i.lastModifiedMs };
    }
    case "SealSegment":
      return { type: "SegmentSealed", requestId, segment: frame.segment, length: await c.seal(frame.segment) };
    case "TruncateSegment":
      return { type: "SegmentTruncated", requestId, segment: frame.segment, startOffset: await c.truncate(frame.segment, frame.startOffset) };
    case "MergeSegments": {
      if (lookup(frame.source) !== c) {
        throw new InvalidArgumentError(`${frame.source} and ${frame.target} live in different containers; only segments of one container can be merged`);
      }
      const targetLength = await c.merge(frame.target, frame.source);
      return { type: "SegmentsMerged", requestId, target: frame.target, source: frame.source, targetLength };
    }
    case "DeleteSegment":
      await c.deleteSegment(frame.segment);
      return { type: "SegmentDeleted", requestId, segment: frame.segment };
    case "UpdateAttributes":
      await c.updateAttributes(frame.segment, frame.updates);
      return { type: "AttributesUpdated", requestId, segment: frame.segment };
    case "GetAttributes": {
      const values = c.getAttributes(frame.segment, frame.ids);
      return { type: "AttributesRead", requestId, segment: frame.segment, values: frame.ids.map((id, i) => ({ id, value: values[i]! })) };
    }
    case "GetChunks": {
      const chunks = c.chunks(frame.segment, frame.offset, frame.maxCount).map((k) => ({ name: k.name, offset: k.offset, length: k.length }));
      return { type: "ChunksListed", requestId, segment: frame.segment, chunks };
    }
    default:
      return unreachable(frame, "management frame");
  }
}

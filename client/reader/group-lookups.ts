/**
 * What a reader group asks the controller and the segment stores: cuts and their segments,
 * successors, whether a stream is sealed, segment lengths. Each call is retried as the controller
 * client and segment-retry.ts retry; its typed errors reach the caller.
 */
import { InvalidArgumentError, NoSuchSegmentError, parseStreamName, type Clock } from "../../common/index.js";
import type { ControllerMethod, ControllerMethods, FrameOf, SegmentRange, StreamCut, WireConnection } from "../../proto/index.js";
import { requestSegment, segmentInfo, type ConnectFn } from "../connection/segment-retry.js";
import { streamOfCut } from "../stream-cut.js";
import type { PositionedRange, SuccessorRange } from "./group-state.js";

/** What a reader group needs from the client: controller calls and connections to segment stores. */
export interface ReaderGroupServices {
  call<M extends ControllerMethod>(method: M, request: ControllerMethods[M][0]): Promise<ControllerMethods[M][1]>;
  connect: ConnectFn;
  /** The system clock unless a test injects one. */
  clock?: Clock;
  /** Called once a group opened with these services is closed (the client forgets it). */
  closed?: (group: object) => void;
}

const requestTimeoutMs = 30_000;

function rangeOf(r: SegmentRange | undefined, what: string): SegmentRange {
  if (r === undefined) throw new InvalidArgumentError(`controller answered ${what} without a segment range`);
  return r;
}

/**
 * `cuts` keyed by stream. Raises INVALID_ARGUMENT for a cut of a stream not in `streams`, two cuts
 * of one stream, or a cut that is not well formed (stream-cut.ts: empty, of several streams, a bad
 * segment name or offset).
 */
export function cutsByStream(cuts: StreamCut | readonly StreamCut[], streams: readonly string[], what: string): Map<string, StreamCut> {
  const list: readonly StreamCut[] = Array.isArray(cuts) ? cuts : [cuts as StreamCut];
  const out = new Map<string, StreamCut>();
  for (const cut of list) {
    if (typeof cut !== "object" || !Array.isArray(cut.positions)) throw new InvalidArgumentError(`${what} must be a stream cut ({ positions: [{ segment, offset }] }) or a list of them`);
    const stream = streamOfCut(cut, what);
    if (!streams.includes(stream)) throw new InvalidArgumentError(`${what} names stream ${stream}, which the group does not read (it reads ${streams.join(", ")})`);
    if (out.has(stream)) throw new InvalidArgumentError(`${what} holds two cuts of stream ${stream}`);
    out.set(stream, cut);
  }
  return out;
}

export class GroupLookups {
  private readonly stale = { endpoint: false };

  constructor(private readonly services: ReaderGroupServices) {}

  /** The stream's head or tail cut now. Raises NO_SUCH_STREAM. */
  async endCut(stream: string, which: "head" | "tail"): Promise<StreamCut> {
    const { scope, stream: name } = parseStreamName(stream);
    const r = await this.services.call("GetStream", { scope, stream: name });
    return (which === "head" ? r.head : r.tail) ?? { positions: [] };
  }

  /** Whether the stream is sealed (no successor will ever come). Raises NO_SUCH_STREAM. */
  async sealed(stream: string): Promise<boolean> {
    const { scope, stream: name } = parseStreamName(stream);
    return (await this.services.call("GetStream", { scope, stream: name })).sealed;
  }

  /** The segments of `cut` with their key ranges and offsets. Raises NO_SUCH_STREAM, INVALID_ARGUMENT (a cut that is not one of the stream). */
  async segmentsAt(stream: string, cut: StreamCut): Promise<PositionedRange[]> {
    const { scope, stream: name } = parseStreamName(stream);
    const r = await this.services.call("GetSegmentsAtCut", { scope, stream: name, cut });
    return r.segments.map((p) => {
      const range = rangeOf(p.range, "GetSegmentsAtCut");
      return { segment: range.segment, keyStart: range.keyStart, keyEnd: range.keyEnd, offset: p.offset };
    });
  }

  /** The names of every segment between `from` and `to` (to each current segment's tail without `to`). Raises INVALID_ARGUMENT when `to` lies before `from`. */
  async between(stream: string, from: StreamCut, to: StreamCut | undefined): Promise<{ segment: string; startOffset: number; endOffset: number }[]> {
    const { scope, stream: name } = parseStreamName(stream);
    const r = await this.services.call("GetSegmentsBetween", { scope, stream: name, from, ...(to === undefined ? {} : { to }) });
    return r.segments.map((s) => ({ segment: rangeOf(s.range, "GetSegmentsBetween").segment, startOffset: s.startOffset, endOffset: s.endOffset }));
  }

  /** The successors of `segment` with all their predecessors; empty while it is not sealed by a committed scale. */
  async successors(segment: string): Promise<SuccessorRange[]> {
    const r = await this.services.call("GetSuccessors", { segment });
    return r.successors.map((x) => {
      const range = rangeOf(x.range, "GetSuccessors");
      return { segment: range.segment, keyStart: range.keyStart, keyEnd: range.keyEnd, predecessors: x.predecessors };
    });
  }

  /** The segment's start offset and length now (GetSegmentInfo, retried). */
  segmentInfo(segment: string): Promise<FrameOf<"SegmentInfo">> {
    return segmentInfo(segment, this.services.connect, this.stale);
  }

  /** Deletes a segment; false if there was none. */
  async deleteSegment(segment: string): Promise<boolean> {
    try {
      await this.request(segment, (conn) => conn.request({ type: "DeleteSegment", requestId: conn.nextRequestId(), segment }, "SegmentDeleted", requestTimeoutMs));
      return true;
    } catch (err) {
      if (err instanceof NoSuchSegmentError) return false;
      throw err;
    }
  }

  /** Bytes between `from` and `to` (or the tails): the sum over the segments between them of what is left of each. */
  async bytesBetween(stream: string, from: StreamCut, to: StreamCut | undefined): Promise<number> {
    let total = 0;
    for (const span of await this.between(stream, from, to)) {
      const end = span.endOffset >= 0 ? span.endOffset : (await this.segmentInfo(span.segment)).length;
      total += Math.max(0, end - span.startOffset);
    }
    return total;
  }

  private request<F>(segment: string, send: (conn: WireConnection) => Promise<F>): Promise<F> {
    return requestSegment(segment, this.services.connect, send, { what: `asking for ${segment}`, stale: this.stale });
  }
}

/**
 * The seams between the controller's parts. The stream service (streams/) implements StreamOps;
 * the auto-scaler (scaling/) and retention (retention/) drive it from the leader's background
 * loops; membership (cluster/) supplies load reports and live stores. Each part is unit-tested
 * against fakes of these interfaces, and controller/index.ts wires the real ones together.
 */
import type { KeyRange, RetentionPolicy, ScaleResponse, ScalingPolicy, SegmentLoadReport, SegmentRange, StreamCut } from "../proto/index.js";

/** A stream the background loops look after, with its full config (defaults filled in). */
export interface StreamSummary {
  scope: string;
  stream: string;
  scaling: ScalingPolicy;
  retention: RetentionPolicy;
}

export interface CurrentSegment {
  range: SegmentRange;
  /** When the epoch that created this segment was committed (wall clock, ms). */
  createdAtMs: number;
}

export interface TailCut {
  /** The current segments at their lengths, all of epoch `epoch`. */
  cut: StreamCut;
  epoch: number;
  /** Bytes from the stream's very start (sealed segments included, truncation ignored) to `cut`. */
  sizeBytes: number;
}

export interface StreamOps {
  /** Every stream that is active (not sealed, not being deleted), in key order. */
  listActiveStreams(): Promise<StreamSummary[]>;
  /** The current epoch and its segments. Raises NO_SUCH_STREAM. */
  currentSegments(scope: string, stream: string): Promise<{ epoch: number; segments: CurrentSegment[] }>;
  /**
   * Seals `seal` and replaces them by segments over `newRanges`, as one resumable workflow; resolves
   * once the new epoch is committed. Raises CONDITIONAL_CHECK_FAILED when a segment of `seal` is no
   * longer current (another scale won), INVALID_ARGUMENT when the ranges do not cover exactly the
   * sealed ones or the stream would end with fewer than its policy's minSegments (checked when the
   * scale executes), STREAM_SEALED, NO_SUCH_STREAM.
   */
  scale(scope: string, stream: string, seal: readonly string[], newRanges: readonly KeyRange[]): Promise<ScaleResponse>;
  /** The tail cut now, or undefined when a scale committed while it was measured (try later). */
  tailCut(scope: string, stream: string): Promise<TailCut | undefined>;
  /** Moves the stream's head to `cut` (see TruncateStream). */
  truncate(scope: string, stream: string, cut: StreamCut): Promise<void>;
}

/** A segment's latest load as reported by the store serving it. */
export interface SegmentLoadSample extends SegmentLoadReport {
  /** The report's windows, shortest first (eventsPerSec[i] is the average over windowsMs[i]). */
  windowsMs: number[];
  /** When the controller received the report (wall clock, ms). */
  receivedAtMs: number;
}

export interface LoadSource {
  /** The latest report of every segment, by segment name; reports older than a few report intervals are left out. */
  loadReports(): Promise<Map<string, SegmentLoadSample>>;
}

export interface Leadership {
  /** True while this controller holds the leader lease; background loops do nothing otherwise. */
  isLeader(): boolean;
}

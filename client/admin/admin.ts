/** Scopes and streams, through the controller. */
import { InternalError, InvalidArgumentError, parseStreamName, validateName } from "../../common/index.js";
import type { GetStreamResponse, KeyRange, RetentionPolicy, ScaleResponse, ScalingPolicy, StreamCut, StreamConfig } from "../../proto/index.js";
import type { ControllerClient } from "../controller/controller-client.js";

/**
 * How a stream scales:
 * - `fixed`: exactly `minSegments` segments;
 * - `byEventRate`: split a segment above `targetRate` events/s (merge cold neighbours), into at most `scaleFactor` parts;
 * - `byDataRate`: the same with `targetKiBps` KiB/s.
 * Rate policies never go below `minSegments`.
 */
export type ScalingOptions =
  | { type: "fixed"; minSegments: number }
  | { type: "byEventRate"; targetRate: number; scaleFactor: number; minSegments: number }
  | { type: "byDataRate"; targetKiBps: number; scaleFactor: number; minSegments: number };

/** How long data is kept: truncate below the newest point older than `limitMs`, or keep at least `limitBytes`. */
export type RetentionOptions = { type: "none" } | { type: "byTime"; limitMs: number } | { type: "bySize"; limitBytes: number };

export interface StreamOptions {
  scaling?: ScalingOptions;
  retention?: RetentionOptions;
}

function scalingPolicy(s: ScalingOptions): ScalingPolicy {
  switch (s.type) {
    case "fixed":
      return { type: "FIXED", minSegments: s.minSegments, targetRate: 0, scaleFactor: 0 };
    case "byEventRate":
      return { type: "BY_EVENT_RATE", minSegments: s.minSegments, targetRate: s.targetRate, scaleFactor: s.scaleFactor };
    case "byDataRate":
      return { type: "BY_DATA_RATE", minSegments: s.minSegments, targetRate: s.targetKiBps, scaleFactor: s.scaleFactor };
    default:
      throw new InvalidArgumentError(`scaling type ${String((s as { type: unknown }).type)} is not known; use fixed, byEventRate or byDataRate`);
  }
}

function retentionPolicy(r: RetentionOptions): RetentionPolicy {
  switch (r.type) {
    case "none":
      return { type: "RETENTION_NONE", limit: 0 };
    case "byTime":
      return { type: "BY_TIME", limit: r.limitMs };
    case "bySize":
      return { type: "BY_SIZE", limit: r.limitBytes };
    default:
      throw new InvalidArgumentError(`retention type ${String((r as { type: unknown }).type)} is not known; use none, byTime or bySize`);
  }
}

function streamConfig(options: StreamOptions): StreamConfig {
  return {
    scaling: scalingPolicy(options.scaling ?? { type: "fixed", minSegments: 1 }),
    retention: retentionPolicy(options.retention ?? { type: "none" }),
  };
}

export class Admin {
  constructor(private readonly controller: ControllerClient) {}

  /** Creates a scope; false if it exists. Raises INVALID_NAME. */
  async createScope(scope: string): Promise<boolean> {
    validateName("scope", scope);
    return (await this.controller.call("CreateScope", { scope })).created;
  }

  async listScopes(): Promise<string[]> {
    return (await this.controller.call("ListScopes", {})).scopes;
  }

  /** Deletes an empty scope; false if there was none. Raises SCOPE_NOT_EMPTY. */
  async deleteScope(scope: string): Promise<boolean> {
    validateName("scope", scope);
    return (await this.controller.call("DeleteScope", { scope })).deleted;
  }

  /** Creates `scope/stream`; false if it exists. Raises INVALID_NAME, INVALID_ARGUMENT, NO_SUCH_SCOPE. */
  async createStream(stream: string, options: StreamOptions = {}): Promise<boolean> {
    const { scope, stream: name } = parseStreamName(stream);
    return (await this.controller.call("CreateStream", { scope, stream: name, config: streamConfig(options) })).created;
  }

  /** Replaces the stream's scaling and retention policies (a fixed count that changes scales the stream). */
  async updateStream(stream: string, options: StreamOptions): Promise<void> {
    const { scope, stream: name } = parseStreamName(stream);
    await this.controller.call("UpdateStream", { scope, stream: name, config: streamConfig(options) });
  }

  /** Seals every segment: writes fail SEGMENT_SEALED from then on, readers reach the end. */
  async sealStream(stream: string): Promise<void> {
    const { scope, stream: name } = parseStreamName(stream);
    await this.controller.call("SealStream", { scope, stream: name });
  }

  /** Deletes a sealed stream and its data. Raises STREAM_NOT_SEALED. */
  async deleteStream(stream: string): Promise<void> {
    const { scope, stream: name } = parseStreamName(stream);
    await this.controller.call("DeleteStream", { scope, stream: name });
  }

  /** Moves the stream's head to `cut`; data below it is deleted. */
  async truncateStream(stream: string, cut: StreamCut): Promise<void> {
    const { scope, stream: name } = parseStreamName(stream);
    await this.controller.call("TruncateStream", { scope, stream: name, cut });
  }

  /** Seals `seal` (current segments) and replaces them by segments over `newRanges` (covering the same keys). */
  async scaleStream(stream: string, seal: string[], newRanges: KeyRange[]): Promise<ScaleResponse> {
    const { scope, stream: name } = parseStreamName(stream);
    return this.controller.call("Scale", { scope, stream: name, seal, newRanges });
  }

  /** Names of the streams of a scope. Raises NO_SUCH_SCOPE. */
  async listStreams(scope: string): Promise<string[]> {
    validateName("scope", scope);
    return (await this.controller.call("ListStreams", { scope })).streams;
  }

  /** Config, current segments, and head and tail cuts of `scope/stream`. Raises NO_SUCH_STREAM. */
  async streamInfo(stream: string): Promise<GetStreamResponse> {
    const { scope, stream: name } = parseStreamName(stream);
    return this.controller.call("GetStream", { scope, stream: name });
  }

  /**
   * The stream's head: where its data starts now (its last truncation cut, or every first segment
   * at offset 0). Raises INVALID_NAME, NO_SUCH_STREAM.
   */
  async headCut(stream: string): Promise<StreamCut> {
    return cutOf(stream, "head", (await this.streamInfo(stream)).head);
  }

  /**
   * The stream's tail: each current segment at its length now. Events acknowledged before the call
   * lie before it; events written while it runs may fall on either side (each segment is measured
   * on its own). Raises INVALID_NAME, NO_SUCH_STREAM.
   */
  async tailCut(stream: string): Promise<StreamCut> {
    return cutOf(stream, "tail", (await this.streamInfo(stream)).tail);
  }
}

function cutOf(stream: string, which: string, cut: StreamCut | undefined): StreamCut {
  // GetStream always answers both cuts; a reply without one is a controller fault, not the caller's.
  if (cut === undefined || cut.positions.length === 0) throw new InternalError(`the controller described ${stream} without a ${which} cut`);
  return cut;
}

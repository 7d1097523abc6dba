/**
 * Stream config validation. A config arrives from a client with proto3 defaults (absent messages,
 * zero scalars); this fills the defaults in and checks every field, raising INVALID_ARGUMENT that
 * names the field and its allowed range, so what is stored is always complete and valid.
 */
import { InvalidArgumentError, scaleFactorMax, streamSegmentsMax } from "../../common/index.js";
import type { RetentionPolicy, ScalingPolicy, StreamConfig } from "../../proto/index.js";
import type { FullStreamConfig } from "./stream-metadata.js";

/** The shortest time-based retention: less would truncate data as it is written. */
export const retentionTimeMsMin = 1_000;

function integerIn(field: string, value: number, min: number, max: number, why = ""): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${field} must be an integer in [${min}, ${max}]${why}, got ${value}`);
  }
  return value;
}

function zero(field: string, value: number, type: string): void {
  if (value !== 0) throw new InvalidArgumentError(`${field} must be 0 for ${type}, got ${value}`);
}

function validateScaling(scaling: ScalingPolicy | undefined): ScalingPolicy {
  // An absent policy, or one without a type, is the simplest stream: FIXED with minSegments (at least 1).
  if (scaling === undefined) return { type: "FIXED", minSegments: 1, targetRate: 0, scaleFactor: 0 };
  switch (scaling.type) {
    case "SCALING_TYPE_UNSPECIFIED":
    case "FIXED": {
      const minSegments = scaling.type === "FIXED" || scaling.minSegments !== 0 ? scaling.minSegments : 1;
      integerIn("scaling.minSegments", minSegments, 1, streamSegmentsMax, " (the segment count of a FIXED policy)");
      zero("scaling.targetRate", scaling.targetRate, "FIXED");
      zero("scaling.scaleFactor", scaling.scaleFactor, "FIXED");
      return { type: "FIXED", minSegments, targetRate: 0, scaleFactor: 0 };
    }
    case "BY_EVENT_RATE":
    case "BY_DATA_RATE":
      integerIn("scaling.targetRate", scaling.targetRate, 1, 0xffff_ffff, scaling.type === "BY_EVENT_RATE" ? " (events/s per segment)" : " (KiB/s per segment)");
      integerIn("scaling.scaleFactor", scaling.scaleFactor, 2, scaleFactorMax, " (most parts one split makes)");
      integerIn("scaling.minSegments", scaling.minSegments, 1, streamSegmentsMax);
      return { type: scaling.type, minSegments: scaling.minSegments, targetRate: scaling.targetRate, scaleFactor: scaling.scaleFactor };
    default:
      throw new InvalidArgumentError(`scaling.type must be FIXED, BY_EVENT_RATE or BY_DATA_RATE, got ${String((scaling as { type: unknown }).type)}`);
  }
}

function validateRetention(retention: RetentionPolicy | undefined): RetentionPolicy {
  if (retention === undefined) return { type: "RETENTION_NONE", limit: 0 };
  switch (retention.type) {
    case "RETENTION_NONE":
      zero("retention.limit", retention.limit, "RETENTION_NONE");
      return { type: "RETENTION_NONE", limit: 0 };
    case "BY_TIME":
      integerIn("retention.limit", retention.limit, retentionTimeMsMin, Number.MAX_SAFE_INTEGER, " (milliseconds kept)");
      return { type: "BY_TIME", limit: retention.limit };
    case "BY_SIZE":
      integerIn("retention.limit", retention.limit, 1, Number.MAX_SAFE_INTEGER, " (bytes kept)");
      return { type: "BY_SIZE", limit: retention.limit };
    default:
      throw new InvalidArgumentError(`retention.type must be RETENTION_NONE, BY_TIME or BY_SIZE, got ${String((retention as { type: unknown }).type)}`);
  }
}

/** Checks a config from a client and fills in its defaults. Raises INVALID_ARGUMENT naming the field. */
export function validateStreamConfig(config: StreamConfig | undefined): FullStreamConfig {
  return { scaling: validateScaling(config?.scaling), retention: validateRetention(config?.retention) };
}

/** The fewest segments the policy allows a scale to leave (FIXED: its count). */
export function minSegmentsOf(config: FullStreamConfig): number {
  return config.scaling.minSegments;
}

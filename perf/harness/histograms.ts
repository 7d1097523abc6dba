/**
 * Latency histograms that cross process boundaries. Each worker process records latencies into an
 * HDR histogram and periodically sends it, compressed and base64-encoded, as a plain JSON-able
 * object (child_process IPC messages are JSON); the coordinator decodes and merges them. Merging
 * HDR histograms is exact at their precision, where averaging per-worker percentiles is not.
 *
 * Values are recorded in microseconds with 3 significant digits, up to one minute, using the
 * library's JavaScript implementation (no WebAssembly, so no start-up step or shared memory).
 */
import * as hdr from "hdr-histogram-js";
import { InvalidArgumentError, assert } from "../../common/index.js";
import { encodedHistogramCharsMax, latencyUsMax } from "./limits.js";

export type Histogram = hdr.Histogram;

/** What a worker sends: one compressed HDR histogram (the V2 encoding), in base64. */
export interface EncodedHistogram {
  readonly encoding: typeof encodingName;
  readonly base64: string;
}

/** Percentiles and the rest, in milliseconds. An empty histogram gives all zeros. */
export interface LatencySummary {
  count: number;
  p50: number;
  p75: number;
  p95: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
  mean: number;
}

const encodingName = "hdr-v2-compressed-base64";
const usPerMs = 1000;
const lowestDiscernibleUs = 1;
const significantDigits = 3;

function newHistogram(bitBucketSize: hdr.BitBucketSize): Histogram {
  return hdr.build({
    bitBucketSize,
    lowestDiscernibleValue: lowestDiscernibleUs,
    highestTrackableValue: latencyUsMax,
    numberOfSignificantValueDigits: significantDigits,
    useWebAssembly: false,
  });
}

/** Records latencies between snapshots; one per worker (or per producer), not shared. */
export class LatencyRecorder {
  // 32-bit counts: a snapshot interval of one worker stays far below 2^32 records per bucket.
  private readonly histogram = newHistogram(32);

  /**
   * Records one latency. Values outside [0, 60 s] are recorded at the nearer bound rather than
   * dropped, so every operation is counted and a saturated maximum reads as 60 s. A negative
   * value can only come from clock arithmetic and is taken as 0. NaN is a caller's bug.
   */
  record(latencyMs: number): void {
    assert(!Number.isNaN(latencyMs), "latency is a number");
    const us = Math.round(latencyMs * usPerMs);
    this.histogram.recordValue(Math.min(latencyUsMax, Math.max(0, us)));
  }

  /** Encodes everything recorded since the last snapshot, then starts empty again. */
  snapshotAndReset(): EncodedHistogram {
    const base64 = hdr.encodeIntoCompressedBase64(this.histogram);
    this.histogram.reset();
    return { encoding: encodingName, base64 };
  }
}

/**
 * Decodes what `snapshotAndReset` produced. It takes `unknown` because it arrives from another
 * process; anything else raises INVALID_ARGUMENT. The length is checked before decoding.
 */
export function decodeHistogram(encoded: unknown): Histogram {
  if (typeof encoded !== "object" || encoded === null) {
    throw new InvalidArgumentError(`encoded histogram: expected an object, got ${typeof encoded}`);
  }
  const { encoding, base64 } = encoded as Partial<Record<keyof EncodedHistogram, unknown>>;
  if (encoding !== encodingName) {
    throw new InvalidArgumentError(`encoded histogram: encoding ${JSON.stringify(encoding)} is not ${encodingName}`);
  }
  if (typeof base64 !== "string" || base64.length === 0 || base64.length > encodedHistogramCharsMax) {
    throw new InvalidArgumentError(`encoded histogram: base64 must be a string of 1 to ${encodedHistogramCharsMax} characters`);
  }
  try {
    return hdr.decodeFromCompressedBase64(base64, 32, false);
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidArgumentError(`encoded histogram: cannot decode: ${reason}`, { cause: err });
  }
}

/** One histogram holding every value of `histograms`; the inputs are not changed. */
export function mergeHistograms(histograms: readonly Histogram[]): Histogram {
  // 64-bit (float) counts: a merge over many workers and a whole test can pass 2^32 in one bucket.
  const merged = newHistogram(64);
  for (const h of histograms) merged.add(h);
  return merged;
}

/** The figures a report prints, in milliseconds. */
export function summarize(histogram: Histogram): LatencySummary {
  const at = (percentile: number) => histogram.getValueAtPercentile(percentile) / usPerMs;
  return {
    count: histogram.totalCount,
    p50: at(50),
    p75: at(75),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    p9999: at(99.99),
    max: histogram.maxValue / usPerMs,
    mean: histogram.totalCount === 0 ? 0 : histogram.mean / usPerMs,
  };
}

/**
 * Retention's memory of a stream: the tail cuts it sampled (cut, size, time) and the size it last
 * truncated at, kept as one JSON value in the metadata store under `retention/<scope>/<stream>`.
 * These functions are pure, so the choice of truncation point and the thinning can be tested by
 * table; retention.ts reads and CAS-writes the record.
 *
 * Thinning: when the record holds more than `retentionSamplesMax` samples, or its encoding exceeds
 * `metadataValueBytesMax`, every second sample of the older half is dropped (the oldest sample is
 * always kept), repeatedly until it fits. The newest half therefore stays at one sample per pass,
 * and density halves with each step back in age. A cut that alone exceeds the byte bound cannot be
 * stored at all (boundRecord returns undefined).
 */
import { metadataValueBytesMax, retentionSamplesMax, unreachable } from "../../common/index.js";
import type { RetentionPolicy, StreamCut } from "../../proto/index.js";

export interface RetentionSample {
  cut: StreamCut;
  /** Bytes from the stream's very start to `cut` (TailCut.sizeBytes); never decreases for one stream. */
  sizeBytes: number;
  /** When the cut was taken (wall clock, ms). */
  atMs: number;
}

export interface RetentionRecord {
  /** Oldest first. */
  samples: RetentionSample[];
  /** sizeBytes of the sample last truncated at (0 before any): only a larger one is truncated at. */
  truncatedAtSize: number;
}

/** Where a stream's record lives. Scope and stream names hold no `/`, so the key parses back. */
export const retentionKeyPrefix = "retention/";

export function retentionKey(scope: string, stream: string): string {
  return `${retentionKeyPrefix}${scope}/${stream}`;
}

/** The scope and stream of a record key; undefined for a key not of that shape. */
export function parseRetentionKey(key: string): { scope: string; stream: string } | undefined {
  if (!key.startsWith(retentionKeyPrefix)) return undefined;
  const parts = key.slice(retentionKeyPrefix.length).split("/");
  const [scope, stream] = parts;
  if (parts.length !== 2 || scope === undefined || stream === undefined || scope === "" || stream === "") return undefined;
  return { scope, stream };
}

export function emptyRecord(): RetentionRecord {
  return { samples: [], truncatedAtSize: 0 };
}

/**
 * The sample to truncate at now, or undefined: BY_SIZE takes the newest sample with sizeBytes <=
 * tailSizeBytes - limit, so at least `limit` bytes remain from it to the tail; BY_TIME takes the
 * newest sample taken at or before nowMs - limit. A negative or non-finite limit truncates nothing.
 */
export function chooseTruncation(
  policy: RetentionPolicy,
  samples: readonly RetentionSample[],
  tailSizeBytes: number,
  nowMs: number,
): RetentionSample | undefined {
  if (!Number.isFinite(policy.limit) || policy.limit < 0) return undefined;
  let fits: (s: RetentionSample) => boolean;
  switch (policy.type) {
    case "RETENTION_NONE":
      return undefined;
    case "BY_SIZE":
      fits = (s) => s.sizeBytes <= tailSizeBytes - policy.limit;
      break;
    case "BY_TIME":
      fits = (s) => s.atMs <= nowMs - policy.limit;
      break;
    default:
      return unreachable(policy.type, "retention type");
  }
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i]!;
    if (fits(s)) return s;
  }
  return undefined;
}

/** The record after a truncation at `at`: samples older than it dropped, its size remembered. */
export function afterTruncation(record: RetentionRecord, at: RetentionSample): RetentionRecord {
  const index = record.samples.indexOf(at);
  return { samples: index < 0 ? record.samples : record.samples.slice(index), truncatedAtSize: at.sizeBytes };
}

/** One thinning step: drops every second sample of the older half, never the oldest or the newest. */
export function thinOnce(samples: readonly RetentionSample[]): RetentionSample[] {
  const n = samples.length;
  const olderEnd = Math.min(n - 1, Math.max(2, Math.floor(n / 2)));
  const kept = samples.filter((_, i) => i === 0 || i >= olderEnd || i % 2 === 0);
  // Two samples have no older half to thin: the oldest goes, so the newest is what is left.
  return kept.length === n ? samples.slice(1) : kept;
}

/**
 * The record thinned to at most `samplesMax` samples and `bytesMax` bytes of JSON, with its
 * encoding; undefined if even the newest sample alone is too large.
 */
export function boundRecord(
  record: RetentionRecord,
  samplesMax = retentionSamplesMax,
  bytesMax = metadataValueBytesMax,
): { record: RetentionRecord; value: Buffer } | undefined {
  let samples = record.samples;
  while (samples.length > samplesMax) samples = thinOnce(samples);
  for (;;) {
    const bounded = { samples, truncatedAtSize: record.truncatedAtSize };
    const value = encodeRecord(bounded);
    if (value.length <= bytesMax) return { record: bounded, value };
    if (samples.length <= 1) return undefined;
    samples = thinOnce(samples);
  }
}

export function encodeRecord(record: RetentionRecord): Buffer {
  return Buffer.from(JSON.stringify(record), "utf8");
}

/** The record in `value`, or undefined if it is not one (written by something else, or damaged). */
export function decodeRecord(value: Buffer): RetentionRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || !isSize(parsed["truncatedAtSize"]) || !Array.isArray(parsed["samples"])) return undefined;
  const samples: RetentionSample[] = [];
  for (const s of parsed["samples"] as unknown[]) {
    const sample = decodeSample(s);
    if (sample === undefined) return undefined;
    samples.push(sample);
  }
  return { samples, truncatedAtSize: parsed["truncatedAtSize"] };
}

function decodeSample(s: unknown): RetentionSample | undefined {
  if (!isObject(s) || !isSize(s["sizeBytes"]) || typeof s["atMs"] !== "number" || !Number.isFinite(s["atMs"])) return undefined;
  const cut = s["cut"];
  if (!isObject(cut) || !Array.isArray(cut["positions"])) return undefined;
  const positions: StreamCut["positions"] = [];
  for (const p of cut["positions"] as unknown[]) {
    if (!isObject(p) || typeof p["segment"] !== "string" || !isSize(p["offset"])) return undefined;
    positions.push({ segment: p["segment"], offset: p["offset"] });
  }
  return { cut: { positions }, sizeBytes: s["sizeBytes"], atMs: s["atMs"] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSize(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

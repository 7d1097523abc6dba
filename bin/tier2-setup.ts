/**
 * Tier-2 for the roles that run containers: `--tier2 file://DIR | s3://BUCKET[/PREFIX]` with
 * `--s3-endpoint URL` (credentials from the usual AWS_* variables), the chunk cache bound, and
 * the flush thresholds. Without `--tier2`, chunks go to a folder under the data directory.
 */
import { join } from "node:path";
import { MiB } from "../common/index.js";
import { chunkCacheDefaults, flushPolicyDefault, openChunkStorage, type SegmentStoreOptions } from "../segmentstore/index.js";

export const tier2Options = {
  tier2: { kind: "string", default: "", help: "Tier-2: file://DIR or s3://BUCKET[/PREFIX] (empty: file://DATA_DIR/tier2)" },
  "s3-endpoint": { kind: "string", default: "", help: "S3 endpoint URL for an s3:// Tier-2, e.g. http://127.0.0.1:7480 (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)" },
  "read-cache-bytes-max": { kind: "int", default: chunkCacheDefaults.maxBytes, min: MiB, max: Number.MAX_SAFE_INTEGER, help: "bytes of history read back from Tier-2 kept in memory (evicted least recently used)" },
  "flush-bytes": { kind: "int", default: flushPolicyDefault.flushBytes, min: 4096, max: flushPolicyDefault.chunkBytesMax, help: "a segment's bytes go to Tier-2 once this many are waiting" },
  "flush-age-ms": { kind: "int", default: flushPolicyDefault.flushAgeMs, min: 10, max: 3_600_000, help: "... or once the oldest has waited this long" },
} as const;

export interface Tier2Flags {
  tier2: string;
  "s3-endpoint": string;
  "read-cache-bytes-max": number;
  "flush-bytes": number;
  "flush-age-ms": number;
}

/** Opens Tier-2 for a role (INVALID_CONFIG for bad flags, AUTH_FAILED or INVALID_CONFIG for an S3 that refuses us). */
export async function openTier2(flags: Tier2Flags, dataDir: string): Promise<NonNullable<SegmentStoreOptions["tier2"]>> {
  const spec = flags.tier2 === "" ? `file://${join(dataDir, "tier2")}` : flags.tier2;
  const storage = await openChunkStorage(spec, flags["s3-endpoint"]);
  return {
    storage,
    cache: { maxBytes: flags["read-cache-bytes-max"] },
    flush: { flushBytes: flags["flush-bytes"], flushAgeMs: flags["flush-age-ms"] },
  };
}

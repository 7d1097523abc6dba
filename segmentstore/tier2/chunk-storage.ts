/**
 * ChunkStorage: Tier-2, where a segment's bytes live for the long term, as immutable objects
 * ("chunks"). Two implementations: S3 over @aws-sdk/client-s3 (s3-chunk-storage.ts) and a local
 * folder (file-chunk-storage.ts, the standalone default). The segment store names chunks
 * (chunk-names.ts); a name is a relative key of `/`-separated parts, each part made of
 * [A-Za-z0-9._%-] and never "." or "..".
 *
 * Contract (proved against both implementations by test/tier2-chunk-storage.test.ts):
 * - `create` never overwrites: the object appears whole or not at all. If `name` already holds
 *   exactly the same bytes (a retried write whose first response was lost), it resolves; if it
 *   holds other bytes, it rejects CHUNK_EXISTS and the object is unchanged.
 * - `read` returns exactly `length` bytes from `offset`; NO_SUCH_CHUNK if there is no such chunk,
 *   INVALID_ARGUMENT if the range is past its end.
 * - `delete` of an absent chunk resolves.
 * - Failures that may pass (5xx, timeouts, refused or reset connections) are retried inside with
 *   backoff a few times, then rejected UNAVAILABLE (retriable); the caller retries later.
 */

export interface ChunkInfo {
  name: string;
  bytes: number;
}

export interface ChunkStorage {
  /** Where the chunks are, for logs and errors: `s3://bucket/prefix at http://host:port` or `file:///dir`. */
  readonly description: string;
  /** Writes new chunk `name` made of `data` (concatenated, not copied when avoidable). */
  create(name: string, data: readonly Buffer[]): Promise<void>;
  /** `length` bytes of chunk `name` from `offset`. */
  read(name: string, offset: number, length: number): Promise<Buffer>;
  /** Removes chunk `name` (absent: nothing to do). */
  delete(name: string): Promise<void>;
  /** Every chunk whose name starts with `prefix`, in name order, fetched page by page. */
  list(prefix: string): AsyncIterable<ChunkInfo>;
  /** Lets go of connections and handles. */
  close(): Promise<void>;
}

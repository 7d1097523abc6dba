/**
 * S3ChunkStorage: Tier-2 chunks as objects in an S3 bucket (AWS, or Ceph radosgw 16 on these
 * machines), over @aws-sdk/client-s3. The contract is ChunkStorage's (chunk-storage.ts); how it is
 * kept here:
 * - Never overwrite: a small chunk is one PutObject with `If-None-Match: *`; a 412 means the name
 *   exists, and a HEAD tells a retried write of ours (same length and `sluice-crc32` metadata:
 *   resolve) from other content (CHUNK_EXISTS). A large chunk is a multipart upload after a HEAD.
 * - Retries are ours (the SDK's maxAttempts is 1): 5xx, 429/SlowDown, timeouts and network errors
 *   are tried again after a jittered exponential backoff, up to `attempts` times, then UNAVAILABLE
 *   names the object and the last cause. Each attempt has its own deadline (`requestTimeoutMs`),
 *   reply body included.
 * - Bytes are checked across the wire: Content-MD5 on every upload (the server verifies it), the
 *   exact length on every read (a body of another length is retried, then DATA_CORRUPTION).
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
  UploadPartCommand, type CompletedPart,
} from "@aws-sdk/client-s3";
import {
  AuthFailedError, ChunkExistsError, ClosedError, InternalError, InvalidArgumentError, InvalidConfigError, MiB,
  NoSuchChunkError, SluiceError, UnavailableError, assert, logger, s3ClientOptions, type Clock,
} from "../../common/index.js";
import type { ChunkInfo, ChunkStorage } from "./chunk-storage.js";
import { checkChunkName, checkChunkPrefix } from "./chunk-names.js";
import { describe, heldClock, nameOf, readExactly, retrying, statusOf, type RetryPolicy } from "./s3-retry.js";

/** Per-attempt deadline, from connect to the last body byte. */
export const s3RequestTimeoutMsDefault = 30_000;
export const s3RequestTimeoutMsMin = 100;
export const s3RequestTimeoutMsMax = 10 * 60_000;
/** Tries per request before UNAVAILABLE; the backoff doubles from the first wait up to the cap, jittered. */
export const s3AttemptsDefault = 5;
export const s3AttemptsMax = 20;
export const s3BackoffMsFirst = 100;
export const s3BackoffMsMax = 5_000;
/** Chunks of this size and more go up as multipart uploads of `partBytes` parts. */
export const s3MultipartBytesDefault = 16 * MiB;
export const s3PartBytesDefault = 8 * MiB;
/** S3's own rules: every part but the last is at least 5 MiB, and an upload has at most 10,000 parts. */
export const s3PartBytesMin = 5 * MiB;
export const s3PartBytesMax = 512 * MiB;
export const s3PartsMax = 10_000;
/** Parts of one chunk uploaded at once (one stream to radosgw here does ~100 MB/s, four ~180). */
export const s3PartsInflightMax = 4;
/** Keys one ListObjectsV2 page returns (S3's own maximum). */
export const s3ListPageKeysMax = 1000;
/** Largest single read: the reply is gathered into one buffer of this size at most. */
export const chunkReadBytesMax = 64 * MiB;

const crcMetadataKey = "sluice-crc32";
const log = logger("tier2-s3");

export interface S3ChunkStorageConfig {
  bucket: string;
  /** Key prefix inside the bucket ("" for none); slashes at either end are ignored. */
  prefix: string;
  /** `http(s)://host:port` of the S3 server. */
  endpoint: string;
  /** Default: AWS_REGION, else us-east-1. */
  region?: string;
  /** Default: the SDK's provider chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then profiles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  requestTimeoutMs?: number;
  attempts?: number;
  multipartBytes?: number;
  partBytes?: number;
  /** Keys per list page (default and most s3ListPageKeysMax); small values exercise paging. */
  listPageKeys?: number;
  /** Deadlines and backoff waits; default real time, with timers that keep the process alive. */
  clock?: Clock;
  /** In [0, 1), for backoff jitter; default Math.random. */
  random?: () => number;
}

const authNames = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "CredentialsProviderError",
  "ExpiredToken", "InvalidToken"]);

export class S3ChunkStorage implements ChunkStorage {
  readonly description: string;
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly endpoint: string;
  /** "" or the prefix followed by "/". */
  private readonly keyPrefix: string;
  private readonly policy: RetryPolicy;
  private readonly limits: { multipartBytes: number; partBytes: number; listPageKeys: number };
  private closed = false;

  /** Makes the storage and HEADs the bucket once, so a wrong endpoint, key or bucket fails here, typed. */
  static async open(config: S3ChunkStorageConfig): Promise<S3ChunkStorage> {
    const storage = new S3ChunkStorage(config);
    try {
      await storage.retrying("HeadBucket", config.bucket, (o) => storage.s3.send(new HeadBucketCommand({ Bucket: storage.bucket }), o));
      return storage;
    } catch (err) {
      await storage.close();
      // A HEAD's 404 has no body to say NoSuchBucket, but a bucket is all it asked about.
      throw statusOf(err) === 404 ? storage.noSuchBucket(err) : storage.mapError(err, "HeadBucket", "");
    }
  }

  constructor(config: S3ChunkStorageConfig) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(config.bucket)) {
      throw new InvalidConfigError(`S3 bucket ${JSON.stringify(config.bucket)} is not a valid bucket name (3-63 of a-z 0-9 . -)`);
    }
    if (!/^https?:\/\/[^/?#@]+\/?$/.test(config.endpoint)) {
      throw new InvalidConfigError(`S3 endpoint ${JSON.stringify(config.endpoint)} must be an http:// or https:// URL of a host and port`);
    }
    const prefix = config.prefix.replace(/^\/+|\/+$/g, "");
    if (prefix !== "" && !/^[A-Za-z0-9._%-]+(\/[A-Za-z0-9._%-]+)*$/.test(prefix)) {
      throw new InvalidConfigError(`S3 prefix ${JSON.stringify(config.prefix)} must be "/"-separated parts of [A-Za-z0-9._%-]`);
    }
    this.bucket = config.bucket;
    this.endpoint = config.endpoint;
    this.keyPrefix = prefix === "" ? "" : `${prefix}/`;
    const partBytes = bounded("partBytes", config.partBytes ?? s3PartBytesDefault, s3PartBytesMin, s3PartBytesMax);
    this.policy = {
      requestTimeoutMs: bounded("requestTimeoutMs", config.requestTimeoutMs ?? s3RequestTimeoutMsDefault, s3RequestTimeoutMsMin, s3RequestTimeoutMsMax),
      attempts: bounded("attempts", config.attempts ?? s3AttemptsDefault, 1, s3AttemptsMax),
      backoffMsFirst: s3BackoffMsFirst,
      backoffMsMax: s3BackoffMsMax,
      clock: config.clock ?? heldClock,
      random: config.random ?? Math.random,
    };
    this.limits = {
      partBytes,
      multipartBytes: bounded("multipartBytes", config.multipartBytes ?? Math.max(s3MultipartBytesDefault, partBytes), partBytes, partBytes * s3PartsMax),
      listPageKeys: bounded("listPageKeys", config.listPageKeys ?? s3ListPageKeysMax, 1, s3ListPageKeysMax),
    };
    this.description = `s3://${this.bucket}/${prefix} at ${this.endpoint}`;
    const timeoutMs = this.policy.requestTimeoutMs;
    this.s3 = new S3Client(s3ClientOptions(config, timeoutMs));
  }

  async create(name: string, data: readonly Buffer[]): Promise<void> {
    const key = this.keyOf(name);
    let bytes = 0;
    let crc = 0;
    for (const piece of data) {
      bytes += piece.length;
      crc = crc32(piece, crc);
    }
    const crcHex = crc.toString(16).padStart(8, "0");
    const { partBytes, multipartBytes } = this.limits;
    if (bytes > partBytes * s3PartsMax) {
      throw new InvalidArgumentError(`chunk ${name} of ${bytes} bytes is larger than ${s3PartsMax} parts of ${partBytes} bytes`);
    }
    try {
      if (bytes >= multipartBytes) return await this.createMultipart(name, key, data, bytes, crcHex);
      const body = data.length === 1 ? data[0]! : Buffer.concat(data, bytes);
      const md5 = createHash("md5").update(body).digest("base64");
      await this.retrying("PutObject", key, (o) => this.s3.send(new PutObjectCommand({
        Bucket: this.bucket, Key: key, Body: body, ContentLength: bytes, ContentMD5: md5, IfNoneMatch: "*", Metadata: { [crcMetadataKey]: crcHex },
      }), o));
    } catch (err) {
      // 412: the name exists. A PUT retried after its first answer was lost finds its own object.
      if (statusOf(err) === 412) return this.settleExisting(name, key, bytes, crcHex);
      throw this.mapError(err, "create", name);
    }
  }

  async read(name: string, offset: number, length: number): Promise<Buffer> {
    const key = this.keyOf(name);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || length > chunkReadBytesMax) {
      throw new InvalidArgumentError(`read of chunk ${name}: offset ${offset} and length ${length} must be integers >= 0, length at most ${chunkReadBytesMax}`);
    }
    try {
      if (length === 0) {
        const head = await this.head(key);
        if (head === undefined) throw new NoSuchChunkError(`chunk ${name} does not exist in ${this.description}`);
        if (offset > head.bytes) throw pastEnd(name, offset, length, head.bytes);
        return Buffer.alloc(0);
      }
      return await this.retrying("GetObject", key, async (o) => {
        const range = `bytes=${offset}-${offset + length - 1}`;
        const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }), o);
        if (!(out.Body instanceof Readable)) throw new Error("the S3 client on Node returns reply bodies as streams");
        // A range that starts inside the object but ends past it gets a 206 with fewer bytes: the total says why.
        const total = Number(/\/(\d+)$/.exec(out.ContentRange ?? "")?.[1] ?? NaN);
        if (offset + length > total) {
          out.Body.destroy();
          throw pastEnd(name, offset, length, total);
        }
        return readExactly(out.Body, length, o.abortSignal);
      });
    } catch (err) {
      if (statusOf(err) === 416) throw pastEnd(name, offset, length, undefined);
      throw this.mapError(err, "read", name);
    }
  }

  async delete(name: string): Promise<void> {
    const key = this.keyOf(name);
    try {
      await this.retrying("DeleteObject", key, (o) => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), o));
    } catch (err) {
      // S3 answers 204 for an absent key; some servers say 404 NoSuchKey. Either way it is gone.
      if (statusOf(err) === 404 && nameOf(err) !== "NoSuchBucket") return;
      throw this.mapError(err, "delete", name);
    }
  }

  async *list(prefix: string): AsyncIterable<ChunkInfo> {
    this.checkOpen();
    checkChunkPrefix(prefix);
    const full = this.keyPrefix + prefix;
    let token: string | undefined;
    do {
      const out = await this.retrying("ListObjectsV2", full, (o) => this.s3.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: full, ContinuationToken: token, MaxKeys: this.limits.listPageKeys,
      }), o)).catch((err: unknown) => {
        throw this.mapError(err, "list", prefix);
      });
      for (const o of out.Contents ?? []) {
        if (o.Key !== undefined && o.Key.startsWith(full)) yield { name: o.Key.slice(this.keyPrefix.length), bytes: o.Size ?? 0 };
      }
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  close(): Promise<void> {
    if (!this.closed) this.s3.destroy();
    this.closed = true;
    return Promise.resolve();
  }

  /**
   * Multipart upload of a large chunk. radosgw 16 ignores `If-None-Match: *` on
   * CompleteMultipartUpload (tried: the object was replaced), so the guard is a HEAD before the
   * upload. That is enough because chunk names carry the writer's epoch: only one writer ever makes a
   * given name, and nothing can appear between the HEAD and the completion but our own earlier try.
   */
  private async createMultipart(name: string, key: string, data: readonly Buffer[], bytes: number, crcHex: string): Promise<void> {
    if ((await this.head(key)) !== undefined) return this.settleExisting(name, key, bytes, crcHex);
    const { partBytes } = this.limits;
    const started = await this.retrying("CreateMultipartUpload", key, (o) => this.s3.send(new CreateMultipartUploadCommand({
      Bucket: this.bucket, Key: key, Metadata: { [crcMetadataKey]: crcHex },
    }), o));
    const uploadId = started.UploadId;
    assert(uploadId !== undefined, "CreateMultipartUpload answers an UploadId");
    try {
      const count = Math.ceil(bytes / partBytes);
      const parts = new Array<CompletedPart>(count);
      let next = 0;
      const uploadParts = async () => {
        for (let i = next++; i < count; i = next++) {
          const body = slice(data, i * partBytes, Math.min(bytes, (i + 1) * partBytes));
          const md5 = createHash("md5").update(body).digest("base64");
          const out = await this.retrying("UploadPart", `${key} part ${i + 1}`, (o) => this.s3.send(new UploadPartCommand({
            Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.length, ContentMD5: md5,
          }), o));
          parts[i] = { PartNumber: i + 1, ETag: out.ETag };
        }
      };
      // Every worker stops before the upload is completed or aborted; the first failure is the one reported.
      const workers = await Promise.allSettled(Array.from({ length: Math.min(s3PartsInflightMax, count) }, uploadParts));
      for (const w of workers) if (w.status === "rejected") throw w.reason;
      // radosgw answers a repeated completion (ours, after a lost answer) with 200 again; S3 may say NoSuchUpload.
      await this.retrying("CompleteMultipartUpload", key, (o) => this.s3.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts },
      }), o)).catch((err: unknown) => {
        if (nameOf(err) === "NoSuchUpload") return this.settleExisting(name, key, bytes, crcHex);
        throw err;
      });
    } catch (err) {
      await this.retrying("AbortMultipartUpload", key, (o) => this.s3.send(new AbortMultipartUploadCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId,
      }), o)).catch((abortErr: unknown) => {
        // The parts stay until a bucket lifecycle rule removes them; the create fails either way.
        log.warn("could not abort a failed multipart upload", { key, uploadId, error: describe(abortErr) });
      });
      throw err;
    }
  }

  /** `name` exists: resolve if it holds our bytes (same length and crc), else CHUNK_EXISTS. */
  private async settleExisting(name: string, key: string, bytes: number, crcHex: string): Promise<void> {
    const head = await this.head(key);
    if (head === undefined) throw new UnavailableError(`chunk ${name} in ${this.description} was reported existing, then vanished; try again`);
    if (head.bytes === bytes && head.crcHex === crcHex) return;
    throw new ChunkExistsError(`chunk ${name} exists in ${this.bucket} with other content (${head.bytes} bytes, crc32 ` +
      `${head.crcHex ?? "unknown"}; ours ${bytes} bytes, crc32 ${crcHex}); chunks are never overwritten`);
  }

  /** Size and crc of `key`, or undefined if absent. */
  private async head(key: string): Promise<{ bytes: number; crcHex: string | undefined } | undefined> {
    try {
      const out = await this.retrying("HeadObject", key, (o) => this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), o));
      return { bytes: out.ContentLength ?? 0, crcHex: out.Metadata?.[crcMetadataKey] };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** One S3 call under the retry policy; a closed storage tries no more. */
  private retrying<T>(op: string, key: string, attempt: (options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
    return retrying(this.policy, this.description, op, key, (options) => {
      this.checkOpen();
      return attempt(options);
    });
  }

  /** The typed error for a failure that retries did not (or could not) cure. */
  private mapError(err: unknown, op: string, name: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const status = statusOf(err);
    const code = nameOf(err);
    const what = `${op} of chunk ${name} in ${this.description}`;
    if (status === 403 || authNames.has(code)) {
      return new AuthFailedError(`S3 refused ${what} (${code}, HTTP ${status ?? "-"}): check AWS_ACCESS_KEY_ID and ` +
        `AWS_SECRET_ACCESS_KEY (or the credentials given) and that this user may use bucket ${this.bucket}`, { cause: err });
    }
    if (code === "NoSuchBucket") return this.noSuchBucket(err);
    if (code === "NoSuchKey" || status === 404) return new NoSuchChunkError(`chunk ${name} does not exist in ${this.description}`, { cause: err });
    if (code === "EntityTooSmall") {
      return new InvalidConfigError(`S3 refused ${what}: partBytes ${this.limits.partBytes} is below the server's smallest part`, { cause: err });
    }
    return new InternalError(`S3 ${what} failed: ${describe(err)}`, { cause: err });
  }

  private noSuchBucket(cause: unknown): InvalidConfigError {
    return new InvalidConfigError(`bucket ${this.bucket} does not exist at ${this.endpoint}; create it first`, { cause });
  }

  private keyOf(name: string): string {
    this.checkOpen();
    checkChunkName(name);
    return this.keyPrefix + name;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(`${this.description} is closed`);
  }
}

function pastEnd(name: string, offset: number, length: number, bytes: number | undefined): InvalidArgumentError {
  const size = bytes === undefined || Number.isNaN(bytes) ? "" : ` (the chunk holds ${bytes} bytes)`;
  return new InvalidArgumentError(`read of chunk ${name}: bytes ${offset}-${offset + length - 1} are past its end${size}`);
}

/** Bytes [start, end) of the pieces joined: a view when one piece holds them, else a copy of just them. */
function slice(pieces: readonly Buffer[], start: number, end: number): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (const p of pieces) {
    const from = Math.max(start, pos);
    const to = Math.min(end, pos + p.length);
    if (from < to) parts.push(p.subarray(from - pos, to - pos));
    pos += p.length;
    if (pos >= end) break;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, end - start);
}

function bounded(property: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`S3 chunk storage ${property} ${value} is not an integer in [${min}, ${max}]`);
  }
  return value;
}

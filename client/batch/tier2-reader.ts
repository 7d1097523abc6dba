/**
 * Reads ranges of Tier-2 chunks straight from the object store (the S3 API), for batch reads of
 * history without a segment store in the path. Which chunks hold a segment's bytes the store says
 * (GetChunks); this file only fetches byte ranges of named objects, each with a ranged GetObject.
 *
 * The client is given the same S3 endpoint, bucket and key prefix the segment stores were started
 * with (`--tier2 s3://BUCKET/PREFIX --s3-endpoint URL`). Each GET has a deadline covering its reply
 * body; 5xx, 429 and network failures are tried again a few times with a growing pause, then raise
 * UNAVAILABLE. A missing object is not an error here: truncation deletes chunks, and the caller
 * then reads the same bytes through the store.
 */
import type { Readable } from "node:stream";
import { GetObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { AuthFailedError, DataCorruptionError, InvalidArgumentError, UnavailableError, tier2AttemptsMax, tier2ReadBytesMax, tier2RequestTimeoutMs, s3ClientOptions } from "../../common/index.js";

/** Where the segment stores keep Tier-2, for reading it directly. */
export interface Tier2Access {
  /** `http(s)://host:port` of the S3 server, as given to the stores' `--s3-endpoint`. */
  endpoint: string;
  bucket: string;
  /** The key prefix of the stores' `--tier2 s3://BUCKET/PREFIX` (default: none). */
  prefix?: string;
  /** Default: AWS_REGION, else us-east-1. */
  region?: string;
  /** Default: the AWS SDK's provider chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then profiles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const prefixPattern = /^[A-Za-z0-9._%-]+(\/[A-Za-z0-9._%-]+)*$/;
const authNames = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "CredentialsProviderError", "ExpiredToken", "InvalidToken"]);
const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EAI_AGAIN", "ERR_STREAM_PREMATURE_CLOSE"]);
const retryPauseMsFirst = 100;

/** Checks `access` (tier2 option of Sluice.connect); raises INVALID_ARGUMENT naming the property and what it must be. */
export function checkTier2Access(access: Tier2Access): void {
  const bad = (property: string, why: string) => new InvalidArgumentError(`tier2.${property}: ${why}`);
  if (typeof access !== "object" || access === null) throw new InvalidArgumentError("tier2 must be an object { endpoint, bucket, prefix?, region?, credentials? }");
  let url: URL | undefined;
  try {
    url = new URL(access.endpoint);
  } catch {
    // The URL parser's own message adds nothing to ours.
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "" || (url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.username !== "") {
    throw bad("endpoint", `${JSON.stringify(access.endpoint)} must be an http:// or https:// URL of a host and port, e.g. http://127.0.0.1:7480`);
  }
  if (typeof access.bucket !== "string" || !bucketPattern.test(access.bucket)) throw bad("bucket", `${JSON.stringify(access.bucket)} is not a bucket name (3-63 of a-z 0-9 . -)`);
  const prefix = trimPrefix(access.prefix ?? "");
  if (prefix !== "" && (!prefixPattern.test(prefix) || prefix.split("/").some((p) => p === "." || p === ".."))) {
    throw bad("prefix", `${JSON.stringify(access.prefix)} must be "/"-separated parts of A-Z a-z 0-9 . _ % -, as given to the stores' --tier2 s3://BUCKET/PREFIX`);
  }
  const c = access.credentials;
  if (c !== undefined && (typeof c.accessKeyId !== "string" || c.accessKeyId === "" || typeof c.secretAccessKey !== "string" || c.secretAccessKey === "")) {
    throw bad("credentials", "needs a non-empty accessKeyId and secretAccessKey (or leave it out to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
}

function trimPrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}

export class Tier2Reader {
  /** `s3://bucket/prefix at endpoint`, for messages. */
  readonly description: string;
  private readonly s3: S3Client;
  private readonly bucket: string;
  /** "" or the prefix followed by "/". */
  private readonly keyPrefix: string;

  /** `access` must have passed checkTier2Access. Nothing connects until the first read. */
  constructor(access: Tier2Access) {
    const prefix = trimPrefix(access.prefix ?? "");
    this.bucket = access.bucket;
    this.keyPrefix = prefix === "" ? "" : `${prefix}/`;
    this.description = `s3://${access.bucket}/${prefix} at ${access.endpoint}`;
    this.s3 = new S3Client(s3ClientOptions(access, tier2RequestTimeoutMs));
  }

  /**
   * `length` bytes (1 to tier2ReadBytesMax) of chunk `name` from `offset`; undefined when the
   * object does not exist (deleted since it was listed). Raises AUTH_FAILED (credentials refused),
   * INVALID_ARGUMENT (no such bucket), DATA_CORRUPTION (the object is shorter than its listing
   * says), UNAVAILABLE (after tier2AttemptsMax tries).
   */
  async read(name: string, offset: number, length: number): Promise<Buffer | undefined> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1 || length > tier2ReadBytesMax) {
      throw new Error(`invariant violated: Tier-2 read of ${name} at ${offset} for ${length} bytes`);
    }
    const key = this.keyPrefix + name;
    let last: unknown;
    for (let attempt = 1; attempt <= tier2AttemptsMax; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, retryPauseMsFirst * 2 ** (attempt - 2)));
      const signal = AbortSignal.timeout(tier2RequestTimeoutMs);
      try {
        const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }), { abortSignal: signal });
        const body = out.Body as Readable | undefined;
        if (body === undefined) throw new Error("GetObject answered no body");
        return await readExactly(body, length, `${key} in ${this.description} (bytes ${offset}..${offset + length})`);
      } catch (err) {
        if (err instanceof DataCorruptionError) throw err;
        const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
        const errName = err instanceof Error ? err.name : "";
        if (errName === "NoSuchKey" || (status === 404 && errName !== "NoSuchBucket")) return undefined;
        if (errName === "NoSuchBucket") throw new InvalidArgumentError(`bucket ${this.bucket} does not exist at ${this.description}: check the tier2 option`, { cause: err });
        if (status === 416) throw new DataCorruptionError(`${key} in ${this.description} is shorter than ${offset + length} bytes, as its listing says it is`, { cause: err });
        if (authNames.has(errName) || status === 403) throw new AuthFailedError(`${this.description} refused our credentials reading ${key}: ${errName}`, { cause: err });
        if (!transient(err, status, signal)) throw new UnavailableError(`reading ${key} from ${this.description} failed: ${describe(err)}`, { cause: err });
        last = err;
      }
    }
    throw new UnavailableError(`reading ${key} from ${this.description} failed ${tier2AttemptsMax} times; last: ${describe(last)}`, { cause: last });
  }

  close(): void {
    this.s3.destroy();
  }
}

function transient(err: unknown, status: number | undefined, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  if (status !== undefined) return status >= 500 || status === 429;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && networkCodes.has(code);
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** The reply body, which must be exactly `length` bytes; DATA_CORRUPTION otherwise (nothing beyond `length` is buffered). */
async function readExactly(body: Readable, length: number, what: string): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const piece of body) {
    const b = piece as Buffer;
    if (at + b.length > length) {
      body.destroy();
      throw new DataCorruptionError(`${what}: the reply holds more than the ${length} bytes asked for`);
    }
    at += b.copy(out, at);
  }
  if (at !== length) throw new DataCorruptionError(`${what}: the reply holds ${at} of the ${length} bytes asked for; the object is shorter than its listing says`);
  return out;
}

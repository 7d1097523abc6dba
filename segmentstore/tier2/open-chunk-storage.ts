/**
 * Turns the `--tier2` and `--s3-endpoint` flags into an open ChunkStorage: `file://DIR` (absolute,
 * or relative to the working folder) or `s3://BUCKET[/PREFIX]` with an http(s) `--s3-endpoint`.
 * Every malformed value is INVALID_CONFIG naming the accepted forms; an S3 that refuses us fails here
 * (AUTH_FAILED, or INVALID_CONFIG for a missing bucket), at start-up rather than at the first flush.
 */
import { resolve } from "node:path";
import { InvalidConfigError } from "../../common/index.js";
import type { ChunkStorage } from "./chunk-storage.js";
import { FileChunkStorage } from "./file-chunk-storage.js";
import { S3ChunkStorage } from "./s3-chunk-storage.js";

export const tier2SpecForms = "--tier2 file://DIR | s3://BUCKET[/PREFIX] --s3-endpoint URL";

/** S3 bucket naming rules (3-63 of a-z 0-9 . -, letter or digit at both ends, no "..", not an IP address). */
function bucketProblem(bucket: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    return "3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit";
  }
  if (bucket.includes("..") || bucket.includes(".-") || bucket.includes("-.")) return "no \"..\", \".-\" or \"-.\"";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return "not an IP address";
  if (bucket.startsWith("xn--") || bucket.endsWith("-s3alias")) return "no xn-- start or -s3alias end";
  return undefined;
}

/** Opens the Tier-2 named by `spec`; `s3Endpoint` ("" when not given) is required for s3:// and ignored for file://. */
export async function openChunkStorage(spec: string, s3Endpoint: string): Promise<ChunkStorage> {
  const bad = (why: string) => new InvalidConfigError(`--tier2 ${JSON.stringify(spec)}: ${why}; use ${tier2SpecForms}`);
  if (spec.startsWith("file://")) {
    const dir = spec.slice("file://".length);
    if (dir === "") throw bad("file:// needs a folder");
    if (dir.includes("\0")) throw bad("the folder name holds a NUL character");
    return FileChunkStorage.open(resolve(dir));
  }
  if (spec.startsWith("s3://")) {
    const rest = spec.slice("s3://".length);
    const cut = rest.indexOf("/");
    const bucket = cut < 0 ? rest : rest.slice(0, cut);
    const prefix = cut < 0 ? "" : rest.slice(cut + 1).replace(/\/+$/, "");
    const problem = bucketProblem(bucket);
    if (problem !== undefined) throw bad(`bucket ${JSON.stringify(bucket)} breaks S3 naming rules (${problem})`);
    if (prefix !== "" && !/^[A-Za-z0-9._%-]+(\/[A-Za-z0-9._%-]+)*$/.test(prefix)) {
      throw bad(`prefix ${JSON.stringify(prefix)} must be "/"-separated parts of [A-Za-z0-9._%-]`);
    }
    if (prefix.split("/").some((p) => p === "." || p === "..")) throw bad(`prefix ${JSON.stringify(prefix)} holds "." or ".."`);
    const endpoint = checkEndpoint(s3Endpoint, bad);
    return S3ChunkStorage.open({ bucket, prefix, endpoint });
  }
  throw bad("it must start with file:// or s3://");
}

function checkEndpoint(s3Endpoint: string, bad: (why: string) => InvalidConfigError): string {
  if (s3Endpoint === "") throw bad("an s3:// Tier-2 needs --s3-endpoint URL (e.g. http://127.0.0.1:7480)");
  let url: URL;
  try {
    url = new URL(s3Endpoint);
  } catch {
    // The URL parser's own message adds nothing to ours.
    throw bad(`--s3-endpoint ${JSON.stringify(s3Endpoint)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad(`--s3-endpoint ${s3Endpoint} must be http:// or https://`);
  if (url.hostname === "") throw bad(`--s3-endpoint ${s3Endpoint} has no host`);
  if (url.username !== "" || url.password !== "") throw bad("--s3-endpoint must not carry credentials; use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw bad(`--s3-endpoint ${s3Endpoint} must be just scheme, host and port (buckets are addressed by path)`);
  }
  return url.origin;
}

/**
 * Names of Tier-2 chunks: `c<container>/<segment>/<start offset, 16 digits>-s<segment id>-e<epoch>`.
 *
 * The segment part escapes every byte outside [A-Za-z0-9_-] as %XX and is cut to 120 characters,
 * so names are valid S3 keys and file names alike and sort by start offset within a segment. The
 * segment id (never reused within a container) keeps a segment deleted and made again, or one
 * whose chunks a merge moved to another, from ever sharing a chunk name. The owner's epoch makes the
 * names of two owners of one container differ (invariant 3): a late upload by a fenced owner can
 * never replace or shadow a chunk of the new one, and a chunk the metadata does not reference is
 * known to be left over by an older epoch (collected after a takeover) or to be in flight in the
 * current one.
 */
import { assert, InvalidArgumentError } from "../../common/index.js";

const offsetDigits = 16;
/** Characters of the escaped segment name kept in a chunk name (the segment id makes it unique). */
const segmentPartMax = 120;

/** The folder of one container's chunks (a prefix of every name `chunkName` makes for it). */
export function containerChunkPrefix(container: number): string {
  return `c${container}/`;
}

/**
 * The name of a chunk of `segment` starting at `offset`, written by the owner at `epoch`. `attempt`
 * above 0 adds `.N`: an owner that finds its name taken by other bytes (a segment deleted and made
 * again while its old chunk waits for deletion) writes under the next one.
 */
export function chunkName(container: number, segment: string, segmentId: number, offset: number, epoch: number, attempt = 0): string {
  assert(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(epoch) && epoch >= 0, "chunk offset and epoch are whole numbers");
  const base = `${containerChunkPrefix(container)}${escapeSegment(segment)}/${String(offset).padStart(offsetDigits, "0")}-s${segmentId}-e${epoch}`;
  return attempt === 0 ? base : `${base}.${attempt}`;
}

/** The epoch a chunk name carries, or undefined for a name Sluice did not make. */
export function chunkEpoch(name: string): number | undefined {
  const m = /\/\d{16}-s\d{1,10}-e(\d{1,15})(\.\d{1,6})?$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

function escapeSegment(segment: string): string {
  let out = "";
  for (const byte of Buffer.from(segment, "utf8")) {
    const ch = String.fromCharCode(byte);
    const part = /[A-Za-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    if (out.length + part.length > segmentPartMax) break;
    out += part;
  }
  return out;
}

/** One part of a chunk name (a folder or file name in FileChunkStorage). */
export const namePartPattern = /^[A-Za-z0-9._%-]{1,200}$/;
const chunkNameBytesMax = 1024;

/**
 * Rejects with INVALID_ARGUMENT a name that is not a relative key of `/`-separated parts of
 * [A-Za-z0-9._%-], none empty, "." or "..". Both storages use it, so a name valid for one is for both.
 */
export function checkChunkName(name: string): void {
  if (name.length === 0 || name.length > chunkNameBytesMax) {
    throw new InvalidArgumentError(`chunk name ${JSON.stringify(name.slice(0, 64))} must be 1-${chunkNameBytesMax} characters`);
  }
  for (const part of name.split("/")) {
    if (!namePartPattern.test(part) || part === "." || part === "..") {
      throw new InvalidArgumentError(`chunk name ${JSON.stringify(name)} is not valid: it must be a relative key of ` +
        `"/"-separated parts of [A-Za-z0-9._%-] (at most 200 each), none empty, "." or ".."`);
    }
  }
}

/** A list prefix is a chunk name cut anywhere: whole parts, then the start of a part (maybe empty). */
export function checkChunkPrefix(prefix: string): void {
  if (prefix === "") return;
  const parts = prefix.split("/");
  const last = parts.pop() ?? "";
  const wholeOk = parts.every((p) => namePartPattern.test(p) && p !== "." && p !== "..");
  if (prefix.length > chunkNameBytesMax || !wholeOk || !/^[A-Za-z0-9._%-]{0,200}$/.test(last)) {
    throw new InvalidArgumentError(`chunk prefix ${JSON.stringify(prefix.slice(0, 64))} is not the start of a valid chunk name`);
  }
}

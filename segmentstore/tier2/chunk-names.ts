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
import { assert } from "../../common/index.js";

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

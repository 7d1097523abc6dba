/**
 * Names of scopes, streams and segments. A qualified segment name is
 * `scope/stream/number.#epoch.E` (after Pravega): `number` is unique within the stream except that
 * a rolling transaction commit makes a duplicate of a segment (same number, a new epoch), and E is
 * the epoch that created the segment. A transaction segment is its parent's name plus
 * `#txn.<32 hex digits>` (the transaction id); it is merged into its parent on commit.
 */
import { InvalidNameError } from "./errors.js";
import { nameBytesMax, segmentNameBytesMax } from "./limits.js";
import { quoteBounded } from "./quote.js";

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * True when `value` is a string of at most `bytesMax` UTF-8 bytes. The character count is looked at
 * first: every UTF-16 code unit takes at least one UTF-8 byte, so a longer string is refused without
 * scanning it, and a name of any size costs nothing more than that check.
 */
function withinBytes(value: unknown, bytesMax: number): value is string {
  return typeof value === "string" && value.length <= bytesMax && Buffer.byteLength(value) <= bytesMax;
}

/**
 * Checks a scope or stream name; raises INVALID_NAME saying what is allowed. The length is checked
 * before anything else, and the message quotes at most a bounded prefix of the name (quoteBounded),
 * so a huge name costs neither time nor a huge error.
 */
export function validateName(kind: "scope" | "stream" | "reader group", name: string): string {
  if (!withinBytes(name, nameBytesMax) || name.length === 0 || !namePattern.test(name)) {
    throw new InvalidNameError(
      `invalid ${kind} name ${quoteBounded(name)}: use 1-${nameBytesMax} characters from A-Z a-z 0-9 _ . -, starting with a letter or digit`,
    );
  }
  return name;
}

export interface StreamName {
  scope: string;
  stream: string;
}

/** Parses `scope/stream`. */
export function parseStreamName(qualified: string): StreamName {
  // scope, "/" and stream: anything longer is refused before it is split.
  const parts = withinBytes(qualified, 2 * nameBytesMax + 1) ? qualified.split("/") : [];
  if (parts.length !== 2) {
    throw new InvalidNameError(`invalid stream ${quoteBounded(qualified)}: write it as scope/stream, each 1-${nameBytesMax} characters`);
  }
  return { scope: validateName("scope", parts[0]!), stream: validateName("stream", parts[1]!) };
}

export function segmentName(scope: string, stream: string, number: number, epoch: number): string {
  return `${scope}/${stream}/${number}.#epoch.${epoch}`;
}

/** The name of transaction `txnId`'s segment for `parent` (a segment name without a txn part). */
export function txnSegmentName(parent: string, txnId: string): string {
  return `${parent}#txn.${txnId}`;
}

export interface SegmentName extends StreamName {
  number: number;
  epoch: number;
  /** The transaction id of a transaction segment (32 lower-case hex digits). */
  txn?: string;
}

/** A segment name's scope and stream come first; this much of a bad one is quoted, enough to show which stream it names. */
const segmentNameQuotedCharsMax = 128;

const segmentPattern = /^([^/]+)\/([^/]+)\/(0|[1-9]\d{0,9})\.#epoch\.(0|[1-9]\d{0,9})(?:#txn\.([0-9a-f]{32}))?$/;
/** The largest segment number and epoch (they are kept as u32 in epoch records and protobuf). */
export const segmentNumberMax = 0xffff_ffff;

/** Parses a qualified segment name (a transaction segment too); raises INVALID_NAME when it is not one. */
export function parseSegmentName(name: string): SegmentName {
  // The length first: the pattern is not run over a name longer than any segment name can be.
  const m = withinBytes(name, segmentNameBytesMax) ? segmentPattern.exec(name) : null;
  const number = Number(m?.[3]);
  const epoch = Number(m?.[4]);
  if (m === null || number > segmentNumberMax || epoch > segmentNumberMax) {
    throw new InvalidNameError(
      `invalid segment name ${quoteBounded(name, segmentNameQuotedCharsMax)}: expected scope/stream/N.#epoch.E (N and E integers up to ${segmentNumberMax}) of at most ${segmentNameBytesMax} bytes, optionally followed by #txn.<32 hex digits>`,
    );
  }
  const scope = validateName("scope", m[1]!);
  const stream = validateName("stream", m[2]!);
  return m[5] === undefined ? { scope, stream, number, epoch } : { scope, stream, number, epoch, txn: m[5] };
}

/** The parent segment of a transaction segment, or the name itself for any other segment. */
export function parentSegmentName(name: string): string {
  const i = name.indexOf("#txn.");
  return i < 0 ? name : name.slice(0, i);
}

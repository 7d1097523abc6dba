/**
 * Names of scopes, streams and segments. A qualified segment name is
 * `scope/stream/number.#epoch.E` (after Pravega): `number` is unique within the stream except that
 * a rolling transaction commit makes a duplicate of a segment (same number, a new epoch), and E is
 * the epoch that created the segment. A transaction segment is its parent's name plus
 * `#txn.<32 hex digits>` (the transaction id); it is merged into its parent on commit.
 */
import { InvalidNameError } from "./errors.js";
import { nameBytesMax } from "./limits.js";

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a scope or stream name; raises INVALID_NAME saying what is allowed. */
export function validateName(kind: "scope" | "stream" | "reader group", name: string): string {
  if (name.length === 0 || Buffer.byteLength(name) > nameBytesMax || !namePattern.test(name)) {
    throw new InvalidNameError(
      `invalid ${kind} name ${JSON.stringify(name)}: use 1-${nameBytesMax} characters from A-Z a-z 0-9 _ . -, starting with a letter or digit`,
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
  const parts = qualified.split("/");
  if (parts.length !== 2) {
    throw new InvalidNameError(`invalid stream ${JSON.stringify(qualified)}: write it as scope/stream`);
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

const segmentPattern = /^([^/]+)\/([^/]+)\/(0|[1-9]\d{0,9})\.#epoch\.(0|[1-9]\d{0,9})(?:#txn\.([0-9a-f]{32}))?$/;
/** The largest segment number and epoch (they are kept as u32 in epoch records and protobuf). */
export const segmentNumberMax = 0xffff_ffff;

/** Parses a qualified segment name (a transaction segment too); raises INVALID_NAME when it is not one. */
export function parseSegmentName(name: string): SegmentName {
  const m = segmentPattern.exec(name);
  const number = Number(m?.[3]);
  const epoch = Number(m?.[4]);
  if (m === null || number > segmentNumberMax || epoch > segmentNumberMax) {
    throw new InvalidNameError(`invalid segment name ${JSON.stringify(name.slice(0, 300))}: expected scope/stream/N.#epoch.E (N and E integers up to ${segmentNumberMax}), optionally followed by #txn.<32 hex digits>`);
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

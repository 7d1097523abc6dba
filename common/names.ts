/**
 * Names of scopes, streams and segments. A qualified segment name is
 * `scope/stream/number.#epoch.E` (after Pravega), so a later scale can add segments of a new epoch.
 */
import { InvalidNameError } from "./errors.js";
import { nameBytesMax } from "./limits.js";

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a scope or stream name; raises INVALID_NAME saying what is allowed. */
export function validateName(kind: "scope" | "stream", name: string): string {
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

export interface SegmentName extends StreamName {
  number: number;
  epoch: number;
}

const segmentPattern = /^([^/]+)\/([^/]+)\/(\d+)\.#epoch\.(\d+)$/;

/** Parses a qualified segment name; raises INVALID_NAME when it is not one. */
export function parseSegmentName(name: string): SegmentName {
  const m = segmentPattern.exec(name);
  if (m === null) throw new InvalidNameError(`invalid segment name ${JSON.stringify(name)}: expected scope/stream/N.#epoch.E`);
  const scope = validateName("scope", m[1]!);
  const stream = validateName("stream", m[2]!);
  return { scope, stream, number: Number(m[3]), epoch: Number(m[4]) };
}

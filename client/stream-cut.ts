/**
 * Stream cuts as text and bytes, so a cut can be kept in a file, passed on a command line
 * (`sluice read STREAM --from CUT`) or stored by a job, and given back later.
 *
 * Bytes, format version 1 (all integers big-endian):
 *
 * ```
 * u8  version = 1
 * u16 stream name length, then the stream's "scope/stream" in UTF-8
 * u16 count (1 to streamCutPositionsMax)
 * count times: u32 segment number, u32 creating epoch, u64 offset (at most 2^53-1)
 * u32 CRC-32 of every byte before it
 * ```
 *
 * Every position of a cut names a segment of one stream (`scope/stream/N.#epoch.E`), so the stream
 * is written once and each position as its number and epoch. The checksum makes a cut that was
 * cut short, edited or mistyped fail to decode rather than decode to another cut.
 *
 * Text: `sc1.` followed by the bytes in unpadded base64url (A-Z a-z 0-9 - _). It holds no space,
 * quote or shell metacharacter, and the prefix keeps it from starting with `-` (an option to a
 * command). Surrounding whitespace (a file's trailing newline) is ignored when it is read.
 *
 * Positions keep their order through both forms. Any input that is not a well-formed cut raises
 * INVALID_ARGUMENT saying what is wrong; whether the cut fits its stream (its segments cover every
 * key once, none follows another) only the controller can tell, and it checks that when the cut is
 * used.
 */
import { crc32 } from "node:zlib";
import { InvalidArgumentError, SluiceError, nameBytesMax, parseSegmentName, parseStreamName, segmentName, streamCutPositionsMax } from "../common/index.js";
import type { StreamCut } from "../proto/index.js";

const bytesVersion = 1;
const textPrefix = "sc1.";
/** u32 number, u32 epoch, u64 offset. */
const positionBytes = 16;
const crcBytes = 4;
/** A stream name is two names and a slash. */
const streamNameBytesMax = 2 * nameBytesMax + 1;
const bytesMin = 1 + 2 + 3 + 2 + positionBytes + crcBytes;
const bytesMax = 1 + 2 + streamNameBytesMax + 2 + streamCutPositionsMax * positionBytes + crcBytes;
/** Longest text: the prefix and the longest bytes in base64 (4 characters per 3 bytes, unpadded). */
const textLengthMax = textPrefix.length + Math.ceil((bytesMax * 4) / 3);
const twoPow32 = 2 ** 32;

interface CheckedCut {
  /** `scope/stream`. */
  stream: string;
  positions: { number: number; epoch: number; offset: number }[];
}

/**
 * Checks that `cut` is well formed: 1 to streamCutPositionsMax positions, each naming a segment
 * (not a transaction segment) of one stream, once, at an integer offset >= 0. Raises INVALID_ARGUMENT.
 */
function checkCut(cut: StreamCut, what = "stream cut"): CheckedCut {
  const positions: unknown = (cut as { positions?: unknown } | undefined)?.positions;
  if (!Array.isArray(positions)) throw new InvalidArgumentError(`${what} must be an object with a positions array`);
  if (positions.length === 0) throw new InvalidArgumentError(`${what} has no positions: a cut names one offset in each of its segments`);
  if (positions.length > streamCutPositionsMax) throw new InvalidArgumentError(`${what} has ${positions.length} positions; at most ${streamCutPositionsMax} are allowed`);
  let stream: string | undefined;
  const out: CheckedCut["positions"] = [];
  const seen = new Set<string>();
  for (const p of cut.positions) {
    const segment: unknown = (p as { segment?: unknown } | undefined)?.segment;
    const offset: unknown = (p as { offset?: unknown } | undefined)?.offset;
    if (typeof segment !== "string") throw new InvalidArgumentError(`${what}: each position needs a segment name (a string)`);
    let name;
    try {
      name = parseSegmentName(segment);
    } catch (err) {
      throw new InvalidArgumentError(`${what}: ${err instanceof SluiceError ? err.message : String(err)}`, { cause: err });
    }
    if (name.txn !== undefined) throw new InvalidArgumentError(`${what}: ${segment} is a transaction segment; a cut names stream segments`);
    const of = `${name.scope}/${name.stream}`;
    if (stream === undefined) stream = of;
    else if (of !== stream) throw new InvalidArgumentError(`${what} names segments of two streams, ${stream} and ${of}; a cut belongs to one stream`);
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError(`${what}: offset ${String(offset)} of ${segment} is not an integer in [0, 2^53-1]`);
    }
    if (seen.has(segment)) throw new InvalidArgumentError(`${what} names ${segment} twice; a cut holds one offset per segment`);
    seen.add(segment);
    out.push({ number: name.number, epoch: name.epoch, offset });
  }
  return { stream: stream!, positions: out };
}

/**
 * The stream (`scope/stream`) whose segments `cut` names. Raises INVALID_ARGUMENT for a cut of
 * several streams, of none, or not well formed; with `what` (the caller's name for the cut, such as
 * "from"), its message starts with it.
 */
export function streamOfCut(cut: StreamCut, what?: string): string {
  try {
    return checkCut(cut).stream;
  } catch (err) {
    if (what === undefined || !(err instanceof SluiceError)) throw err;
    throw new InvalidArgumentError(`${what}: ${err.message}`, { cause: err });
  }
}

/** `cut` in the binary form of this file's comment. Raises INVALID_ARGUMENT for a cut that is not well formed. */
export function streamCutToBytes(cut: StreamCut): Uint8Array {
  const { stream, positions } = checkCut(cut);
  const streamBytes = Buffer.byteLength(stream, "utf8");
  const out = Buffer.alloc(1 + 2 + streamBytes + 2 + positions.length * positionBytes + crcBytes);
  let at = out.writeUInt8(bytesVersion, 0);
  at = out.writeUInt16BE(streamBytes, at);
  at += out.write(stream, at, "utf8");
  at = out.writeUInt16BE(positions.length, at);
  for (const p of positions) {
    at = out.writeUInt32BE(p.number, at);
    at = out.writeUInt32BE(p.epoch, at);
    const high = Math.floor(p.offset / twoPow32);
    at = out.writeUInt32BE(high, at);
    at = out.writeUInt32BE(p.offset - high * twoPow32, at);
  }
  at = out.writeUInt32BE(crc32(out.subarray(0, at)), at);
  if (at !== out.length) throw new Error(`invariant violated: a cut wrote ${at} of ${out.length} bytes`);
  return out;
}

/** The cut `bytes` hold (made by streamCutToBytes). Raises INVALID_ARGUMENT saying what is wrong with them. */
export function streamCutFromBytes(bytes: Uint8Array): StreamCut {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("stream cut bytes must be a Uint8Array");
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new InvalidArgumentError(`stream cut bytes are not a valid cut: ${why}`);
  if (b.length < 1) throw bad("there are none");
  const version = b.readUInt8(0);
  if (version !== bytesVersion) throw bad(`format version ${version} is unknown; this client reads version ${bytesVersion} (was the cut made by a newer Sluice, or is this not a cut?)`);
  if (b.length < bytesMin) throw bad(`${b.length} bytes is too short for a cut (at least ${bytesMin}); was it cut short?`);
  if (b.length > bytesMax) throw bad(`${b.length} bytes is longer than any cut (at most ${bytesMax})`);
  const body = b.subarray(0, b.length - crcBytes);
  if (crc32(body) !== b.readUInt32BE(body.length)) throw bad("the checksum does not match: the cut was damaged, cut short or edited");
  // The checksum matched, so what follows was written by streamCutToBytes; the checks below guard against a cut that a
  // different program made with a valid checksum, and say what is wrong rather than reading past the end.
  let at = 1;
  const streamBytes = body.readUInt16BE(at);
  at += 2;
  if (streamBytes > streamNameBytesMax || at + streamBytes + 2 > body.length) throw bad(`its stream name length ${streamBytes} does not fit the ${body.length} bytes`);
  const stream = body.toString("utf8", at, at + streamBytes);
  at += streamBytes;
  let scope: string;
  let name: string;
  try {
    ({ scope, stream: name } = parseStreamName(stream));
  } catch (err) {
    throw bad(err instanceof SluiceError ? err.message : String(err));
  }
  const count = body.readUInt16BE(at);
  at += 2;
  if (count < 1 || count > streamCutPositionsMax) throw bad(`it holds ${count} positions; a cut holds 1 to ${streamCutPositionsMax}`);
  if (body.length - at !== count * positionBytes) throw bad(`${count} positions need ${count * positionBytes} bytes, but ${body.length - at} follow`);
  const positions: StreamCut["positions"] = [];
  for (let i = 0; i < count; i++) {
    const number = body.readUInt32BE(at);
    const epoch = body.readUInt32BE(at + 4);
    const high = body.readUInt32BE(at + 8);
    const offset = high * twoPow32 + body.readUInt32BE(at + 12);
    at += positionBytes;
    if (!Number.isSafeInteger(offset)) throw bad(`position ${i} has an offset above 2^53-1`);
    positions.push({ segment: segmentName(scope, name, number, epoch), offset });
  }
  const cut = { positions };
  checkCut(cut, "the decoded cut");
  return cut;
}

/** `cut` as text (`sc1.` and base64url, see this file's comment). Raises INVALID_ARGUMENT for a cut that is not well formed. */
export function streamCutToText(cut: StreamCut): string {
  return textPrefix + Buffer.from(streamCutToBytes(cut)).toString("base64url");
}

/** The cut `text` holds (made by streamCutToText; surrounding whitespace is ignored). Raises INVALID_ARGUMENT saying what is wrong with it. */
export function streamCutFromText(text: string): StreamCut {
  if (typeof text !== "string") throw new InvalidArgumentError("a stream cut's text must be a string");
  const t = text.trim();
  const shown = JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}...` : t);
  if (!t.startsWith(textPrefix)) {
    throw new InvalidArgumentError(`${shown} is not a stream cut: a cut's text starts with "${textPrefix}" (as streamCutToText and the sluice command print it)`);
  }
  if (t.length > textLengthMax) throw new InvalidArgumentError(`stream cut text of ${t.length} characters is longer than any cut (at most ${textLengthMax})`);
  const body = t.slice(textPrefix.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) {
    throw new InvalidArgumentError(`stream cut text ${shown} holds characters outside base64url (A-Z a-z 0-9 - _) after "${textPrefix}"; was it changed or wrapped?`);
  }
  const bytes = Buffer.from(body, "base64url");
  // Node's decoder ignores stray trailing bits; a text it does not give back exactly was damaged.
  if (bytes.toString("base64url") !== body) throw new InvalidArgumentError(`stream cut text ${shown} is not whole base64url: was it cut short?`);
  return streamCutFromBytes(bytes);
}

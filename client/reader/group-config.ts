/**
 * Opening a reader group: its name, its config in the controller (created or checked), the name of
 * the segment holding its state, and how the state record is encoded.
 */
import {
  DataCorruptionError,
  InvalidArgumentError,
  InvalidNameError,
  NoSuchReaderGroupError,
  ReaderGroupExistsError,
  nameBytesMax,
  parseStreamName,
  readerGroupReaderTimeoutMsDefault,
  readerGroupReaderTimeoutMsMax,
  readerGroupReaderTimeoutMsMin,
  readerGroupStreamsMax,
  segmentNumberMax,
  validateName,
} from "../../common/index.js";
import type { ReaderGroupConfig, StreamCut } from "../../proto/index.js";
import { cutsByStream, type GroupLookups, type ReaderGroupServices } from "./group-lookups.js";
import type { GroupState } from "./group-state.js";

/** Which streams a group reads, and from where to where. */
export interface ReaderGroupOptions {
  /** `scope/stream` names, 1 to readerGroupStreamsMax. */
  streams: string[];
  /** Where reading starts: each stream's head (default), its tail now, or cuts (one per stream; streams without one start at their head). */
  from?: "head" | "tail" | StreamCut | StreamCut[];
  /** Where reading ends (one cut per stream; streams without one are read for ever, or to the end of a sealed stream). */
  to?: StreamCut | StreamCut[];
  /**
   * The liveness lease of the group's readers (each may set its own): a reader that shows no sign
   * of life for this long (a killed or paused process) is declared offline by another reader and
   * its segments go back to the group from its last recorded positions. 0 turns it off (then only
   * readerOffline frees a dead reader's segments). Default readerGroupReaderTimeoutMsDefault
   * (30 s), else within [readerGroupReaderTimeoutMsMin, readerGroupReaderTimeoutMsMax]. Kept in the
   * group's state when the group is made; opening an existing group keeps its own.
   */
  readerTimeoutMs?: number;
}

/** Checks a reader lease (0: off); raises INVALID_ARGUMENT naming `what` and the range. */
export function checkReaderTimeout(value: unknown, what: string): number {
  if (value === 0) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < readerGroupReaderTimeoutMsMin || value > readerGroupReaderTimeoutMsMax) {
    throw new InvalidArgumentError(`${what} must be 0 (no lease) or an integer in [${readerGroupReaderTimeoutMsMin}, ${readerGroupReaderTimeoutMsMax}] ms, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The segment holding a group's state. Pravega names it `_RG<group>`, but scope, stream and segment
 * names must start with a letter or digit here (common/names.ts), and any such stream name could be
 * a user's. So the state lives in a segment of a would-be stream named like the group, numbered
 * with the largest segment number and epoch: no stream ever gets that far, so it never meets a
 * stream's own segments even when a stream has the group's name.
 */
export function stateSegmentName(scope: string, group: string): string {
  return `${scope}/${group}/${segmentNumberMax}.#epoch.${segmentNumberMax}`;
}

/** Parses `scope/group`. Raises INVALID_NAME. */
export function parseGroupName(name: string): { scope: string; group: string } {
  const parts = typeof name === "string" ? name.split("/") : [];
  if (parts.length !== 2) throw new InvalidNameError(`invalid reader group ${JSON.stringify(name)}: write it as scope/group`);
  return { scope: validateName("scope", parts[0]!), group: validateName("reader group", parts[1]!) };
}

/** The state record: JSON, with a version. */
export function encodeState(s: GroupState): Buffer {
  return Buffer.from(JSON.stringify(s), "utf8");
}

/**
 * Raises DATA_CORRUPTION for bytes that are not a state record this client understands. A record
 * of an older client has no sessions and no group lease: its readers have none (they never
 * expire) and the group gets the default lease.
 */
export function decodeState(bytes: Buffer): GroupState {
  let s: unknown;
  try {
    s = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new DataCorruptionError(`reader group state record is not JSON`, { cause: err });
  }
  const v = s as Partial<GroupState> | null;
  if (v === null || typeof v !== "object" || v.version !== 1 || !Array.isArray(v.active) || !Array.isArray(v.readers) || !Array.isArray(v.streams)) {
    throw new DataCorruptionError(`reader group state record has version ${String(v?.version)} or a bad shape; it was written by another client version`);
  }
  const sessions = Array.isArray(v.sessions) ? v.sessions : [];
  const readerTimeoutMs = typeof v.readerTimeoutMs === "number" ? v.readerTimeoutMs : readerGroupReaderTimeoutMsDefault;
  return { ...(s as GroupState), sessions, readerTimeoutMs };
}

/** Whether two stream lists name the same streams (in any order). */
export function sameStreams(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}

function checkOptions(name: string, o: ReaderGroupOptions): string[] {
  if (typeof o !== "object" || o === null || !Array.isArray(o.streams)) throw new InvalidArgumentError(`reader group ${name} needs a config: { streams: ["scope/stream", ...] }`);
  if (o.streams.length < 1 || o.streams.length > readerGroupStreamsMax) throw new InvalidArgumentError(`a reader group reads 1 to ${readerGroupStreamsMax} streams, not ${o.streams.length}`);
  for (const s of o.streams) parseStreamName(s);
  if (new Set(o.streams).size !== o.streams.length) throw new InvalidArgumentError(`reader group ${name} names a stream twice: ${o.streams.join(", ")}`);
  if (o.from !== undefined && o.from !== "head" && o.from !== "tail" && typeof o.from !== "object") {
    throw new InvalidArgumentError(`from must be "head", "tail" or stream cuts, not ${JSON.stringify(o.from)}`);
  }
  if (o.readerTimeoutMs !== undefined) checkReaderTimeout(o.readerTimeoutMs, "readerTimeoutMs");
  return o.streams;
}

/**
 * The group's stored config: created from `options` if absent (`from` resolved to cuts now), checked
 * against them if present (only the stream list must match; the stored cuts stand). Without options
 * the group must exist. Raises INVALID_NAME, INVALID_ARGUMENT, NO_SUCH_SCOPE, NO_SUCH_STREAM,
 * NO_SUCH_READER_GROUP, READER_GROUP_EXISTS.
 */
export async function groupConfig(name: string, options: ReaderGroupOptions | undefined, lookups: GroupLookups, services: ReaderGroupServices): Promise<ReaderGroupConfig> {
  const { scope, group } = parseGroupName(name);
  const get = async (): Promise<ReaderGroupConfig | undefined> => {
    try {
      return (await services.call("GetReaderGroup", { scope, group })).config;
    } catch (err) {
      if (err instanceof NoSuchReaderGroupError) return undefined;
      throw err;
    }
  };
  const check = (found: ReaderGroupConfig, streams: readonly string[]): ReaderGroupConfig => {
    const have = found.streams.map((s) => s.stream);
    if (!sameStreams(have, streams)) {
      throw new ReaderGroupExistsError(`reader group ${name} exists and reads ${have.join(", ")}, not ${streams.join(", ")}: delete it first, or open it as it is and move it with resetTo`);
    }
    return found;
  };
  if (options === undefined) {
    const found = await get();
    if (found === undefined) throw new NoSuchReaderGroupError(`reader group ${name} does not exist; pass a config ({ streams: [...] }) to create it`);
    return found;
  }
  const streams = checkOptions(name, options);
  const found = await get();
  if (found !== undefined) return check(found, streams);
  const from = typeof options.from === "object" ? cutsByStream(options.from, streams, "from") : undefined;
  const to = options.to === undefined ? undefined : cutsByStream(options.to, streams, "to");
  const config: ReaderGroupConfig = { streams: [], checkpointIntervalMs: 0 };
  for (const stream of streams) {
    const start = from?.get(stream) ?? (await lookups.endCut(stream, options.from === "tail" ? "tail" : "head"));
    const end = to?.get(stream);
    config.streams.push({ stream, from: start, ...(end === undefined ? {} : { to: end }) });
  }
  try {
    await services.call("CreateReaderGroup", { scope, group, config });
    return config;
  } catch (err) {
    if (!(err instanceof ReaderGroupExistsError)) throw err;
  }
  // Created meanwhile by someone else, with other cuts: open theirs if it reads the same streams.
  const raced = await get();
  if (raced === undefined) throw new NoSuchReaderGroupError(`reader group ${name} was created and deleted while this client opened it; try again`);
  return check(raced, streams);
}

/** Checks a reader id; raises INVALID_NAME saying what is allowed. */
export function checkReaderId(id: string): void {
  if (typeof id !== "string" || id.length === 0 || Buffer.byteLength(id) > nameBytesMax || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) {
    throw new InvalidNameError(`invalid reader id ${JSON.stringify(id)}: use 1-${nameBytesMax} characters from A-Z a-z 0-9 _ . -, starting with a letter or digit`);
  }
}

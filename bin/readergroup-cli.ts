/**
 * `sluice readergroup create|info|checkpoint|reset|delete|readeroffline`: reader groups from the
 * command line. Each command opens the group (following its state segment), does one thing and
 * closes it; none joins the group as a reader, so none holds segments or delays a checkpoint.
 */
import {
  InvalidArgumentError,
  InvalidConfigError,
  NoSuchReaderGroupError,
  ReaderGroupExistsError,
  describeOptions,
  parseConfig,
  parseStreamName,
  readerGroupReaderTimeoutMsDefault,
  readerGroupReaderTimeoutMsMax,
  readerGroupReaderTimeoutMsMin,
  type OptionSpecs,
} from "../common/index.js";
import { streamCutToText, streamOfCut, type ReaderGroup, type ReaderGroupOptions, type Sluice, type StreamCut } from "../client/index.js";
import { controllerOption, one, out, withClient } from "./cli.js";
import { checkReaderTimeoutOption, cutsOption } from "./read-cli.js";

/** The longest --timeout-ms a checkpoint may be given: a day. */
const checkpointTimeoutMsMax = 24 * 60 * 60 * 1000;

const createOptions = {
  ...controllerOption,
  streams: { kind: "string", default: "", help: "the streams the group reads, SCOPE/STREAM[,SCOPE/STREAM...] (required)" },
  from: { kind: "string", default: "head", help: "where reading starts: head, tail, or cut texts (comma-separated, one per stream; streams without one start at their head)" },
  to: { kind: "string", default: "", help: "where reading ends: cut texts (comma-separated; streams without one are read for ever)" },
  "reader-timeout-ms": {
    kind: "int",
    default: readerGroupReaderTimeoutMsDefault,
    min: 0,
    max: readerGroupReaderTimeoutMsMax,
    help: `the readers' liveness lease: a reader silent this long is declared offline by another reader (0: none; else ${readerGroupReaderTimeoutMsMin}..${readerGroupReaderTimeoutMsMax})`,
  },
} satisfies OptionSpecs;

const checkpointOptions = {
  ...controllerOption,
  "timeout-ms": { kind: "int", default: 30_000, min: 1, max: checkpointTimeoutMsMax, help: "how long every online reader has to reach the checkpoint" },
} satisfies OptionSpecs;

export const readerGroupHelp = `sluice readergroup create SCOPE/GROUP --streams SCOPE/STREAM[,...] [--from head|tail|CUT[,CUT...]] [--to CUT[,CUT...]]
sluice readergroup info SCOPE/GROUP
sluice readergroup checkpoint SCOPE/GROUP NAME [--timeout-ms N]
sluice readergroup reset SCOPE/GROUP CUT...|head|tail
sluice readergroup delete SCOPE/GROUP
sluice readergroup readeroffline SCOPE/GROUP READER
  create:        a durable group reading the streams from --from to --to (sluice read --group reads through
                 it). A group that exists reading the same streams is left as it is. Its readers hold a
                 liveness lease (--reader-timeout-ms): one killed or paused longer is declared offline by
                 another reader, which takes over its segments from its last recorded positions.
  info:          the streams, the online readers and their leases, each segment with its owner (- unassigned)
                 and recorded offset (an online reader's lags by up to a second), the unread bytes, the
                 group's position and the last checkpoints as cut texts, and a pending checkpoint.
  checkpoint:    takes checkpoint NAME and prints its cut texts, one line per stream (each names its stream;
                 give them to sluice read --from or sluice readergroup reset). It completes only when every
                 online reader reaches it, and a reader reaches it only while it reads: with readers online
                 but idle it fails TIMEOUT after --timeout-ms (declare dead readers offline first). With no
                 reader online (sluice read --group closes its reader on exit) it completes at once.
  reset:         moves the whole group to the cuts given (streams without one stay where they are), or to
                 each stream's head or tail; online readers drop what they hold and read from there.
  delete:        deletes the group's state and config; readers still in it then fail.
  readeroffline: for a reader that died: its segments go back to the group at its last recorded positions
                 (events it returned after those are read again).
  CUT is a stream cut's text (sc1...).
${describeOptions({ ...createOptions, ...checkpointOptions })}`;

/** Opens existing group `name`; raises NO_SUCH_READER_GROUP saying how to create it. */
async function openGroup(s: Sluice, name: string): Promise<ReaderGroup> {
  try {
    return await s.readerGroup(name);
  } catch (err) {
    if (err instanceof NoSuchReaderGroupError) {
      throw new NoSuchReaderGroupError(`reader group ${name} does not exist: create it with sluice readergroup create ${name} --streams SCOPE/STREAM`, { cause: err });
    }
    throw err;
  }
}

/** Runs `fn` on existing group `name`, closing it after. */
function withGroup<T>(controller: string, name: string, fn: (group: ReaderGroup, s: Sluice) => Promise<T>): Promise<T> {
  return withClient(controller, async (s) => {
    const group = await openGroup(s, name);
    try {
      return await fn(group, s);
    } finally {
      await group.close();
    }
  });
}

/** Exactly two positionals, `first` and `second`; raises INVALID_ARGUMENT with the command's form. */
function two(positionals: string[], first: string, second: string, form: string): [string, string] {
  const [a, b] = positionals;
  if (a === undefined || b === undefined || positionals.length !== 2) throw new InvalidArgumentError(`expected ${first} and ${second}: ${form}`);
  return [a, b];
}

/** `STREAM CUT` for a position or checkpoint line. */
function cutLine(cut: StreamCut): string {
  return cut.positions.length === 0 ? "- (no segments)" : `${streamOfCut(cut)} ${streamCutToText(cut)}`;
}

async function create(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(createOptions, argv);
  const name = one(positionals, "reader group (scope/group)");
  if (config.streams === "") throw new InvalidConfigError("--streams is required: the streams the group reads, SCOPE/STREAM[,SCOPE/STREAM...]");
  const streams = config.streams.split(",");
  for (const stream of streams) parseStreamName(stream);
  const options: ReaderGroupOptions = {
    streams,
    from: config.from === "head" || config.from === "tail" ? config.from : cutsOption("--from", config.from),
    ...(config.to === "" ? {} : { to: cutsOption("--to", config.to) }),
    readerTimeoutMs: checkReaderTimeoutOption("--reader-timeout-ms", config["reader-timeout-ms"]),
  };
  const line = await withClient(config.controller, async (s) => {
    let group: ReaderGroup;
    let existed = true;
    try {
      group = await s.readerGroup(name);
    } catch (err) {
      if (!(err instanceof NoSuchReaderGroupError)) throw err;
      existed = false;
      group = await s.readerGroup(name, options);
    }
    try {
      if (existed && [...group.streams].sort().join(",") !== [...streams].sort().join(",")) {
        throw new ReaderGroupExistsError(`reader group ${name} exists and reads ${group.streams.join(", ")}: delete it first (sluice readergroup delete ${name})`);
      }
      return existed ? `reader group ${name} exists, reading ${group.streams.join(", ")}; left as it is` : `reader group ${name} created, reading ${streams.join(", ")}`;
    } finally {
      await group.close();
    }
  });
  out(line);
}

async function info(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(controllerOption, argv);
  const name = one(positionals, "reader group (scope/group)");
  const lines = await withGroup(config.controller, name, async (group) => {
    const d = group.describe();
    const result = [`reader group ${name} reads ${group.streams.join(", ")}`, `readers online: ${d.readers.length === 0 ? "none" : d.readers.join(", ")}`];
    const lease = (ms: number | null) => (ms === null ? "none (an older client)" : ms === 0 ? "none" : `${ms} ms`);
    result.push(`reader lease: ${lease(d.readerTimeoutMs)}`);
    for (const x of d.leases) result.push(`reader ${x.reader} lease ${lease(x.timeoutMs)}`);
    for (const x of d.segments) result.push(`segment ${x.segment} owner ${x.owner ?? "-"} offset ${x.offset}${x.endOffset >= 0 ? ` to ${x.endOffset}` : ""}`);
    result.push(`segments read to their end and kept: ${d.completed}, waiting for their predecessors: ${d.waiting}`);
    result.push(`unread bytes: ${await group.unreadBytes()}`);
    for (const cut of group.positions()) result.push(`position ${cutLine(cut)}`);
    for (const c of d.checkpoints) for (const cut of c.cuts) result.push(`checkpoint ${c.name} ${cutLine(cut)}`);
    if (d.pendingCheckpoint !== null) result.push(`pending checkpoint ${d.pendingCheckpoint.name} waiting for ${d.pendingCheckpoint.waiting.join(", ")}`);
    return result;
  });
  for (const line of lines) out(line);
}

async function checkpoint(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(checkpointOptions, argv);
  const [name, checkpointName] = two(positionals, "a reader group (scope/group)", "a checkpoint name", "sluice readergroup checkpoint SCOPE/GROUP NAME");
  const taken = await withGroup(config.controller, name, (group) => group.checkpoint(checkpointName, { timeoutMs: config["timeout-ms"] }));
  for (const cut of taken.cuts) out(streamCutToText(cut));
}

async function reset(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(controllerOption, argv);
  const [name, ...targets] = positionals;
  if (name === undefined || targets.length === 0) {
    throw new InvalidArgumentError("expected a reader group (scope/group) and where to move it, cut texts or head or tail: sluice readergroup reset SCOPE/GROUP CUT...|head|tail");
  }
  const end = targets.length === 1 && (targets[0] === "head" || targets[0] === "tail") ? targets[0] : undefined;
  // Cut texts are checked before anything connects.
  const given = end === undefined ? targets.flatMap((t) => cutsOption("cut argument", t)) : [];
  await withGroup(config.controller, name, async (group, s) => {
    const cuts = end === undefined ? given : await Promise.all(group.streams.map((stream) => (end === "head" ? s.admin.headCut(stream) : s.admin.tailCut(stream))));
    await group.resetTo(cuts);
  });
  out(`reader group ${name} moved to ${end ?? `${given.length} cut${given.length === 1 ? "" : "s"}`}`);
}

async function remove(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(controllerOption, argv);
  const name = one(positionals, "reader group (scope/group)");
  const deleted = await withClient(config.controller, (s) => s.deleteReaderGroup(name));
  out(deleted ? `reader group ${name} deleted` : `reader group ${name} does not exist`);
}

async function readerOffline(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(controllerOption, argv);
  const [name, reader] = two(positionals, "a reader group (scope/group)", "a reader id", "sluice readergroup readeroffline SCOPE/GROUP READER");
  const online = await withGroup(config.controller, name, async (group) => {
    const readers = group.describe().readers;
    // Checks the id (INVALID_NAME) even when it is not online; declaring a reader offline twice changes nothing.
    await group.readerOffline(reader);
    return readers;
  });
  out(
    online.includes(reader)
      ? `reader ${reader} of ${name} declared offline: its segments went back to the group at its last recorded positions`
      : `reader ${reader} is not online in ${name} (online: ${online.length === 0 ? "none" : online.join(", ")}); nothing changed`,
  );
}

/** `sluice readergroup VERB ...`, as readerGroupHelp says. */
export async function readerGroupCommand(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "help" || rest.includes("--help")) {
    out(readerGroupHelp);
    return;
  }
  switch (verb) {
    case "create":
      return create(rest);
    case "info":
      return info(rest);
    case "checkpoint":
      return checkpoint(rest);
    case "reset":
      return reset(rest);
    case "delete":
      return remove(rest);
    case "readeroffline":
      return readerOffline(rest);
    default:
      throw new InvalidArgumentError(`unknown command: sluice readergroup ${verb}; use create, info, checkpoint, reset, delete or readeroffline (see sluice readergroup --help)`);
  }
}

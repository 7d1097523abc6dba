/**
 * `sluice read`: reads a stream through a reader group and prints each event as one line (UTF-8).
 *
 * Without --group a run reads through a temporary group, `SCOPE/cli-read-<random hex>`, made with
 * the --from and --to cuts and deleted on exit (also when reading fails), so it leaves nothing
 * behind. With --group it reads as reader --reader of that durable group (made with --from/--to if
 * absent): closing the reader records its positions, so the next run continues after the last
 * event this one printed, none twice and none skipped.
 *
 * Without --follow a run ends at the stream's tail as it was at start. A temporary group takes that
 * tail as its `to` cut. A durable group keeps no end (the next run has a later tail), so the run
 * compares the group's positions with the tail itself (TailCheck) and stops once every segment is
 * at or past it; events it is returned on the way are printed, so none is lost for the next run.
 * With --follow (or --to none) it reads until --count or SIGINT/SIGTERM; a signal closes the reader,
 * which records its position, before the command exits.
 */
import { randomBytes } from "node:crypto";
import {
  ClosedError,
  InvalidArgumentError,
  InvalidConfigError,
  NoSuchReaderGroupError,
  SluiceError,
  describeOptions,
  eventHeaderBytes,
  parseConfig,
  parseSegmentName,
  parseStreamName,
  readerGroupReaderTimeoutMsDefault,
  readerGroupReaderTimeoutMsMax,
  readerGroupReaderTimeoutMsMin,
  type OptionSpecs,
} from "../common/index.js";
import { streamCutFromText, type EventReader, type ReadItem, type ReaderGroup, type Sluice, type StreamCut } from "../client/index.js";
import { controllerOption, one, out, withClient } from "./cli.js";
import { Stop, print } from "./read-stop.js";

/** How long one readNext waits before the run checks whether it has reached the tail. */
const readWaitMs = 1_000;
/** Random bytes in a temporary group's name: enough that runs at once never share a group. */
const temporaryGroupIdBytes = 8;

const readOptions = {
  ...controllerOption,
  group: { kind: "string", default: "", help: "read through durable reader group SCOPE/GROUP (joined, or made with --from/--to); default: a temporary group deleted on exit" },
  reader: { kind: "string", default: "cli", help: "this reader's id in the group: a durable group continues where the reader of this id stopped" },
  from: { kind: "string", default: "head", help: "where a new group starts: head, tail or a stream cut text (sc1....)" },
  to: { kind: "string", default: "tail", help: "where reading ends: tail (as it is at start), a stream cut text, or none (as --follow)" },
  count: { kind: "int", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, help: "stop after N events (0: no limit)" },
  "reader-timeout-ms": {
    kind: "int",
    default: readerGroupReaderTimeoutMsDefault,
    min: 0,
    max: readerGroupReaderTimeoutMsMax,
    help: `this reader's liveness lease; if the run is killed or paused longer, another reader of the group takes over its segments (0: none; else ${readerGroupReaderTimeoutMsMin}..${readerGroupReaderTimeoutMsMax}; default: the group's)`,
  },
} satisfies OptionSpecs;

export const readHelp = `sluice read SCOPE/STREAM [--group SCOPE/GROUP] [--reader ID] [--from head|tail|CUT] [--to tail|CUT|none] [--count N] [--follow]
  Prints one event per line (UTF-8). Without --follow it reads from --from to the stream's tail as it
  is at start, then exits. With --follow (or --to none) it follows new events until --count or Ctrl-C;
  SIGINT and SIGTERM close the reader cleanly, recording its position.
  Without --group it reads through a temporary group SCOPE/cli-read-<hex>, deleted on exit. With
  --group it reads through a durable group, made with --from/--to if absent (an existing group keeps
  its own; move it with sluice readergroup reset): each run continues after the last event the
  previous run of the same --reader printed. Runs at once on one group need different --reader ids;
  without --follow such a run ends once the whole group is at the tail (segments other readers hold
  too). A group reading several streams prints the events of all of them.
  CUT is a stream cut's text (sc1...), as sluice readergroup checkpoint and info print it.
  --follow               follow new events, no end (env SLUICE_FOLLOW=1)
${describeOptions(readOptions)}`;

/** Where a run starts and ends: the group's `from`, and the tail at start, cuts, or no end. */
interface ReadPlan {
  from: "head" | "tail" | StreamCut[];
  to: "tail" | "none" | StreamCut[];
  reader: string;
  count: number;
  /** The reader's lease when --reader-timeout-ms was given; else the group's. */
  readerTimeoutMs?: number;
}

/** A lease flag's value: 0 (none) or within the lease bounds; raises INVALID_CONFIG naming the flag and the range. */
export function checkReaderTimeoutOption(flag: string, value: number): number {
  if (value !== 0 && (value < readerGroupReaderTimeoutMsMin || value > readerGroupReaderTimeoutMsMax)) {
    throw new InvalidConfigError(`${flag} must be 0 (no lease) or in [${readerGroupReaderTimeoutMsMin}, ${readerGroupReaderTimeoutMsMax}] ms, got ${value}`);
  }
  return value;
}

/** Comma-separated cut texts as stream cuts. Raises INVALID_ARGUMENT naming `what` and what is wrong. */
export function cutsOption(what: string, text: string): StreamCut[] {
  return text.split(",").map((t) => {
    try {
      return streamCutFromText(t);
    } catch (err) {
      if (err instanceof SluiceError) throw new InvalidArgumentError(`${what}: ${err.message}`, { cause: err });
      throw err;
    }
  });
}

/**
 * Takes the value-less flag --NAME out of `argv` (parseConfig knows only flags with values),
 * stepping over the values of other flags. SLUICE_<NAME>=1 or true also sets it.
 */
function takeSwitch(argv: readonly string[], name: string): { on: boolean; rest: string[] } {
  const rest: string[] = [];
  let on = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === `--${name}`) {
      on = true;
      continue;
    }
    if (arg.startsWith(`--${name}=`)) throw new InvalidConfigError(`--${name} takes no value; leave it out to turn it off`);
    rest.push(arg);
    if (arg.startsWith("--") && !arg.includes("=") && i + 1 < argv.length) rest.push(argv[++i]!);
  }
  const env = process.env[`SLUICE_${name.toUpperCase()}`];
  return { on: on || env === "1" || env === "true", rest };
}

/** Whether --NAME was given (in `argv` or as SLUICE_<NAME>) rather than left at its default. */
function given(argv: readonly string[], name: string): boolean {
  return argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)) || process.env[`SLUICE_${name.toUpperCase()}`] !== undefined;
}

/**
 * The tails of a durable group's streams at start, where a run without --follow stops: the group
 * keeps no end of its own, so the run compares positions with these.
 */
class TailCheck {
  private constructor(
    /** Segment -> its length at start, for every segment current then. */
    private readonly tails: ReadonlyMap<string, number>,
    /** Stream -> its epoch at start. */
    private readonly epochs: ReadonlyMap<string, number>,
  ) {}

  static async take(s: Sluice, streams: readonly string[]): Promise<TailCheck> {
    const tails = new Map<string, number>();
    const epochs = new Map<string, number>();
    for (const stream of streams) {
      // One answer gives both, so the tail's segments are exactly the epoch's.
      const info = await s.admin.streamInfo(stream);
      epochs.set(stream, info.epoch);
      for (const p of info.tail?.positions ?? []) tails.set(p.segment, p.offset);
    }
    return new TailCheck(tails, epochs);
  }

  /** Whether a reader at `offset` in `segment` has read everything of it before the tail. */
  passed(segment: string, offset: number): boolean {
    const tail = this.tails.get(segment);
    if (tail !== undefined) return offset >= tail;
    // Not a segment of the tail: either sealed before the run started (older: still to be read to its end), or made by a
    // scale since (wholly past the tail). A segment's name carries the epoch that made it, so the newer ones are later.
    const n = parseSegmentName(segment);
    const epoch = this.epochs.get(`${n.scope}/${n.stream}`);
    return epoch !== undefined && n.epoch > epoch;
  }

  /** Whether the group is at or past the tail in every segment: its recorded positions, with `reader`'s own exact ones over them. */
  reached(group: ReaderGroup, reader: EventReader): boolean {
    const mine = new Map(reader.position().map((p) => [p.segment, p.offset]));
    return group.positions().every((cut) => cut.positions.every((p) => this.passed(p.segment, mine.get(p.segment) ?? p.offset)));
  }
}

/**
 * Reads as reader `plan.reader` of `group` and prints the events: until the group's end, `tail`
 * (when given), --count or a stop. The reader is closed on the way out, recording its positions.
 */
async function readThrough(group: ReaderGroup, plan: ReadPlan, stop: Stop, tail: TailCheck | undefined): Promise<void> {
  const reader = group.reader(plan.reader, plan.readerTimeoutMs === undefined ? {} : { timeoutMs: plan.readerTimeoutMs });
  // One close, whether a signal or the end of the run asks first: both wait for its positions to be recorded.
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= reader.close());
  const unlisten = stop.onStop(() => void close().catch(() => undefined));
  let printed = 0;
  try {
    // A durable group may already be at the tail: then there is nothing to wait for.
    if (tail?.reached(group, reader) === true) return;
    while (!stop.requested) {
      let item: ReadItem;
      try {
        item = await reader.readNext({ timeoutMs: readWaitMs });
      } catch (err) {
        // A stop closed the reader under the waiting readNext.
        if (stop.requested && err instanceof ClosedError) return;
        throw err;
      }
      if (item.type === "end") return;
      if (item.type === "event") {
        await print(Buffer.from(item.data).toString("utf8"), stop);
        if (plan.count > 0 && ++printed >= plan.count) return;
        if (tail?.passed(item.segment, item.offset + eventHeaderBytes + item.data.length) === true && tail.reached(group, reader)) return;
      } else if (item.type === "timeout" && tail?.reached(group, reader) === true) return;
    }
  } finally {
    unlisten();
    await close();
  }
}

/** Reads through a new temporary group, deleted afterwards whatever happens. */
async function readTemporary(s: Sluice, stream: string, plan: ReadPlan, stop: Stop): Promise<void> {
  const { scope } = parseStreamName(stream);
  // The CLI has no injected random source: a run's group name only has to differ from every other run's.
  const name = `${scope}/cli-read-${randomBytes(temporaryGroupIdBytes).toString("hex")}`;
  const to = plan.to === "tail" ? [await s.admin.tailCut(stream)] : plan.to === "none" ? undefined : plan.to;
  let group: ReaderGroup | undefined;
  const remove = async () => {
    if (group !== undefined) await group.delete();
    else await s.deleteReaderGroup(name);
  };
  try {
    group = await s.readerGroup(name, { streams: [stream], from: plan.from, ...(to === undefined ? {} : { to }) });
    await readThrough(group, plan, stop, undefined);
  } catch (err) {
    await remove().catch((cleanup: unknown) => {
      process.stderr.write(`sluice: could not delete temporary reader group ${name} (${String(cleanup)}); delete it with sluice readergroup delete ${name}\n`);
    });
    throw err;
  }
  await remove();
}

/** Reads through durable group `name`, joined, or made from the plan if absent. */
async function readDurable(s: Sluice, stream: string, name: string, plan: ReadPlan, cutsGiven: boolean, stop: Stop): Promise<void> {
  let group: ReaderGroup;
  try {
    group = await s.readerGroup(name);
    if (cutsGiven) process.stderr.write(`sluice: reader group ${name} exists and reads on from where it is (its own from/to stand); move it with sluice readergroup reset\n`);
  } catch (err) {
    if (!(err instanceof NoSuchReaderGroupError)) throw err;
    // The tail at start is this run's end, not the group's: a later run reads on to its own tail.
    group = await s.readerGroup(name, { streams: [stream], from: plan.from, ...(Array.isArray(plan.to) ? { to: plan.to } : {}) });
  }
  try {
    if (!group.streams.includes(stream)) {
      throw new InvalidArgumentError(`reader group ${name} reads ${group.streams.join(", ")}, not ${stream}: read one of those, or use another group`);
    }
    const tail = plan.to === "none" ? undefined : await TailCheck.take(s, group.streams);
    await readThrough(group, plan, stop, tail);
  } finally {
    await group.close();
  }
}

/** `sluice read`, as readHelp says. */
export async function readCommand(argv: string[]): Promise<void> {
  if (argv.includes("--help")) {
    out(readHelp);
    return;
  }
  const { on: follow, rest } = takeSwitch(argv, "follow");
  const { config, positionals } = parseConfig(readOptions, rest);
  const stream = one(positionals, "stream (scope/stream)");
  parseStreamName(stream);
  if (follow && given(rest, "to") && config.to !== "none") {
    throw new InvalidArgumentError(`--follow reads on past the tail with no end: leave out --to ${config.to}, or leave out --follow to stop there`);
  }
  const plan: ReadPlan = {
    from: config.from === "head" || config.from === "tail" ? config.from : cutsOption("--from", config.from),
    to: follow || config.to === "none" ? "none" : config.to === "tail" ? "tail" : cutsOption("--to", config.to),
    reader: config.reader,
    count: config.count,
    ...(given(rest, "reader-timeout-ms") ? { readerTimeoutMs: checkReaderTimeoutOption("--reader-timeout-ms", config["reader-timeout-ms"]) } : {}),
  };
  const stop = new Stop();
  try {
    await withClient(config.controller, async (s) => {
      // Raises NO_SUCH_STREAM before any group is made.
      await s.admin.streamInfo(stream);
      if (config.group === "") await readTemporary(s, stream, plan, stop);
      else await readDurable(s, stream, config.group, plan, given(rest, "from") || given(rest, "to"), stop);
    });
  } finally {
    stop.remove();
  }
  if (stop.error !== undefined) throw stop.error;
}

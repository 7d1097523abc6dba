/**
 * Probe: the machine's group-commit ceiling from Node. Events of `--event-bytes` (each with its u32
 * length header, as in a segment) are joined 256 to a buffer, and each buffer is appended with one
 * write and one fdatasync, one buffer at a time, for `--duration-ms`. This is the job the journal
 * does for a batch, with nothing else in the way, so it bounds what a durable writer can reach.
 * Prints one JSON line, a `GroupCommitFigures`.
 *
 *   node --import tsx perf/limits/group-commit.ts --dir DIR --duration-ms 10000 [--event-bytes 1024]
 */
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { KiB, MiB, eventHeaderBytes, journalFileBytesMax, InvalidConfigError, parseConfig, systemClock } from "../../common/index.js";

/** What the probe prints. MB/s counts event payload bytes, as the Sluice figures do. */
export interface GroupCommitFigures {
  events: number;
  seconds: number;
  eventBytes: number;
  batchEvents: number;
  eventsPerSec: number;
  mbPerSec: number;
}

/** Events joined into one buffer per write + fdatasync. */
const batchEvents = 256;
/** Duration bounds, so a typo cannot fill the disk or run all night. */
const durationMsMin = 100;
const durationMsMax = 3_600_000;
/**
 * The file is begun again once it reaches the journal's roll-over size, so a long run stays bounded
 * on disk while every write is still an append (which, unlike an overwrite, also syncs the size).
 */
const fileBytesMax = journalFileBytesMax;

const { config } = parseConfig(
  {
    dir: { kind: "string", default: "", pattern: /./, patternHelp: "a directory", help: "where the probe file goes" },
    "duration-ms": { kind: "int", default: 10_000, min: durationMsMin, max: durationMsMax, help: "how long the probe runs" },
    "event-bytes": { kind: "int", default: KiB, min: 1, max: MiB, help: "event payload size" },
  },
  process.argv.slice(2),
);
if (config.dir === "") throw new InvalidConfigError("--dir is required: the directory for the probe file");
const eventBytes = config["event-bytes"];
const path = join(config.dir, "group-commit.dat");

// Events are built once; the join is redone per buffer because a real writer joins fresh events.
const events = Array.from({ length: batchEvents }, () => Buffer.alloc(eventHeaderBytes + eventBytes, 0x61));
let fh: FileHandle = await open(path, "w");
let written = 0;
let position = 0;
const startMs = systemClock.monotonicMs();
try {
  while (systemClock.monotonicMs() - startMs < config["duration-ms"]) {
    const joined = Buffer.concat(events);
    if (position + joined.length > fileBytesMax) {
      await fh.close();
      fh = await open(path, "w");
      position = 0;
    }
    await fh.write(joined, 0, joined.length, position);
    await fh.datasync();
    position += joined.length;
    written += batchEvents;
  }
} finally {
  await fh.close();
  await rm(path, { force: true });
}
const seconds = (systemClock.monotonicMs() - startMs) / 1000;
const figures: GroupCommitFigures = {
  events: written,
  seconds,
  eventBytes,
  batchEvents,
  eventsPerSec: written / seconds,
  mbPerSec: (written * eventBytes) / seconds / 1e6,
};
process.stdout.write(JSON.stringify(figures) + "\n");

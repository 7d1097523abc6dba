/**
 * Probe: the latency of one durable append. A 4 KiB block is appended and fdatasync'ed, one at a
 * time, for `--duration-ms`; each write + fdatasync pair is timed into an HDR histogram in
 * microseconds. This is the floor under a single writer's durable-ack latency when nothing is
 * batched. Prints one JSON line, an `FsyncLatencyFigures`.
 *
 *   node --import tsx perf/limits/fsync-latency.ts --dir DIR --duration-ms 10000
 */
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { KiB, journalFileBytesMax, InvalidConfigError, parseConfig, systemClock } from "../../common/index.js";

/** What the probe prints. */
export interface FsyncLatencyFigures {
  ops: number;
  seconds: number;
  appendBytes: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** The size of each append: one page, the smallest write a journal batch makes. */
const appendBytes = 4 * KiB;
const durationMsMin = 100;
const durationMsMax = 3_600_000;
/** Latencies above this are recorded at this value (the exact maximum is kept apart). */
const latencyUsMax = 60_000_000;
/** As in group-commit.ts: begin the file again at the journal's size, so every write is an append. */
const fileBytesMax = journalFileBytesMax;

const { config } = parseConfig(
  {
    dir: { kind: "string", default: "", pattern: /./, patternHelp: "a directory", help: "where the probe file goes" },
    "duration-ms": { kind: "int", default: 10_000, min: durationMsMin, max: durationMsMax, help: "how long the probe runs" },
  },
  process.argv.slice(2),
);
if (config.dir === "") throw new InvalidConfigError("--dir is required: the directory for the probe file");
const path = join(config.dir, "fsync-latency.dat");

const histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: latencyUsMax,
  numberOfSignificantValueDigits: 3,
  autoResize: false,
});
const block = Buffer.alloc(appendBytes, 0x61);
let fh: FileHandle = await open(path, "w");
let ops = 0;
let position = 0;
let maxUs = 0;
const startMs = systemClock.monotonicMs();
try {
  while (systemClock.monotonicMs() - startMs < config["duration-ms"]) {
    if (position + appendBytes > fileBytesMax) {
      await fh.close();
      fh = await open(path, "w");
      position = 0;
    }
    const opStartMs = systemClock.monotonicMs();
    await fh.write(block, 0, appendBytes, position);
    await fh.datasync();
    const us = Math.max(1, Math.round((systemClock.monotonicMs() - opStartMs) * 1000));
    histogram.recordValue(Math.min(us, latencyUsMax));
    maxUs = Math.max(maxUs, us);
    position += appendBytes;
    ops++;
  }
} finally {
  await fh.close();
  await rm(path, { force: true });
}
const seconds = (systemClock.monotonicMs() - startMs) / 1000;
const figures: FsyncLatencyFigures = {
  ops,
  seconds,
  appendBytes,
  opsPerSec: ops / seconds,
  p50Ms: histogram.getValueAtPercentile(50) / 1000,
  p99Ms: histogram.getValueAtPercentile(99) / 1000,
  p999Ms: histogram.getValueAtPercentile(99.9) / 1000,
  maxMs: maxUs / 1000,
};
histogram.destroy();
process.stdout.write(JSON.stringify(figures) + "\n");

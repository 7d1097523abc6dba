/**
 * First throughput figure (foundation issue): events/s of 1 KiB events written by one writer process
 * to a 4-segment stream on a standalone server (its own process, fresh data dir), next to a plain
 * Node "join 256 events, write, fdatasync" loop on the same disk, in the same invocation.
 *
 *   npm run perf:first -- [--duration 20s] [--event-bytes 1024]
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseConfig } from "../common/index.js";
import { startStandaloneProcess, tsNodeArgs } from "./support/standalone-process.js";

const run = promisify(execFile);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const { config } = parseConfig(
  {
    duration: { kind: "string", default: "20s", pattern: /^\d+s$/, patternHelp: "seconds, e.g. 20s", help: "how long each side runs" },
    "event-bytes": { kind: "int", default: 1024, min: 1, max: 1024 * 1024, help: "event size" },
  },
  process.argv.slice(2),
);
const durationMs = Number(config.duration.slice(0, -1)) * 1000;
const size = String(config["event-bytes"]);

interface Result {
  events: number;
  seconds: number;
  failed?: number;
}

const dir = await mkdtemp(join(tmpdir(), "sluice-perf-"));
try {
  const server = await startStandaloneProcess(join(dir, "data"));
  let sluice: Result;
  try {
    const out = await run(process.execPath, tsNodeArgs(here("./first/writer.ts"), [server.controllerUri, "perf/first", String(durationMs), size]), {
      maxBuffer: 1 << 20,
    });
    sluice = JSON.parse(out.stdout) as Result;
  } finally {
    await server.stop();
  }
  // The group-commit probe of perf:limits is the ceiling for this job: same event size, same disk.
  const base = JSON.parse(
    (await run(process.execPath, tsNodeArgs(here("./limits/group-commit.ts"), ["--dir", dir, "--duration-ms", String(durationMs), "--event-bytes", size])))
      .stdout,
  ) as Result;
  const ours = sluice.events / sluice.seconds;
  const ceiling = base.events / base.seconds;
  const mb = (eps: number) => ((eps * Number(size)) / 1e6).toFixed(1);
  process.stdout.write(
    [
      `event size ${size} B, ${config.duration} each, one writer process, 4 segments, standalone in its own process`,
      `sluice writer (durable acks):          ${Math.round(ours)} events/s  (${mb(ours)} MB/s, ${sluice.failed ?? 0} failed)`,
      `node join-256 + write + fdatasync:     ${Math.round(ceiling)} events/s  (${mb(ceiling)} MB/s)`,
      `ratio sluice / ceiling:                ${(ours / ceiling).toFixed(2)}`,
    ].join("\n") + "\n",
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

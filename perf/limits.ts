/**
 * The machine's ceilings, measured now: group commit from Node (events/s and MB/s), the latency of
 * one durable 4 KiB append, and TCP bandwidth between two processes on 127.0.0.1. Sluice's figures
 * are read against these, so a slow disk or a busy host shows up as a low ceiling rather than as a
 * regression. Each probe runs in its own child process, one after another, so probes share neither
 * an event loop nor the disk; each has a deadline, so a hung probe fails the run instead of hanging.
 *
 *   npm run perf:limits -- [--duration 10s] [--dir DIR] [--out FILE.json]
 */
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { arch, cpus, platform, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InternalError, InvalidConfigError, KiB, TimeoutError, parseConfig } from "../common/index.js";
import type { FsyncLatencyFigures } from "./limits/fsync-latency.js";
import type { GroupCommitFigures } from "./limits/group-commit.js";
import type { LoopbackFigures } from "./limits/loopback.js";

export type { FsyncLatencyFigures, GroupCommitFigures, LoopbackFigures };

/** Bounds on the time each probe runs. */
export const limitsDurationMsMin = 1_000;
export const limitsDurationMsMax = 600_000;
export const limitsDurationMsDefault = 10_000;
/** Start-up and teardown a probe may take beyond its duration before it is killed as hung. */
const probeOverheadMsMax = 30_000;
/** A probe prints one short JSON line; more than this on stdout means it is broken. */
const probeStdoutBytesMax = 64 * KiB;
/** How much of a probe's stderr is kept, from the end, for the error when it fails. */
const probeStderrBytesMax = 8 * KiB;

export interface LimitsOptions {
  /** How long each probe measures, in [limitsDurationMsMin, limitsDurationMsMax]. */
  durationMs: number;
  /** Where the disk probes put their files; kept afterwards. Default: a fresh folder under os.tmpdir(), removed. */
  dir?: string;
  /** Aborting kills the running probe and rejects with the signal's reason (an AbortError by default). */
  signal?: AbortSignal;
  /** Event size of the group-commit probe (default 1 KiB); perf:compare passes the workload's message size. */
  eventBytes?: number;
}

export interface MachineInfo {
  platform: string;
  arch: string;
  release: string;
  cpuCount: number;
  cpuModel: string;
  node: string;
}

export interface LimitsResult {
  /** Wall-clock time the run started, ISO 8601. */
  measuredAt: string;
  durationMs: number;
  dir: string;
  machine: MachineInfo;
  groupCommit: GroupCommitFigures;
  fsyncLatency: FsyncLatencyFigures;
  loopback: LoopbackFigures;
}

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const probeScript = (name: string) => fileURLToPath(new URL(`./limits/${name}.ts`, import.meta.url));

/**
 * Runs one probe script to completion and returns its JSON line. Rejects with TIMEOUT when it
 * outlives `deadlineMs` (it is then killed), with INTERNAL when it fails or prints something else,
 * and with the signal's reason when aborted.
 */
async function runProbe(name: string, args: readonly string[], deadlineMs: number, signal?: AbortSignal): Promise<unknown> {
  signal?.throwIfAborted();
  const child = spawn(process.execPath, ["--import", "tsx", probeScript(name), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const output = await new Promise<string>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      reject(error);
    };
    const timer = setTimeout(() => fail(new TimeoutError(`probe ${name} did not finish within ${deadlineMs} ms`)), deadlineMs);
    const onAbort = () => {
      const reason: unknown = signal?.reason;
      fail(reason instanceof Error ? reason : new InternalError(`probe ${name} aborted: ${String(reason)}`));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      if (stdout.length > probeStdoutBytesMax) fail(new InternalError(`probe ${name} printed over ${probeStdoutBytesMax} bytes`));
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      stderr = (stderr + text).slice(-probeStderrBytesMax);
    });
    child.once("error", (error) => fail(new InternalError(`probe ${name} could not start`, { cause: error })));
    child.once("close", (code, killedBy) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (code === 0) resolve(stdout);
      else reject(new InternalError(`probe ${name} exited with ${code ?? killedBy}: ${stderr.trim()}`));
    });
  });
  const line = output.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as unknown;
  } catch (error: unknown) {
    throw new InternalError(`probe ${name} printed ${JSON.stringify(line)}, not a JSON line`, { cause: error });
  }
}

/**
 * Checks that a probe's line carries every field of its figures as a finite number. `fields` lists
 * the keys as an object so the compiler proves the list complete.
 */
function readFigures<T>(name: string, raw: unknown, fields: { [K in keyof T]: true }): T {
  if (typeof raw !== "object" || raw === null) throw new InternalError(`probe ${name} printed ${JSON.stringify(raw)}, not an object`);
  const figures: Record<string, number> = {};
  for (const key of Object.keys(fields)) {
    const value: unknown = (raw as Record<string, unknown>)[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new InternalError(`probe ${name}: ${key} is ${JSON.stringify(value)}, not a finite number`);
    }
    figures[key] = value;
  }
  return figures as T;
}

const groupCommitFields: { [K in keyof GroupCommitFigures]: true } = {
  events: true,
  seconds: true,
  eventBytes: true,
  batchEvents: true,
  eventsPerSec: true,
  mbPerSec: true,
};
const fsyncLatencyFields: { [K in keyof FsyncLatencyFigures]: true } = {
  ops: true,
  seconds: true,
  appendBytes: true,
  opsPerSec: true,
  p50Ms: true,
  p99Ms: true,
  p999Ms: true,
  maxMs: true,
};
const loopbackFields: { [K in keyof LoopbackFigures]: true } = { bytes: true, seconds: true, writeBytes: true, mbPerSec: true };

function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    platform: platform(),
    arch: arch(),
    release: release(),
    cpuCount: cores.length,
    cpuModel: cores[0]?.model.trim() ?? "unknown",
    node: process.version,
  };
}

/**
 * Measures the ceilings, one probe after another. Rejects with INVALID_CONFIG for a duration out of
 * range, and as `runProbe` does when a probe fails; the default folder is removed either way.
 */
export async function runLimits(options: LimitsOptions): Promise<LimitsResult> {
  const { durationMs, signal } = options;
  if (!Number.isSafeInteger(durationMs) || durationMs < limitsDurationMsMin || durationMs > limitsDurationMsMax) {
    throw new InvalidConfigError(`durationMs: ${durationMs} is not an integer in [${limitsDurationMsMin}, ${limitsDurationMsMax}]`);
  }
  const measuredAt = new Date().toISOString();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "sluice-limits-")));
  try {
    if (!ownDir) await mkdir(dir, { recursive: true });
    const deadlineMs = durationMs + probeOverheadMsMax;
    const timed = ["--duration-ms", String(durationMs)];
    const groupCommit = readFigures<GroupCommitFigures>(
      "group-commit",
      await runProbe("group-commit", ["--dir", dir, ...timed, ...(options.eventBytes === undefined ? [] : ["--event-bytes", String(options.eventBytes)])], deadlineMs, signal),
      groupCommitFields,
    );
    const fsyncLatency = readFigures<FsyncLatencyFigures>(
      "fsync-latency",
      await runProbe("fsync-latency", ["--dir", dir, ...timed], deadlineMs, signal),
      fsyncLatencyFields,
    );
    const loopback = readFigures<LoopbackFigures>("loopback", await runProbe("loopback", timed, deadlineMs, signal), loopbackFields);
    return { measuredAt, durationMs, dir, machine: machineInfo(), groupCommit, fsyncLatency, loopback };
  } finally {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  }
}

/** The human-readable table `perf:limits` prints. */
export function formatLimitsTable(result: LimitsResult): string {
  const { machine: m, groupCommit: g, fsyncLatency: f, loopback: l } = result;
  const int = (n: number) => Math.round(n).toLocaleString("en-US");
  const dec = (n: number, digits: number) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const rows: [string, string][] = [
    [`group commit (${g.eventBytes} B × ${g.batchEvents}, write + fdatasync)`, `${int(g.eventsPerSec)} events/s, ${dec(g.mbPerSec, 1)} MB/s`],
    [`fsync latency (${f.appendBytes / KiB} KiB append + fdatasync)`, `p50 ${dec(f.p50Ms, 3)} ms, p99 ${dec(f.p99Ms, 3)} ms, p99.9 ${dec(f.p999Ms, 3)} ms, max ${dec(f.maxMs, 3)} ms`],
    ["", `${int(f.opsPerSec)} ops/s`],
    [`loopback TCP (${l.writeBytes / KiB} KiB writes, 2 processes)`, `${dec(l.mbPerSec, 1)} MB/s`],
  ];
  const width = Math.max(...rows.map(([probe]) => probe.length));
  return [
    `machine ceilings: ${m.platform} ${m.arch} ${m.release}, ${m.cpuCount} × ${m.cpuModel}, node ${m.node}`,
    `${result.durationMs / 1000} s per probe, files in ${result.dir}, measured ${result.measuredAt}`,
    `${"probe".padEnd(width)}  figure`,
    ...rows.map(([probe, figure]) => `${probe.padEnd(width)}  ${figure}`),
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<void> {
  const { config } = parseConfig(
    {
      duration: { kind: "string", default: `${limitsDurationMsDefault / 1000}s`, pattern: /^\d+s$/, patternHelp: "seconds, e.g. 10s", help: "how long each probe runs" },
      dir: { kind: "string", default: "", help: "where the disk probes write (default: a fresh folder under the temp dir, removed)" },
      out: { kind: "string", default: "", help: "also write the results to this JSON file" },
    },
    argv,
  );
  const durationMs = Number(config.duration.slice(0, -1)) * 1000;
  const result = await runLimits(config.dir === "" ? { durationMs } : { durationMs, dir: config.dir });
  process.stdout.write(formatLimitsTable(result) + "\n");
  if (config.out !== "") await writeFile(config.out, JSON.stringify(result, null, 2) + "\n");
}

// Run as a command only when this file is the entry point, so perf:compare and the test can import runLimits.
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  try {
    await main(process.argv.slice(2));
  } catch (error: unknown) {
    process.stderr.write(`perf:limits: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

/**
 * `npm run perf:tier1`: what a container's Tier-1 log reaches on this machine, read against the
 * machine's own group-commit ceiling measured in the same run. One process tree: the ceiling probe
 * of perf:limits (perf/limits/group-commit.ts) and its fsync-latency probe run as child processes
 * first; then closed loops of 1 KiB appends on a Tier1DataLog with 1 and `--inflight` appends in
 * flight, at 1/1/1 on one `sluice lognode` process, at 3/3/2 on three (all on this machine and its
 * one disk), and at 1/1/1 on a log node inside this process (as `sluice standalone` runs it). Every
 * append's latency goes into an HDR histogram. Each row warms up for a second first.
 *
 *   npm run perf:tier1 -- [--seconds 10] [--inflight 64] [--dir DIR] [--out FILE.json]
 *
 * It sits beside Tier-1 rather than in perf/, which may import only the client (DESIGN.md's
 * layering); the probes and the log nodes are spawned as scripts, never imported.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from "node:child_process";
import { readFile, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { cpus, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";
import { InternalError, InvalidConfigError, KiB, TimeoutError, logInflightBytesMax, parseConfig, type OptionSpecs } from "../../common/index.js";
import { FileMetadataStore } from "../../controller/store/index.js";
import type { QuorumConfig } from "./ledger/quorum.js";
import type { LogNodeApi } from "./log-node-api.js";
import { LedgerStorage } from "./lognode/ledger-storage.js";
import { RemoteLogNode } from "./remote-log-node.js";
import { Tier1 } from "./tier1.js";
import type { Tier1DataLog } from "./tier1-data-log.js";

const entryBytes = KiB;
const inflightMax = 4096;
// Every row's appends fit under the log's own in-flight bound, so the bench measures the pipeline, not its back-pressure.
if (inflightMax * entryBytes > logInflightBytesMax) throw new Error("inflightMax * entryBytes exceeds logInflightBytesMax");
const warmupMs = 1_000;
/** A child (probe or log node) that has not started, or a row that has not finished, this long past its time is hung. */
const overheadMsMax = 60_000;
const stopGraceMs = 10_000;
/** Latencies are recorded in microseconds up to one minute (as perf/harness/histograms.ts). */
const latencyUsMax = 60_000_000;
const childStdoutBytesMax = 64 * KiB;
const childStderrBytesMax = 8 * KiB;
/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on. */
const procTicksPerSec = 100;

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const sluiceBin = join(repoRoot, "bin/sluice.ts");
const probeScript = (name: string) => join(repoRoot, "perf/limits", `${name}.ts`);

interface GroupCommitFigures { events: number; seconds: number; eventBytes: number; batchEvents: number; eventsPerSec: number; mbPerSec: number }
interface FsyncLatencyFigures { ops: number; seconds: number; appendBytes: number; opsPerSec: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number }

interface Row {
  setup: string;
  inflight: number;
  appends: number;
  seconds: number;
  appendsPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** appendsPerSec / the group-commit ceiling's eventsPerSec. */
  ratioToCeiling: number;
  /** CPU used during the row, in % of one core: this process, and the log node processes together. */
  cpuBenchPct: number;
  cpuNodesPct: number | null;
}

const options = {
  seconds: { kind: "int", default: 10, min: 1, max: 600, help: "seconds per measured row (and for the ceiling probes)" },
  inflight: { kind: "int", default: 64, min: 1, max: inflightMax, help: "appends in flight for the pipelined rows" },
  out: { kind: "string", default: "", help: "also write the figures to this JSON file" },
  dir: { kind: "string", default: "", help: "where the temporary log node, metadata and probe folders go (default: the OS temp dir)" },
} satisfies OptionSpecs;

/** What every row runs for: the measured time and the pipelined row's appends in flight. */
interface RowPlan {
  durationMs: number;
  inflight: number;
}

const abort = new AbortController();
const children = new Set<ChildProcess>();

/** Spawns a TypeScript script with this Node; tracked so the `finally` below stops it whatever happens. */
function spawnScript(script: string, args: readonly string[]): { proc: ChildProcessByStdio<null, Readable, Readable>; stderr: () => string } {
  const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (text: string) => (stderr = (stderr + text).slice(-childStderrBytesMax)));
  return { proc, stderr: () => stderr.trim() };
}

/** Stops a child by its pid: SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), stopGraceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves as `work` does, or rejects TIMEOUT after `ms`, or with the abort reason on Ctrl-C. */
async function bounded<T>(what: string, work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms} ms`)), ms);
        onAbort = () => reject(new InternalError(`${what}: interrupted`));
        if (abort.signal.aborted) onAbort();
        abort.signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) abort.signal.removeEventListener("abort", onAbort);
  }
}

/** Runs a perf:limits probe to the end and returns its JSON line's figures, each checked to be a finite number. */
async function runProbe<T>(name: string, args: readonly string[], deadlineMs: number, fields: { [K in keyof T]: true }): Promise<T> {
  const { proc, stderr } = spawnScript(probeScript(name), args);
  let stdout = "";
  proc.stdout.setEncoding("utf8");
  proc.stdout.on("data", (text: string) => (stdout = (stdout + text).slice(-childStdoutBytesMax)));
  const closed = new Promise<number | null>((resolve, reject) => {
    proc.once("error", (err) => reject(new InternalError(`probe ${name} could not start`, { cause: err })));
    proc.once("close", (code) => resolve(code));
  });
  const code = await bounded(`probe ${name}`, closed, deadlineMs);
  if (code !== 0) throw new InternalError(`probe ${name} exited with ${code ?? proc.signalCode ?? "?"}: ${stderr()}`);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch (err: unknown) {
    throw new InternalError(`probe ${name} printed ${JSON.stringify(line)}, not a JSON line`, { cause: err });
  }
  for (const key of Object.keys(fields)) {
    if (typeof raw[key] !== "number" || !Number.isFinite(raw[key])) throw new InternalError(`probe ${name}: ${key} is ${JSON.stringify(raw[key])} in ${line}`);
  }
  return raw as T;
}

/** Starts `sluice lognode` on an ephemeral port of 127.0.0.1 and waits for its ready line. */
async function startLogNode(dataDir: string): Promise<{ node: RemoteLogNode; pid: number }> {
  const { proc, stderr } = spawnScript(sluiceBin, ["lognode", "--data-dir", dataDir, "--port", "0"]);
  const ready = new Promise<string>((resolve, reject) => {
    // The reader keeps draining stdout after the ready line, so the child never blocks on a full pipe.
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line.startsWith("sluice lognode ready:")) resolve(line);
    });
    proc.once("error", (err) => reject(new InternalError("sluice lognode could not start", { cause: err })));
    proc.once("exit", (code) => reject(new InternalError(`sluice lognode (${dataDir}) exited with ${code ?? proc.signalCode ?? "?"}: ${stderr()}`)));
  });
  const line = await bounded(`sluice lognode (${dataDir}) start`, ready, overheadMsMax);
  const m = /^sluice lognode ready: tcp:\/\/(\S+):(\d+) /.exec(line);
  if (m === null || proc.pid === undefined) throw new InternalError(`sluice lognode: unexpected ready line ${JSON.stringify(line)}`);
  return { node: new RemoteLogNode(m[1]!, Number(m[2])), pid: proc.pid };
}

/** CPU time (user + system) of a process in ms, from /proc; null where there is no /proc. */
async function processCpuMs(pid: number): Promise<number | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are fields 14 and 15.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / procTicksPerSec;
  } catch (err: unknown) {
    if (platform() === "linux") throw new InternalError(`cannot read the CPU time of pid ${pid}`, { cause: err });
    return null;
  }
}

async function nodesCpuMs(pids: readonly number[]): Promise<number | null> {
  if (pids.length === 0) return null;
  const each = await Promise.all(pids.map(processCpuMs));
  return each.some((ms) => ms === null) ? null : each.reduce<number>((sum, ms) => sum + (ms ?? 0), 0);
}

const payload = [Buffer.alloc(entryBytes, 0x61)];

/** `inflight` loops, each appending and awaiting one entry at a time until `ms` have passed; every latency goes to `histogram`. */
async function drive(log: Tier1DataLog, inflight: number, ms: number, histogram: hdr.Histogram): Promise<{ appends: number; seconds: number }> {
  const startMs = performance.now();
  const endMs = startMs + ms;
  let appends = 0;
  const loops = Array.from({ length: inflight }, async () => {
    while (performance.now() < endMs && !abort.signal.aborted) {
      const sentMs = performance.now();
      await log.append(payload);
      histogram.recordValue(Math.min(latencyUsMax, Math.round((performance.now() - sentMs) * 1000)));
      appends++;
    }
  });
  // A lost quorum makes appends wait rather than fail, so the row has a deadline of its own.
  await bounded(`${inflight} appends in flight`, Promise.all(loops), ms + overheadMsMax);
  // The loops end early on Ctrl-C; a cut-short row is not a figure.
  abort.signal.throwIfAborted();
  return { appends, seconds: (performance.now() - startMs) / 1000 };
}

/** Opens container 0's log on `nodes` and measures a row per in-flight count. */
async function runSetup(plan: RowPlan, setup: string, nodes: LogNodeApi[], quorum: QuorumConfig, nodePids: readonly number[], metaDir: string, ceiling: GroupCommitFigures): Promise<Row[]> {
  const metadata = await FileMetadataStore.open(metaDir);
  const connect = (address: string): LogNodeApi => {
    throw new InternalError(`a ledger names ${address}, which is not among this bench's log nodes`);
  };
  const rows: Row[] = [];
  try {
    const tier1 = new Tier1({ nodes, connect, quorum, metadata });
    try {
      const log = await tier1.openLog(0);
      try {
        for (const inflight of [...new Set([1, plan.inflight])]) {
          const histogram = hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: latencyUsMax, numberOfSignificantValueDigits: 3, useWebAssembly: false });
          await drive(log, inflight, warmupMs, histogram);
          histogram.reset();
          const benchCpu0 = process.cpuUsage();
          const nodesCpu0 = await nodesCpuMs(nodePids);
          const { appends, seconds } = await drive(log, inflight, plan.durationMs, histogram);
          const benchCpu = process.cpuUsage(benchCpu0);
          const nodesCpu1 = await nodesCpuMs(nodePids);
          const appendsPerSec = appends / seconds;
          const row: Row = {
            setup,
            inflight,
            appends,
            seconds,
            appendsPerSec,
            mbPerSec: (appendsPerSec * entryBytes) / 1e6,
            p50Ms: histogram.getValueAtPercentile(50) / 1000,
            p99Ms: histogram.getValueAtPercentile(99) / 1000,
            p999Ms: histogram.getValueAtPercentile(99.9) / 1000,
            maxMs: histogram.maxValue / 1000,
            ratioToCeiling: appendsPerSec / ceiling.eventsPerSec,
            cpuBenchPct: (benchCpu.user + benchCpu.system) / 10 / (seconds * 1000),
            cpuNodesPct: nodesCpu0 === null || nodesCpu1 === null ? null : ((nodesCpu1 - nodesCpu0) * 100) / (seconds * 1000),
          };
          rows.push(row);
          process.stderr.write(`${formatRow(row)}\n`);
        }
      } finally {
        await log.close();
      }
    } finally {
      await tier1.close();
    }
  } finally {
    await metadata.close();
  }
  return rows;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const dec = (n: number, digits: number) => n.toFixed(digits);

function formatRow(r: Row): string {
  const cpu = `${int(r.cpuBenchPct)}% / ${r.cpuNodesPct === null ? "-" : `${int(r.cpuNodesPct)}%`}`;
  return `| ${r.setup} | ${r.inflight} | ${int(r.appendsPerSec)} | ${dec(r.mbPerSec, 1)} | ${dec(r.p50Ms, 3)} | ${dec(r.p99Ms, 3)} | ${dec(r.ratioToCeiling, 3)} | ${cpu} |`;
}

async function main(argv: readonly string[]): Promise<void> {
  const { config } = parseConfig(options, argv);
  const plan: RowPlan = { durationMs: config.seconds * 1000, inflight: config.inflight };
  const base = config.dir === "" ? tmpdir() : config.dir;
  const baseStat = await stat(base).catch(() => undefined);
  if (baseStat?.isDirectory() !== true) throw new InvalidConfigError(`--dir ${base}: not an existing directory; name one for the temporary folders (default ${tmpdir()})`);
  const measuredAt = new Date().toISOString();
  const root = await mkdtemp(join(base, "sluice-tier1-bench-"));
  try {
    const probeDir = join(root, "probe");
    await mkdir(probeDir);
    const timed = ["--dir", probeDir, "--duration-ms", String(plan.durationMs)];
    const probeDeadlineMs = plan.durationMs + overheadMsMax;
    const groupCommit = await runProbe<GroupCommitFigures>("group-commit", [...timed, "--event-bytes", String(entryBytes)], probeDeadlineMs, {
      events: true, seconds: true, eventBytes: true, batchEvents: true, eventsPerSec: true, mbPerSec: true,
    });
    const fsyncLatency = await runProbe<FsyncLatencyFigures>("fsync-latency", timed, probeDeadlineMs, {
      ops: true, seconds: true, appendBytes: true, opsPerSec: true, p50Ms: true, p99Ms: true, p999Ms: true, maxMs: true,
    });
    const rows: Row[] = [];

    const one = await startLogNode(join(root, "lognode-a"));
    rows.push(...(await runSetup(plan, "1 lognode, 1/1/1", [one.node], { ensembleSize: 1, writeQuorum: 1, ackQuorum: 1 }, [one.pid], join(root, "meta-a"), groupCommit)));
    await Promise.all([...children].map(stopChild));

    const three = await Promise.all(["b", "c", "d"].map((n) => startLogNode(join(root, `lognode-${n}`))));
    rows.push(
      ...(await runSetup(plan, "3 lognodes, 3/3/2", three.map((n) => n.node), { ensembleSize: 3, writeQuorum: 3, ackQuorum: 2 }, three.map((n) => n.pid), join(root, "meta-b"), groupCommit)),
    );
    await Promise.all([...children].map(stopChild));

    const local = await LedgerStorage.open(join(root, "in-process"));
    try {
      rows.push(...(await runSetup(plan, "in-process node, 1/1/1", [local], { ensembleSize: 1, writeQuorum: 1, ackQuorum: 1 }, [], join(root, "meta-c"), groupCommit)));
    } finally {
      // Tier1.close closed it already unless the setup failed before; close is idempotent.
      await local.close();
    }

    const cores = cpus();
    const batchMs = (groupCommit.seconds * 1000 * groupCommit.batchEvents) / groupCommit.events;
    const sizeNote = groupCommit.eventBytes === entryBytes ? "" : ` (NOT ${entryBytes} B: the ratio compares entries/s of different sizes)`;
    process.stdout.write(
      `\nTier-1 appends of ${entryBytes} B entries, ${config.seconds} s per row after ${warmupMs / 1000} s warm-up, ${measuredAt}\n` +
        `machine: ${cores.length} × ${cores[0]?.model.trim() ?? "unknown cpu"}, node ${process.version}; every log node, the metadata and the probes on one disk (${root})\n` +
        `ceiling: group commit (${groupCommit.eventBytes} B${sizeNote} × ${groupCommit.batchEvents}, write + fdatasync): ${int(groupCommit.eventsPerSec)} events/s, ${dec(groupCommit.mbPerSec, 1)} MB/s, ${dec(batchMs, 3)} ms per batch\n` +
        `floor of a lone durable append: ${fsyncLatency.appendBytes / KiB} KiB write + fdatasync p50 ${dec(fsyncLatency.p50Ms, 3)} ms, p99 ${dec(fsyncLatency.p99Ms, 3)} ms\n` +
        `| setup | in flight | appends/s | MB/s | p50 ms | p99 ms | ratio to ceiling | cpu bench / nodes |\n|---|---:|---:|---:|---:|---:|---:|---:|\n` +
        `${rows.map(formatRow).join("\n")}\n`,
    );
    if (config.out !== "") {
      const machine = { cpuCount: cores.length, cpuModel: cores[0]?.model.trim() ?? "unknown", node: process.version, platform: platform() };
      const result = { measuredAt, seconds: config.seconds, inflight: config.inflight, entryBytes, warmupMs, dir: root, machine, ceiling: { groupCommit, fsyncLatency }, rows };
      await writeFile(config.out, JSON.stringify(result, null, 2) + "\n");
    }
  } finally {
    await Promise.all([...children].map(stopChild));
    await rm(root, { recursive: true, force: true });
  }
}

// Ctrl-C reaches the children too; the bench stops its rows and still cleans up.
const onSigint = () => abort.abort(new InternalError("interrupted (SIGINT)"));
process.once("SIGINT", onSigint);
try {
  await main(process.argv.slice(2));
} catch (error: unknown) {
  process.stderr.write(`perf:tier1: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  process.removeListener("SIGINT", onSigint);
}

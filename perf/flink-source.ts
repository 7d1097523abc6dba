/**
 * The Flink source's figure (issue 19): a Flink job (SluiceSource -> DiscardingSink, local
 * MiniCluster in one JVM) reading a stream from its head to its tail, in events/s, beside the
 * TypeScript batch reader reading the same stream in the same run. One `sluice standalone` in its
 * own process (free ports, temp data dir, stopped by its pid at the end, also after a failure)
 * holds the stream; the TypeScript client writes it first (pipelined, durable acks); then the two
 * readers take turns, `--runs` times each, TypeScript first. Each run must read exactly the events
 * written, or the script fails.
 *
 * The Flink side is connector-flink's test main io.sluice.bench.SourceThroughput, built here with
 * Maven (test-compile plus the dependency class path) and run with `java -Xmx2g` and the
 * `--add-opens` flags of the pom's `flink.add-opens` property. Its time is the job's net run time
 * (JobExecutionResult.getNetRuntime: from submission to the end, MiniCluster start excluded) of the
 * second job in its JVM: the first, identical, warms the JIT up, as the TypeScript reader's process
 * is warm after its first run. The wall time of that job with its MiniCluster's start and stop is
 * printed too. The TypeScript time covers
 * listing the ranges (batch.segments) and reading them all, in parallel, one reader per range.
 *
 *   npm run perf:flink-source -- [--events 1000000] [--size 1024] [--segments 4] [--parallelism 2] [--runs 2]
 */
import { cpus } from "node:os";
import { Sluice } from "../client/index.js";
import { parseConfig } from "../common/index.js";
import { failed, runCommand, withFlinkBench } from "./support/flink-java.js";


const { config } = parseConfig(
  {
    events: { kind: "int", default: 1_000_000, min: 1, max: 100_000_000, help: "events written, then read by each reader" },
    size: { kind: "int", default: 1024, min: 1, max: 1024 * 1024, help: "event size in bytes" },
    segments: { kind: "int", default: 4, min: 1, max: 64, help: "segments of the stream (fixed)" },
    parallelism: { kind: "int", default: 2, min: 1, max: 64, help: "the Flink job's parallelism" },
    runs: { kind: "int", default: 2, min: 1, max: 20, help: "runs of each reader, alternating" },
  },
  process.argv.slice(2),
);
const { events, size, segments, parallelism, runs } = config;
const stream = "bench/flinksource";
/** Events written between two waits for the writer's room (it bounds its own bytes in flight). */
const writeBurstEvents = 256;
/** Routing keys of the written events, spread over every segment. */
const routingKeys = 1000;
const jobTimeoutMs = 20 * 60_000;

interface Run {
  reader: "ts" | "flink";
  events: number;
  bytes: number;
  seconds: number;
  /** Flink only: JVM start, MiniCluster start and stop included. */
  wallSeconds?: number;
}

async function writeStream(sluice: Sluice): Promise<number> {
  const writer = sluice.writer(stream);
  const payload = Buffer.alloc(size, 0x5a);
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    // Failures surface in flush() below; awaiting each write would serialise the pipeline.
    void writer.write(payload, { routingKey: `k${i % routingKeys}` });
    if (i % writeBurstEvents === writeBurstEvents - 1) await writer.ready();
  }
  await writer.flush();
  await writer.close();
  return (performance.now() - started) / 1000;
}

/** The batch reader as a user would run it: list the ranges from head to tail, read them all at once. */
async function readWithTs(sluice: Sluice): Promise<Run> {
  const started = performance.now();
  const ranges = await sluice.batch.segments(stream);
  const counts = await Promise.all(
    ranges.map(async (range) => {
      let n = 0;
      let bytes = 0;
      for await (const e of sluice.batch.read(range)) {
        n++;
        bytes += e.data.length;
      }
      return { n, bytes };
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { reader: "ts", events: counts.reduce((a, c) => a + c.n, 0), bytes: counts.reduce((a, c) => a + c.bytes, 0), seconds };
}

async function readWithFlink(javaArgs: readonly string[], controllerUri: string): Promise<Run> {
  const r = await runCommand(
    "java",
    [...javaArgs, "io.sluice.bench.SourceThroughput", "--controller", controllerUri, "--stream", stream, "--expect", String(events), "--parallelism", String(parallelism)],
    jobTimeoutMs,
  );
  if (r.code !== 0) throw failed("Flink job SourceThroughput", r);
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (line === undefined) throw failed("Flink job SourceThroughput (no JSON line)", r);
  const out = JSON.parse(line) as { events: number; bytes: number; netRuntimeMs: number; wallMs: number };
  return { reader: "flink", events: out.events, bytes: out.bytes, seconds: out.netRuntimeMs / 1000, wallSeconds: out.wallMs / 1000 };
}

function check(run: Run): void {
  if (run.events !== events || run.bytes !== events * size) {
    throw new Error(`${run.reader} read ${run.events} events / ${run.bytes} bytes, expected ${events} / ${events * size}`);
  }
}

const eps = (r: Run) => r.events / r.seconds;
const mbs = (r: Run) => r.bytes / 1e6 / r.seconds;
const pad = (s: string, n: number) => s.padStart(n);

function line(r: Run, label: string): string {
  const wall = r.wallSeconds === undefined ? "" : `   (wall ${r.wallSeconds.toFixed(2)} s with MiniCluster start/stop)`;
  return `${label.padEnd(22)}${pad(String(r.events), 9)}${pad(r.seconds.toFixed(2), 9)}${pad(Math.round(eps(r)).toString(), 11)}${pad(mbs(r).toFixed(1), 8)}${wall}`;
}

await withFlinkBench("flink-source", async ({ javaArgs, controllerUri, buildSeconds }) => {
  const sluice = await Sluice.connect(controllerUri);
  const all: Run[] = [];
  try {
    await sluice.admin.createScope("bench");
    await sluice.admin.createStream(stream, { scaling: { type: "fixed", minSegments: segments } });
    const cores = cpus();
    process.stdout.write(
      `machine: ${cores.length} cores (${cores[0]?.model.trim() ?? "unknown"}); standalone, TS reader and Flink JVM share them\n` +
        `stream ${stream}: ${segments} segments, ${events} events of ${size} B; Flink parallelism ${parallelism}, -Xmx2g; mvn build ${buildSeconds.toFixed(1)} s\n`,
    );
    const writeSeconds = await writeStream(sluice);
    process.stdout.write(`write (TS writer, pipelined, durable acks): ${writeSeconds.toFixed(2)} s, ${Math.round(events / writeSeconds)} events/s, ${((events * size) / 1e6 / writeSeconds).toFixed(1)} MB/s\n\n`);
    process.stdout.write(`${"run".padEnd(22)}${pad("events", 9)}${pad("seconds", 9)}${pad("events/s", 11)}${pad("MB/s", 8)}\n`);
    for (let i = 1; i <= runs; i++) {
      for (const reader of ["ts", "flink"] as const) {
        const r = reader === "ts" ? await readWithTs(sluice) : await readWithFlink(javaArgs, controllerUri);
        check(r);
        all.push(r);
        process.stdout.write(line(r, `${reader === "ts" ? "ts batch" : "flink job"} #${i}`) + "\n");
      }
    }
  } finally {
    await sluice.close();
  }
  const best = (reader: Run["reader"]) => all.filter((r) => r.reader === reader).reduce((a, b) => (eps(b) > eps(a) ? b : a));
  const ts = best("ts");
  const flink = best("flink");
  process.stdout.write(
    [
      "",
      `best of ${runs}:`,
      `${"reader".padEnd(22)}${pad("events", 9)}${pad("seconds", 9)}${pad("events/s", 11)}${pad("MB/s", 8)}`,
      line(ts, "ts batch reader"),
      line(flink, `flink job (p=${parallelism})`),
      `ratio flink / ts: ${(eps(flink) / eps(ts)).toFixed(2)}`,
      "",
    ].join("\n"),
  );
});

/**
 * The Flink sink's figure (issue 20): a Flink job (a sequence of numbers made into `--size`-byte
 * events with 1,000 routing keys -> SluiceSink, local MiniCluster in one JVM, one checkpoint per
 * `--checkpoint-ms`) writing `--events` events with EXACTLY_ONCE and with AT_LEAST_ONCE, beside the
 * TypeScript writer writing the same number of events of the same size and keys (pipelined, durable
 * acks), all against one `sluice standalone` in its own process (free ports, temp data dir, stopped
 * by its pid at the end). The writers take turns, `--runs` times each, each into a fresh stream of
 * `--segments` fixed segments; after each run the stream is read back with the TypeScript batch
 * reader and must hold exactly the events written, or the script fails.
 *
 * The Flink side is connector-flink's test main io.sluice.bench.SinkThroughput (see its comment):
 * its time is the measured job's net run time (for EXACTLY_ONCE up to the final checkpoint that
 * commits the last transactions), after one warm-up job of a tenth of the events in the same JVM;
 * the wall time with the MiniCluster's start and stop is printed too.
 *
 *   npm run perf:flink-sink -- [--events 300000] [--size 1024] [--segments 4] [--parallelism 2] [--checkpoint-ms 1000] [--runs 2]
 */
import { cpus } from "node:os";
import { Sluice } from "../client/index.js";
import { parseConfig } from "../common/index.js";
import { failed, runCommand, withFlinkBench } from "./support/flink-java.js";

const { config } = parseConfig(
  {
    events: { kind: "int", default: 300_000, min: 1, max: 100_000_000, help: "events each writer writes per run" },
    size: { kind: "int", default: 1024, min: 1, max: 1024 * 1024, help: "event size in bytes" },
    segments: { kind: "int", default: 4, min: 1, max: 64, help: "segments of each written stream (fixed)" },
    parallelism: { kind: "int", default: 2, min: 1, max: 64, help: "the Flink job's parallelism" },
    "checkpoint-ms": { kind: "int", default: 1_000, min: 10, max: 600_000, help: "the Flink job's checkpoint interval" },
    runs: { kind: "int", default: 2, min: 1, max: 20, help: "runs of each writer, alternating" },
  },
  process.argv.slice(2),
);
const { events, size, segments, parallelism, runs } = config;
const checkpointMs = config["checkpoint-ms"];
const scope = "bench";
/** Events written between two waits for the writer's room (it bounds its own bytes in flight). */
const writeBurstEvents = 256;
/** Routing keys, as the Flink job's (k0 .. k999). */
const routingKeys = 1000;
const jobTimeoutMs = 20 * 60_000;

type Writer = "ts" | "exactly-once" | "at-least-once";

interface Run {
  writer: Writer;
  seconds: number;
  /** Flink only: JVM start, MiniCluster start and stop included. */
  wallSeconds?: number;
}

async function writeWithTs(sluice: Sluice, stream: string): Promise<Run> {
  const writer = sluice.writer(stream);
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    const payload = Buffer.alloc(size, 0x5a);
    payload.writeUInt32LE(i % 2 ** 32, 0);
    // Failures surface in flush() below; awaiting each write would serialise the pipeline.
    void writer.write(payload, { routingKey: `k${i % routingKeys}` });
    if (i % writeBurstEvents === writeBurstEvents - 1) await writer.ready();
  }
  await writer.flush();
  await writer.close();
  return { writer: "ts", seconds: (performance.now() - started) / 1000 };
}

async function writeWithFlink(javaArgs: readonly string[], controllerUri: string, writer: Writer, stream: string, warmup: string): Promise<Run> {
  const r = await runCommand(
    "java",
    [
      ...javaArgs,
      "io.sluice.bench.SinkThroughput",
      ...["--controller", controllerUri, "--stream", stream, "--events", String(events), "--size", String(size)],
      ...["--delivery", writer, "--parallelism", String(parallelism), "--checkpoint-ms", String(checkpointMs), "--warmup-stream", warmup],
    ],
    jobTimeoutMs,
  );
  if (r.code !== 0) throw failed(`Flink job SinkThroughput (${writer})`, r);
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (line === undefined) throw failed("Flink job SinkThroughput (no JSON line)", r);
  const out = JSON.parse(line) as { netRuntimeMs: number; wallMs: number };
  return { writer, seconds: out.netRuntimeMs / 1000, wallSeconds: out.wallMs / 1000 };
}

/** Counts the events of a stream from head to tail with the batch reader; fails unless there are exactly `events` of `size` bytes. */
async function check(sluice: Sluice, stream: string, writer: Writer): Promise<void> {
  let n = 0;
  let bytes = 0;
  for (const range of await sluice.batch.segments(stream)) {
    for await (const e of sluice.batch.read(range)) {
      n++;
      bytes += e.data.length;
    }
  }
  if (n !== events || bytes !== events * size) throw new Error(`${writer}: ${stream} holds ${n} events / ${bytes} bytes, expected ${events} / ${events * size}`);
}

const eps = (r: Run) => events / r.seconds;
const mbs = (r: Run) => (events * size) / 1e6 / r.seconds;
const pad = (s: string, n: number) => s.padStart(n);

function line(r: Run, label: string): string {
  const wall = r.wallSeconds === undefined ? "" : `   (wall ${r.wallSeconds.toFixed(2)} s with MiniCluster start/stop)`;
  return `${label.padEnd(26)}${pad(String(events), 9)}${pad(r.seconds.toFixed(2), 9)}${pad(Math.round(eps(r)).toString(), 11)}${pad(mbs(r).toFixed(1), 8)}${wall}`;
}

await withFlinkBench("flink-sink", async ({ javaArgs, controllerUri, buildSeconds }) => {
  const sluice = await Sluice.connect(controllerUri);
  const all: Run[] = [];
  try {
    await sluice.admin.createScope(scope);
    const fixed = { scaling: { type: "fixed" as const, minSegments: segments } };
    const cores = cpus();
    process.stdout.write(
      `machine: ${cores.length} cores (${cores[0]?.model.trim() ?? "unknown"}); standalone, TS writer and Flink JVM share them\n` +
        `${events} events of ${size} B, ${routingKeys} keys, into fresh streams of ${segments} segments; Flink parallelism ${parallelism}, ` +
        `checkpoint every ${checkpointMs} ms, -Xmx2g; mvn build ${buildSeconds.toFixed(1)} s\n\n` +
        `${"run".padEnd(26)}${pad("events", 9)}${pad("seconds", 9)}${pad("events/s", 11)}${pad("MB/s", 8)}\n`,
    );
    for (let i = 1; i <= runs; i++) {
      for (const writer of ["ts", "exactly-once", "at-least-once"] as const) {
        const stream = `${scope}/sink-${writer}-${i}`;
        const warmup = `${scope}/sink-${writer}-${i}-warmup`;
        await sluice.admin.createStream(stream, fixed);
        if (writer !== "ts") await sluice.admin.createStream(warmup, fixed);
        const r = writer === "ts" ? await writeWithTs(sluice, stream) : await writeWithFlink(javaArgs, controllerUri, writer, stream, warmup);
        await check(sluice, stream, writer);
        all.push(r);
        process.stdout.write(line(r, `${writer} #${i}`) + "\n");
      }
    }
  } finally {
    await sluice.close();
  }
  const best = (writer: Writer) => all.filter((r) => r.writer === writer).reduce((a, b) => (eps(b) > eps(a) ? b : a));
  const ts = best("ts");
  const eo = best("exactly-once");
  const alo = best("at-least-once");
  process.stdout.write(
    [
      "",
      `best of ${runs}:`,
      `${"writer".padEnd(26)}${pad("events", 9)}${pad("seconds", 9)}${pad("events/s", 11)}${pad("MB/s", 8)}`,
      line(ts, "ts writer"),
      line(eo, `flink exactly-once (p=${parallelism})`),
      line(alo, `flink at-least-once (p=${parallelism})`),
      `ratios: exactly-once / at-least-once ${(eps(eo) / eps(alo)).toFixed(2)}, exactly-once / ts ${(eps(eo) / eps(ts)).toFixed(2)}, at-least-once / ts ${(eps(alo) / eps(ts)).toFixed(2)}`,
      "",
    ].join("\n"),
  );
});

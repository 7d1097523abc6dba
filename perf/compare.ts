/**
 * `npm run perf:compare -- --workload NAME [--duration 20s] [--producers N] [--consumers N] [--rate N] [--out FILE.json]`:
 * the machine's ceilings, the Redis Streams peer and Sluice, back to back in one invocation on the
 * same workload (same producers, consumers, message size and in-flight depth), then one table with
 * publish and end-to-end latencies and the ratios sluice/ceiling and sluice/redis. Same-run ratios
 * are what mean something on a noisy machine. `--producers`, `--consumers` (per subscription) and
 * `--rate` (events/s over all producers; 0 searches for the highest sustained rate) override the
 * workload's fields.
 */
import { writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { parseConfig, SluiceError, type OptionSpecs } from "../common/index.js";
import { runBenchmark } from "./harness/coordinator.js";
import { summaryTable, type TestResult } from "./harness/report.js";
import { consumersPerSubscriptionMax, producerRateMax, producersPerTopicMax } from "./harness/limits.js";
import { loadWorkload, parseDuration, withDuration, withOverrides, type WorkloadOverrides } from "./harness/workload.js";
import { formatLimitsTable, runLimits } from "./limits.js";
import { redisServerInstalled } from "./support/redis-server.js";

const options = {
  workload: { kind: "string", default: "1-topic-4-partitions-1kb", help: "workload name in perf/workloads, or a path" },
  duration: { kind: "string", default: "20s", help: "test duration of each driver run" },
  "limits-duration": { kind: "string", default: "10s", help: "duration of each ceiling probe" },
  producers: { kind: "int", default: 0, min: 0, max: producersPerTopicMax, help: "producers per topic (0: as the workload says)" },
  consumers: { kind: "int", default: 0, min: 0, max: consumersPerSubscriptionMax, help: "consumers per subscription (0: as the workload says)" },
  rate: { kind: "int", default: -1, min: -1, max: producerRateMax, help: "events/s over all producers; 0 searches for the highest sustained rate (-1: as the workload says)" },
  out: { kind: "string", default: "", help: "write the table and every result as JSON here" },
} satisfies OptionSpecs;

const redisInstall = "apt-get install -y --no-install-recommends redis-server";

function workloadPath(name: string): string {
  if (existsSync(name)) return name;
  return new URL(`./workloads/${name}.yaml`, import.meta.url).pathname;
}

interface Row {
  system: string;
  eventsPerSec: number;
  mibPerSec: number;
  p50: number | undefined;
  p99: number | undefined;
  e2e50: number | undefined;
  e2e99: number | undefined;
}

function rowOf(r: TestResult): Row {
  return { system: r.driver, eventsPerSec: r.totals.publishRate, mibPerSec: r.totals.mibPerSec, p50: r.aggregatedPublishLatency50pct,
    p99: r.aggregatedPublishLatency99pct,
    e2e50: r.aggregatedEndToEndLatency50pct,
    e2e99: r.aggregatedEndToEndLatency99pct,
  };
}

function table(rows: Row[], ratios: [string, number][]): string {
  const f = (n: number | undefined, d = 0) => (n === undefined ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
  const lines = [
    "| system | events/s | MiB/s | publish p50 ms | publish p99 ms | end-to-end p50 ms | end-to-end p99 ms |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.system} | ${f(r.eventsPerSec)} | ${f(r.mibPerSec, 1)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.e2e50, 2)} | ${f(r.e2e99, 2)} |`),
    "",
    ...ratios.map(([name, v]) => `${name}: ${v.toFixed(2)}`),
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { config } = parseConfig(options, process.argv.slice(2));
  if (!redisServerInstalled()) {
    process.stderr.write(`perf:compare needs the Redis peer: redis-server is not installed. Install it with:\n  ${redisInstall}\n`);
    process.exitCode = 1;
    return;
  }
  const path = workloadPath(config.workload);
  const overrides: WorkloadOverrides = {
    ...(config.producers > 0 ? { producersPerTopic: config.producers } : {}),
    ...(config.consumers > 0 ? { consumerPerSubscription: config.consumers } : {}),
    ...(config.rate >= 0 ? { producerRate: config.rate } : {}),
  };
  const workload = withDuration(withOverrides(await loadWorkload(path), overrides, `${path} with command-line overrides`), parseDuration(config.duration));
  const print = (line: string) => process.stdout.write(line + "\n");
  // Ctrl-C or SIGTERM ends the comparison early, but through its cleanups.
  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  process.on("SIGTERM", () => abort.abort());
  const signal = abort.signal;

  print(`== ceilings (${config["limits-duration"]} per probe)`);
  // The ceiling is measured with the workload's own message size, so the ratio compares like with like.
  const limits = await runLimits({ durationMs: parseDuration(config["limits-duration"], "--limits-duration"), eventBytes: workload.messageSize, signal });
  print(formatLimitsTable(limits));

  print(`\n== redis (appendfsync always), ${workload.name}`);
  const redis = await runBenchmark({ workload, workloadPath: path, driver: "redis", print, signal });
  print(summaryTable(redis));

  print(`\n== sluice (standalone), ${workload.name}`);
  const sluice = await runBenchmark({ workload, workloadPath: path, driver: "sluice", print, signal });
  print(summaryTable(sluice));

  const ceiling: Row = {
    system: `ceiling: Node group commit (${limits.groupCommit.eventBytes} B x ${limits.groupCommit.batchEvents} + fdatasync)`,
    eventsPerSec: limits.groupCommit.eventsPerSec,
    mibPerSec: (limits.groupCommit.eventsPerSec * limits.groupCommit.eventBytes) / 1024 ** 2,
    p50: undefined,
    p99: undefined,
    e2e50: undefined,
    e2e99: undefined,
  };
  const ratios: [string, number][] = [
    ["sluice / ceiling (events/s)", sluice.totals.publishRate / ceiling.eventsPerSec],
    ["sluice / redis (events/s)", sluice.totals.publishRate / redis.totals.publishRate],
    // At a fixed rate both carry the same load, so their latencies compare like with like.
    ["sluice / redis (end-to-end p50)", sluice.aggregatedEndToEndLatency50pct / redis.aggregatedEndToEndLatency50pct],
    ["sluice / redis (end-to-end p99)", sluice.aggregatedEndToEndLatency99pct / redis.aggregatedEndToEndLatency99pct],
  ];
  const text = table([ceiling, rowOf(redis), rowOf(sluice)], ratios);
  const shape = `${workload.producersPerTopic} producers, ${workload.consumerPerSubscription} consumers, ${workload.producerRate === 0 ? "max rate" : `${workload.producerRate} events/s`}`;
  print(`\n== ${workload.name} (${shape}), ${config.duration} per driver, ${new Date().toISOString().slice(0, 10)}\n${text}`);
  if (config.out !== "") {
    await writeFile(config.out, JSON.stringify({ table: text, ratios: Object.fromEntries(ratios), limits, redis, sluice }, null, 2) + "\n");
    print(`result written to ${config.out}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof SluiceError ? `perf:compare: ${err.code}: ${err.message}\n` : `perf:compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

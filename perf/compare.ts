/**
 * `npm run perf:compare -- --workload NAME [--duration 20s] [--out FILE.json]`: the machine's
 * ceilings, the Redis Streams peer and Sluice, back to back in one invocation on the same
 * workload (same producers, message size and in-flight depth), then one table with the ratios
 * sluice/ceiling and sluice/redis. Same-run ratios are what mean something on a noisy machine.
 */
import { writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { parseConfig, SluiceError, type OptionSpecs } from "../common/index.js";
import { runBenchmark } from "./harness/coordinator.js";
import { summaryTable, type TestResult } from "./harness/report.js";
import { loadWorkload, parseDuration, withDuration } from "./harness/workload.js";
import { formatLimitsTable, runLimits } from "./limits.js";
import { redisServerInstalled } from "./support/redis-server.js";

const options = {
  workload: { kind: "string", default: "1-topic-4-partitions-1kb", help: "workload name in perf/workloads, or a path" },
  duration: { kind: "string", default: "20s", help: "test duration of each driver run" },
  "limits-duration": { kind: "string", default: "10s", help: "duration of each ceiling probe" },
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
}

function rowOf(r: TestResult): Row {
  return { system: r.driver, eventsPerSec: r.totals.publishRate, mibPerSec: r.totals.mibPerSec, p50: r.aggregatedPublishLatency50pct, p99: r.aggregatedPublishLatency99pct };
}

function table(rows: Row[], ratios: [string, number][]): string {
  const f = (n: number | undefined, d = 0) => (n === undefined ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
  const lines = [
    "| system | events/s | MiB/s | publish p50 ms | publish p99 ms |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.system} | ${f(r.eventsPerSec)} | ${f(r.mibPerSec, 1)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} |`),
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
  const workload = withDuration(await loadWorkload(path), parseDuration(config.duration));
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
  };
  const ratios: [string, number][] = [
    ["sluice / ceiling (events/s)", sluice.totals.publishRate / ceiling.eventsPerSec],
    ["sluice / redis (events/s)", sluice.totals.publishRate / redis.totals.publishRate],
  ];
  const text = table([ceiling, rowOf(redis), rowOf(sluice)], ratios);
  print(`\n== ${workload.name}, ${config.duration} per driver, ${new Date().toISOString().slice(0, 10)}\n${text}`);
  if (config.out !== "") {
    await writeFile(config.out, JSON.stringify({ table: text, ratios: Object.fromEntries(ratios), limits, redis, sluice }, null, 2) + "\n");
    print(`result written to ${config.out}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof SluiceError ? `perf:compare: ${err.code}: ${err.message}\n` : `perf:compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

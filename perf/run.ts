/**
 * `npm run perf -- --workload perf/workloads/NAME.yaml [--driver sluice|redis] [--out FILE.json]
 *  [--duration 20s] [--controller tcp://HOST:PORT | --standalone]`: one OMB-style benchmark run.
 * Without --controller the sluice driver starts a fresh standalone (`--standalone` says so).
 */
import { writeFile } from "node:fs/promises";
import { describeOptions, InvalidConfigError, parseConfig, SluiceError, type OptionSpecs } from "../common/index.js";
import { runBenchmark } from "./harness/coordinator.js";
import { summaryTable } from "./harness/report.js";
import { loadWorkload, parseDuration, withDuration } from "./harness/workload.js";

const options = {
  workload: { kind: "string", default: "", help: "workload YAML file (OMB format)" },
  driver: { kind: "string", default: "sluice", pattern: /^(sluice|redis)$/, patternHelp: "sluice or redis", help: "system under test" },
  out: { kind: "string", default: "", help: "write the OMB-shaped result JSON here" },
  duration: { kind: "string", default: "", help: "override the test duration (e.g. 20s, 2m)" },
  controller: { kind: "string", default: "", help: "an existing Sluice controller (default: start a fresh standalone)" },
} satisfies OptionSpecs;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const standalone = argv.includes("--standalone");
  const { config } = parseConfig(options, argv.filter((a) => a !== "--standalone"));
  if (standalone && config.controller !== "") {
    throw new InvalidConfigError("--standalone starts a fresh server; it cannot be combined with --controller");
  }
  if (config.workload === "") {
    process.stderr.write(`usage: npm run perf -- --workload FILE.yaml [options]\n${describeOptions(options)}\n`);
    process.exitCode = 2;
    return;
  }
  let workload = await loadWorkload(config.workload);
  if (config.duration !== "") workload = withDuration(workload, parseDuration(config.duration));
  // Ctrl-C or SIGTERM ends the run early, but through its cleanup: servers and workers are stopped.
  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  process.on("SIGTERM", () => abort.abort());
  const result = await runBenchmark({
    signal: abort.signal,
    workload,
    workloadPath: config.workload,
    driver: config.driver as "sluice" | "redis",
    ...(config.controller === "" ? {} : { controllerUri: config.controller }),
  });
  process.stdout.write("\n" + summaryTable(result) + "\n");
  if (config.out !== "") {
    await writeFile(config.out, JSON.stringify(result, null, 2) + "\n");
    process.stdout.write(`result written to ${config.out}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof SluiceError ? `perf: ${err.code}: ${err.message}\n` : `perf: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * Results in the shape of OpenMessaging Benchmark's TestResult (so OMB's chart script reads them):
 * per-window lists of rates, backlog and latency percentiles, and aggregated latencies over the
 * whole test phase. Latencies are in milliseconds, rates in messages per second.
 */
import type { LatencySummary } from "./histograms.js";

export interface WindowFigures {
  publishRate: number;
  publishErrorRate: number;
  consumeRate: number;
  backlog: number;
  publish: LatencySummary;
  endToEnd: LatencySummary;
}

export interface TestResult {
  workload: string;
  driver: string;
  messageSize: number;
  topics: number;
  partitions: number;
  producersPerTopic: number;
  consumersPerTopic: number;
  publishRate: number[];
  publishErrorRate: number[];
  consumeRate: number[];
  backlog: number[];
  publishLatencyAvg: number[];
  publishLatency50pct: number[];
  publishLatency75pct: number[];
  publishLatency95pct: number[];
  publishLatency99pct: number[];
  publishLatency999pct: number[];
  publishLatency9999pct: number[];
  publishLatencyMax: number[];
  endToEndLatencyAvg: number[];
  endToEndLatency50pct: number[];
  endToEndLatency75pct: number[];
  endToEndLatency95pct: number[];
  endToEndLatency99pct: number[];
  endToEndLatency999pct: number[];
  endToEndLatency9999pct: number[];
  endToEndLatencyMax: number[];
  aggregatedPublishLatencyAvg: number;
  aggregatedPublishLatency50pct: number;
  aggregatedPublishLatency75pct: number;
  aggregatedPublishLatency95pct: number;
  aggregatedPublishLatency99pct: number;
  aggregatedPublishLatency999pct: number;
  aggregatedPublishLatency9999pct: number;
  aggregatedPublishLatencyMax: number;
  aggregatedEndToEndLatencyAvg: number;
  aggregatedEndToEndLatency50pct: number;
  aggregatedEndToEndLatency75pct: number;
  aggregatedEndToEndLatency95pct: number;
  aggregatedEndToEndLatency99pct: number;
  aggregatedEndToEndLatency999pct: number;
  aggregatedEndToEndLatency9999pct: number;
  aggregatedEndToEndLatencyMax: number;
  /** Not in OMB: the whole test phase's totals, for tables and ratios. */
  totals: { published: number; consumed: number; errors: number; seconds: number; publishRate: number; consumeRate: number; mibPerSec: number };
}

export interface RunHeader {
  workload: string;
  driver: string;
  messageSize: number;
  topics: number;
  partitions: number;
  producersPerTopic: number;
  consumersPerTopic: number;
}

export function buildResult(
  header: RunHeader,
  windows: readonly WindowFigures[],
  publish: LatencySummary,
  endToEnd: LatencySummary,
  totals: TestResult["totals"],
): TestResult {
  const pick = (f: (w: WindowFigures) => number) => windows.map(f);
  return {
    ...header,
    publishRate: pick((w) => w.publishRate),
    publishErrorRate: pick((w) => w.publishErrorRate),
    consumeRate: pick((w) => w.consumeRate),
    backlog: pick((w) => w.backlog),
    publishLatencyAvg: pick((w) => w.publish.mean),
    publishLatency50pct: pick((w) => w.publish.p50),
    publishLatency75pct: pick((w) => w.publish.p75),
    publishLatency95pct: pick((w) => w.publish.p95),
    publishLatency99pct: pick((w) => w.publish.p99),
    publishLatency999pct: pick((w) => w.publish.p999),
    publishLatency9999pct: pick((w) => w.publish.p9999),
    publishLatencyMax: pick((w) => w.publish.max),
    endToEndLatencyAvg: pick((w) => w.endToEnd.mean),
    endToEndLatency50pct: pick((w) => w.endToEnd.p50),
    endToEndLatency75pct: pick((w) => w.endToEnd.p75),
    endToEndLatency95pct: pick((w) => w.endToEnd.p95),
    endToEndLatency99pct: pick((w) => w.endToEnd.p99),
    endToEndLatency999pct: pick((w) => w.endToEnd.p999),
    endToEndLatency9999pct: pick((w) => w.endToEnd.p9999),
    endToEndLatencyMax: pick((w) => w.endToEnd.max),
    aggregatedPublishLatencyAvg: publish.mean,
    aggregatedPublishLatency50pct: publish.p50,
    aggregatedPublishLatency75pct: publish.p75,
    aggregatedPublishLatency95pct: publish.p95,
    aggregatedPublishLatency99pct: publish.p99,
    aggregatedPublishLatency999pct: publish.p999,
    aggregatedPublishLatency9999pct: publish.p9999,
    aggregatedPublishLatencyMax: publish.max,
    aggregatedEndToEndLatencyAvg: endToEnd.mean,
    aggregatedEndToEndLatency50pct: endToEnd.p50,
    aggregatedEndToEndLatency75pct: endToEnd.p75,
    aggregatedEndToEndLatency95pct: endToEnd.p95,
    aggregatedEndToEndLatency99pct: endToEnd.p99,
    aggregatedEndToEndLatency999pct: endToEnd.p999,
    aggregatedEndToEndLatency9999pct: endToEnd.p9999,
    aggregatedEndToEndLatencyMax: endToEnd.max,
    totals,
  };
}

const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One line per window, as OMB prints every 10 s. */
export function windowLine(w: WindowFigures): string {
  return (
    `pub ${fmt(w.publishRate)} msg/s | cons ${fmt(w.consumeRate)} msg/s | backlog ${fmt(w.backlog / 1000)} K | ` +
    `pub lat ms p50 ${fmt(w.publish.p50, 2)} p99 ${fmt(w.publish.p99, 2)} p99.9 ${fmt(w.publish.p999, 2)} max ${fmt(w.publish.max, 2)} | ` +
    `e2e ms p50 ${fmt(w.endToEnd.p50, 2)} p99 ${fmt(w.endToEnd.p99, 2)} max ${fmt(w.endToEnd.max, 2)}`
  );
}

/** The aggregated table at the end of a run. */
export function summaryTable(r: TestResult): string {
  const rows: [string, string][] = [
    ["workload / driver", `${r.workload} / ${r.driver}`],
    ["test phase", `${fmt(r.totals.seconds)} s, ${r.totals.published.toLocaleString("en-US")} published, ${r.totals.consumed.toLocaleString("en-US")} consumed, ${r.totals.errors} errors`],
    ["publish rate", `${fmt(r.totals.publishRate)} msg/s (${fmt(r.totals.mibPerSec)} MiB/s)`],
    ["consume rate", `${fmt(r.totals.consumeRate)} msg/s`],
    ["publish latency ms", `avg ${fmt(r.aggregatedPublishLatencyAvg, 2)} p50 ${fmt(r.aggregatedPublishLatency50pct, 2)} p99 ${fmt(r.aggregatedPublishLatency99pct, 2)} p99.9 ${fmt(r.aggregatedPublishLatency999pct, 2)} max ${fmt(r.aggregatedPublishLatencyMax, 2)}`],
    ["end-to-end latency ms", `avg ${fmt(r.aggregatedEndToEndLatencyAvg, 2)} p50 ${fmt(r.aggregatedEndToEndLatency50pct, 2)} p99 ${fmt(r.aggregatedEndToEndLatency99pct, 2)} p99.9 ${fmt(r.aggregatedEndToEndLatency999pct, 2)} max ${fmt(r.aggregatedEndToEndLatencyMax, 2)}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

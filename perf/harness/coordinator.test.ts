// Proves the harness end to end against a real standalone Sluice: worker processes produce at a fixed open-loop rate,
// consumers receive every message, and the OMB-shaped result counts and times them.
import t from "tap";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBenchmark } from "./coordinator.js";
import { parseWorkload, withDuration } from "./workload.js";

void t.test("a fixed-rate run on sluice: published at the rate, all consumed, latencies recorded", async (t) => {
  const text = [
    "name: harness-test",
    "topics: 1",
    "partitionsPerTopic: 2",
    "messageSize: 100",
    "keyDistributor: KEY_ROUND_ROBIN",
    "subscriptionsPerTopic: 1",
    "consumerPerSubscription: 2",
    "producersPerTopic: 1",
    "producerRate: 2000",
    "testDurationMinutes: 1",
    "warmupDurationMinutes: 0",
  ].join("\n");
  const path = join(t.testdir(), "w.yaml");
  writeFileSync(path, text);
  const workload = withDuration(parseWorkload(text, path), 4000);
  const lines: string[] = [];
  const r = await runBenchmark({ workload, workloadPath: path, driver: "sluice", print: (l) => lines.push(l) });
  t.equal(r.driver, "sluice");
  t.equal(r.totals.errors, 0);
  t.ok(r.totals.publishRate > 1500 && r.totals.publishRate < 2500, `publish rate ${r.totals.publishRate} near 2000/s`);
  // Workers report once a second, unaligned, so consumption may trail publishing by one report (2000
  // messages here) plus end-to-end latency.
  t.ok(r.totals.consumed >= r.totals.published - 3000, `consumed ${r.totals.consumed} of ${r.totals.published}`);
  t.ok(r.aggregatedPublishLatency50pct > 0 && r.aggregatedPublishLatency50pct < 1000, `publish p50 ${r.aggregatedPublishLatency50pct} ms`);
  t.ok(r.aggregatedEndToEndLatency50pct > 0, `e2e p50 ${r.aggregatedEndToEndLatency50pct} ms`);
  t.equal(r.publishRate.length, r.consumeRate.length, "one entry per window in each list");
  t.ok(r.publishRate.length >= 1);
  t.ok(lines.some((l) => l.startsWith("pub ")), "a window line was printed");
});

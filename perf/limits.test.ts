// Proves every perf:limits probe runs and reports real figures: runLimits with the shortest duration
// (1 s per probe, real child processes, a real temp folder and loopback socket) must return a
// positive, finite number for every figure, so a broken probe fails the suite rather than the benchmark.
import t from "tap";
import { existsSync } from "node:fs";
import { limitsDurationMsMin, runLimits } from "./limits.js";

void t.test("runLimits measures positive, finite ceilings and cleans up", async (t) => {
  const result = await runLimits({ durationMs: limitsDurationMsMin });
  const probes = { groupCommit: result.groupCommit, fsyncLatency: result.fsyncLatency, loopback: result.loopback };
  for (const [probe, figures] of Object.entries(probes)) {
    for (const [name, value] of Object.entries(figures)) {
      t.ok(Number.isFinite(value) && value > 0, `${probe}.${name} = ${value} is positive and finite`);
    }
  }
  t.ok(result.fsyncLatency.p50Ms <= result.fsyncLatency.p99Ms && result.fsyncLatency.p99Ms <= result.fsyncLatency.maxMs, "percentiles are ordered");
  t.notOk(existsSync(result.dir), "the default folder is removed");
});

void t.test("runLimits rejects a duration out of range", async (t) => {
  await t.rejects(runLimits({ durationMs: 10 }), { code: "INVALID_CONFIG" });
});

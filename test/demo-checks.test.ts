// Proves the demo's pure parts by table: the load profile and its integral, the per-segment target rate, the output
// audit (lost, duplicated, out of order, unexpected), the follow check (observed = clamp(segments) within the
// allowance, rescales up and down), the job protocol parser (a bad line is an error, not a chart) and the options.
import t from "tap";
import { auditEvents } from "../demo/audit.js";
import { checkFollowing, followAllowanceMs } from "../demo/analysis.js";
import { parseJobLine, type JobMessage } from "../demo/job.js";
import { parseDemoOptions } from "../demo/options.js";
import { clampParallelism, eventsDueBy, targetRateAt, targetRatePerSegment } from "../demo/profile.js";

void t.test("profile: four steps up, a hold, down; its integral", async (t) => {
  t.equal(targetRateAt(0, 100_000, 1000), 250);
  t.equal(targetRateAt(35_000, 100_000, 1000), 1000);
  t.equal(targetRateAt(99_999, 100_000, 1000), 250);
  t.equal(targetRateAt(100_000, 100_000, 1000), 0, "nothing after the end");
  t.equal(eventsDueBy(10_000, 100_000, 1000), 2500);
  t.equal(eventsDueBy(200_000, 100_000, 1000), 57_500, "the whole profile: 5.75 steps of 10 s at the peak");
  // At the peak, max segments each stay below the target and max - 1 would not.
  for (const max of [2, 3, 4, 8, 16]) {
    const target = targetRatePerSegment(10_000, max);
    t.ok(10_000 / max < target && 10_000 / (max - 1) > target, `max ${max}: target ${target}`);
  }
  t.same([0, 1, 3, 9].map((n) => clampParallelism(n, 1, 4)), [1, 1, 3, 4]);
});

void t.test("audit: counts each kind of fault once", async (t) => {
  t.same(auditEvents(["k0:0", "k1:0", "k0:1", "k1:1"], [2, 2]), { events: 4, keys: 2, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
  t.same(auditEvents(["k0:1", "k0:0", "k0:1", "x", "k1:5"], [3, 1]), { events: 5, keys: 2, lost: 2, duplicated: 1, outOfOrder: 1, unexpected: 2 });
});

const sample = (timeMs: number, segments: number, observed: number): JobMessage => ({ type: "sample", timeMs, segments, requested: observed, observed, running: true });
const rescale = (timeMs: number, from: number, to: number): JobMessage => ({ type: "rescale", timeMs, from, to, segmentsChangedAtMs: timeMs - 3000, requestedAtMs: timeMs - 1000, runningAtMs: timeMs, pauseMs: 800 });

void t.test("follow check: within the allowance, after the first rescale, up and down counted", async (t) => {
  const messages = [sample(0, 1, 1), sample(1000, 2, 1), rescale(2500, 1, 2), sample(3000, 2, 2), sample(4000, 4, 2), sample(5000, 4, 2), sample(9000, 4, 2), rescale(9500, 2, 1)];
  t.equal(followAllowanceMs(messages, 2000, 500), 2000 + 1000 + 1000);
  const c = checkFollowing(messages, 1, 3, 2000);
  t.same(c, { samples: 4, following: 3, ratio: 0.75, ups: 1, downs: 1 }, "the sample at 9 s has seen 3 (clamped 4) for longer than the allowance");
  t.equal(checkFollowing([sample(0, 2, 1)], 1, 3, 1000).samples, 0, "no rescale: nothing counted");
});

void t.test("job protocol: known messages parse, anything else is an error", async (t) => {
  t.same(parseJobLine('{"type":"stopped","timeMs":5}'), { type: "stopped", timeMs: 5 });
  t.equal(parseJobLine('{"type":"sample","timeMs":1,"segments":2,"requested":2,"observed":1,"running":false}').type, "sample");
  for (const bad of ["not json", "[]", '{"type":"nope"}', '{"type":"sample","timeMs":1,"segments":2,"requested":2,"observed":1}', '{"type":"audit","keys":"3"}']) {
    t.throws(() => parseJobLine(bad), { code: "INTERNAL" }, bad);
  }
});

void t.test("options: defaults, overrides and bad values naming the flag", async (t) => {
  const d = parseDemoOptions([]);
  t.same([d.durationS, d.peakRate, d.maxParallelism, d.out, d.jobScript], [200, 2000, 4, "demo-report", undefined]);
  t.equal(parseDemoOptions(["--duration-s", "75", "--max-parallelism", "3"]).durationS, 75);
  t.throws(() => parseDemoOptions(["--duration-s", "5"]), { code: "INVALID_ARGUMENT", message: /--duration-s 5: must be an integer in \[20, 86400\]/ });
  t.throws(() => parseDemoOptions(["--bogus", "1"]), { code: "INVALID_ARGUMENT", message: /unknown flag --bogus/ });
  t.throws(() => parseDemoOptions(["--out"]), { code: "INVALID_ARGUMENT", message: /--out needs a value/ });
  t.throws(() => parseDemoOptions(["--min-parallelism", "5", "--max-parallelism", "4"]), { code: "INVALID_ARGUMENT" });
});

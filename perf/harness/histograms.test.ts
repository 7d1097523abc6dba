// Proves encoded histograms survive JSON and a real process boundary and merge to what one histogram recording everything holds, by comparing counts and percentiles within HDR precision.
import t from "tap";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../../common/index.js";
import { LatencyRecorder, decodeHistogram, mergeHistograms, summarize, type LatencySummary } from "./histograms.js";

const workerPath = fileURLToPath(new URL("./fixtures/histogram-worker.ts", import.meta.url));
const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
const workerTimeoutMs = 30_000;
/** 3 significant digits: any recorded value reads back within 0.1% of itself. */
const relativePrecision = 0.001;

function recorderOf(latenciesMs: readonly number[]): LatencyRecorder {
  const r = new LatencyRecorder();
  for (const ms of latenciesMs) r.record(ms);
  return r;
}

function sameWithinPrecision(t: Pick<typeof import("tap").default, "ok" | "equal">, got: LatencySummary, want: LatencySummary): void {
  t.equal(got.count, want.count, "count");
  for (const key of ["p50", "p75", "p95", "p99", "p999", "p9999", "max", "mean"] as const) {
    const tolerance = want[key] * relativePrecision + 0.001;
    t.ok(Math.abs(got[key] - want[key]) <= tolerance, `${key}: ${got[key]} is within HDR precision of ${want[key]}`);
  }
}

const range = (from: number, to: number, step = 1) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

void t.test("merging two encoded histograms equals one that recorded everything", async (t) => {
  const a = range(0.05, 20, 0.05);
  const b = range(10, 2000, 3);
  const merged = mergeHistograms([decodeHistogram(recorderOf(a).snapshotAndReset()), decodeHistogram(recorderOf(b).snapshotAndReset())]);
  const all = recorderOf([...a, ...b]).snapshotAndReset();
  const expected = summarize(decodeHistogram(all));
  t.equal(expected.count, a.length + b.length);
  sameWithinPrecision(t, summarize(merged), expected);
});

void t.test("an encoded histogram round-trips through JSON", async (t) => {
  const r = recorderOf(range(1, 100));
  const encoded = r.snapshotAndReset();
  const wire: unknown = JSON.parse(JSON.stringify(encoded));
  const s = summarize(decodeHistogram(wire));
  t.equal(s.count, 100);
  t.ok(Math.abs(s.p50 - 50) <= 0.05, `p50 ${s.p50}`);
  t.ok(Math.abs(s.p99 - 99) <= 0.1, `p99 ${s.p99}`);
  t.equal(summarize(decodeHistogram(r.snapshotAndReset())).count, 0, "snapshotAndReset starts empty again");
});

void t.test("record clamps to [0, 60 s]; summarize of nothing is zeros", async (t) => {
  const s = summarize(decodeHistogram(recorderOf([-5, 0, 120_000, Number.POSITIVE_INFINITY]).snapshotAndReset()));
  t.equal(s.count, 4, "every operation counted");
  t.ok(s.max >= 60_000 && s.max <= 60_000 * (1 + relativePrecision), `max ${s.max} reads as 60 s`);
  t.equal(s.p50, 0);
  t.same(summarize(mergeHistograms([])), { count: 0, p50: 0, p75: 0, p95: 0, p99: 0, p999: 0, p9999: 0, max: 0, mean: 0 });
  t.throws(() => new LatencyRecorder().record(Number.NaN), /invariant violated/);
});

void t.test("a malformed encoded histogram is INVALID_ARGUMENT", async (t) => {
  const good = recorderOf([1]).snapshotAndReset();
  for (const bad of [null, "x", { base64: good.base64 }, { ...good, encoding: "other" }, { ...good, base64: "" }, { ...good, base64: "not base64!" }, { ...good, base64: "x".repeat(4 * 1024 * 1024 + 4) }]) {
    t.throws(() => decodeHistogram(bad), InvalidArgumentError, JSON.stringify(bad).slice(0, 60));
  }
});

void t.test("a forked worker's histogram merges with the parent's", async (t) => {
  const child = fork(workerPath, [], { cwd: projectRoot, execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(async () => {
    // Stopped by its own pid if it is still running (a failed assertion or a timeout).
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  const message = await new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker sent nothing in ${workerTimeoutMs} ms`)), workerTimeoutMs);
    child.once("message", (m: unknown) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before sending`));
    });
  });
  t.equal(await exited, 0, "the worker exits cleanly after sending");
  t.ok(typeof message === "object" && message !== null && "histogram" in message, "the message carries a histogram");
  const { histogram } = message as { histogram: unknown };

  const parentValues = range(1001, 2000);
  const merged = mergeHistograms([decodeHistogram(histogram), decodeHistogram(recorderOf(parentValues).snapshotAndReset())]);
  const s = summarize(merged);
  t.equal(s.count, 2000, "the worker's 1000 values and the parent's 1000");
  sameWithinPrecision(t, s, summarize(decodeHistogram(recorderOf([...range(1, 1000), ...parentValues]).snapshotAndReset())));
  t.ok(Math.abs(s.p50 - 1000) <= 1, `p50 ${s.p50} is the worker's largest value`);
  t.ok(Math.abs(s.p99 - 1980) <= 2, `p99 ${s.p99} comes from the parent's values`);
});

// Proves `npm run demo:scaling` end to end, as a child process with a shortened profile: the job's parallelism went
// up at least twice and down at least once; after the first rescale, >= 90% of the job's samples observe
// clamp(segments) of a sample within cooldown + 2 polls + the longest rescale; the output read back has no lost,
// duplicated or out-of-order event and the in-job audit is clean; index.html and series.json exist, and series.json
// is exactly what the run log (run.log: the demo's samples and the job's lines) gives, as drawn in index.html.
// Run once with the stand-in job (test/demo-standin-job.ts, the same JSON-lines protocol: proves the orchestration)
// and once with the real io.sluice.demo.ScalingDemoJob on Flink's MiniCluster (fails while that job is missing).
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkFollowing, followAllowanceMs } from "../demo/analysis.js";
import type { JobMessage } from "../demo/job.js";
import type { ReportData } from "../demo/report.js";
import { seriesFromLog, type LogEntry } from "../demo/series.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const javaJob = join(repo, "connector-flink/src/test/java/io/sluice/demo/ScalingDemoJob.java");
/** The demo's own bounds (build, job start and stop, catch-up) fit well within this past the profile. */
const runSlackMs = 12 * 60_000;
const followRatioMin = 0.9;

// The Java run builds the connector and runs a 75 s profile: longer than tap's default file timeout.
t.setTimeout(2 * (75_000 + runSlackMs));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the demo to its end; SIGTERM by pid (the demo then stops its children) after `deadlineMs`, SIGKILL 30 s later. */
function runDemo(args: readonly string[], deadlineMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repo, "demo/scaling.ts"), ...args], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const term = setTimeout(() => child.kill("SIGTERM"), deadlineMs);
    const kill = setTimeout(() => child.kill("SIGKILL"), deadlineMs + 30_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

async function checkRun(t: Test, args: readonly string[], durationS: number): Promise<void> {
  const out = await mkdtemp(join(tmpdir(), "sluice-demo-run-"));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const ran = await runDemo([...args, "--duration-s", String(durationS), "--out", out], durationS * 1000 + runSlackMs);
  t.comment(ran.stdout.trim().split("\n").slice(-12).join("\n"));
  if (!t.equal(ran.code, 0, "the demo exits 0")) t.comment(ran.stderr.slice(-6000));

  const html = join(out, "index.html");
  const json = join(out, "series.json");
  t.ok(existsSync(html) && existsSync(json), "index.html and series.json written");
  if (!existsSync(json)) return;
  const data = JSON.parse(await readFile(json, "utf8")) as ReportData;
  const log = (await readFile(join(out, "run.log"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as LogEntry);
  const job = log.filter((e): e is JobMessage => e.type !== "load");

  const o = data.options as Record<string, number>;
  const follow = checkFollowing(job, o["minParallelism"]!, o["maxParallelism"]!, followAllowanceMs(job, o["cooldownMs"]!, o["pollMs"]!));
  t.ok(follow.ups >= 2, `parallelism went up at least twice (${follow.ups})`);
  t.ok(follow.downs >= 1, `and down at least once (${follow.downs})`);
  t.ok(follow.samples > 0 && follow.ratio >= followRatioMin, `observed = clamp(segments) within the allowance in ${follow.following} of ${follow.samples} samples after the first rescale`);

  const audit = data.summary["Output audit (read back from the output stream)"]!;
  t.same([audit["lost"], audit["duplicated"], audit["outOfOrder"], audit["unexpected"]], [0, 0, 0, 0], "output audit: nothing lost, duplicated, out of order or unexpected");
  t.ok(Number(audit["events"]) > 0 && audit["events"] === audit["written"], `every written event read back (${audit["events"]})`);
  const jobAudit = log.find((e) => e.type === "audit");
  t.same(jobAudit === undefined ? undefined : [jobAudit.outOfOrder, jobAudit.duplicates, jobAudit.gaps], [0, 0, 0], "in-job audit clean");
  t.equal(log.at(-1)?.type, "stopped", "the job's last line is stopped");

  const rebuilt = seriesFromLog(log, o["startMs"]!);
  t.same(data.series, rebuilt.series, "series.json's series are what run.log gives");
  t.same(data.pauses, rebuilt.pauses, "and its pause bands");
  t.equal(data.series.observed.length, job.filter((m) => m.type === "sample").length, "one observed point per job sample");
  t.equal(data.pauses.length, follow.ups + follow.downs, "one pause band per rescale");
  const page = await readFile(html, "utf8");
  for (const [name, points] of Object.entries(data.series) as [string, unknown[]][]) {
    const drawn = new RegExp(`data-series="${name}"[^>]*points="([^"]*)"`).exec(page)?.[1]?.trim().split(/\s+/).filter(Boolean).length ?? -1;
    t.equal(drawn, points.length, `index.html draws every point of ${name}`);
  }
}

void t.test("the demo's orchestration, with the stand-in job", async (t) => {
  await checkRun(t, ["--max-parallelism", "3", "--peak-rate", "1000", "--job-script", join(repo, "test/demo-standin-job.ts")], 60);
});

void t.test("the demo with io.sluice.demo.ScalingDemoJob on Flink", async (t) => {
  if (!existsSync(javaJob)) {
    t.fail(`${javaJob} is missing: the demo's Flink job is not in this tree yet`);
    return;
  }
  await checkRun(t, ["--max-parallelism", "3"], 75);
});

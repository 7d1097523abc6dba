/**
 * One run of the scaling demo (see scaling.ts for the command): a standalone with second-scale
 * scaling windows, the input stream scaled by event rate, the job following its segment count, the
 * load profile, the catch-up, the job's draining stop, the audit and the report. Everything started
 * here is stopped by its pid in `cleanup`, which also runs on failure and on Ctrl-C (the caller's
 * signal handler calls it).
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Sluice } from "../client/index.js";
import { InternalError } from "../common/index.js";
import { freePorts, startSluiceProcess, tsNodeArgs, type SluiceProcess } from "../perf/support/standalone-process.js";
import { buildFlinkSide } from "../perf/support/flink-java.js";
import { auditClean, auditStream, type OutputAudit } from "./audit.js";
import { checkFollowing, followAllowanceMs, type FollowCheck } from "./analysis.js";
import { JobProcess, type JobMessage } from "./job.js";
import { LoadGenerator } from "./load.js";
import type { DemoOptions } from "./options.js";
import { OutputCounter } from "./output-counter.js";
import { targetRateAt, targetRatePerSegment } from "./profile.js";
import { writeReport } from "./report.js";
import { seriesFromLog, type LoadSample, type LogEntry } from "./series.js";

/** The standalone's scaling settings: windows of seconds, so the stream scales within the demo. */
export const standaloneScalingArgs = ["--scale-interval-ms", "500", "--load-windows-ms", "2000,4000,6000,8000", "--load-report-ms", "500"];
export const inputStream = "demo/input";
export const outputStream = "demo/output";
/** Output segments (fixed). */
const outputSegments = 2;
const sampleMs = 1_000;
const progressMs = 5_000;
/** The job's start (a JVM and a MiniCluster), its draining stop (the job itself retries it for up to 120 s), and the output catching up after the load. */
const jobStartTimeoutMs = 180_000;
const jobStopTimeoutMs = 180_000;
const catchUpTimeoutMs = 120_000;

export interface DemoResult {
  audit: OutputAudit;
  jobAudit: Extract<JobMessage, { type: "audit" }>;
  follow: FollowCheck;
  written: number;
  report: { html: string; json: string; log: string };
  /** Every check passed: the audits are clean and the job changed parallelism. */
  ok: boolean;
}

/** What `cleanup` must stop; filled in as the run starts things. */
interface Started {
  dir?: string;
  server?: SluiceProcess;
  job?: JobProcess;
  client?: Sluice;
  load?: LoadGenerator;
  log?: WriteStream;
}

export class DemoRun {
  private readonly started: Started = {};
  private cleaned: Promise<void> | undefined;

  constructor(
    private readonly options: DemoOptions,
    private readonly say: (line: string) => void,
  ) {}

  /** Stops the job, the standalone and the client, removes the temp dir; once, whoever calls it. */
  cleanup(): Promise<void> {
    this.cleaned ??= (async () => {
      const s = this.started;
      // The load stops first, so a job asked to stop is not kept busy, and the run's loop ends at its next sample.
      s.load?.stop();
      await s.job?.kill();
      await s.client?.close().catch((err: unknown) => this.say(`closing the client: ${String(err)}`));
      await s.server?.stop();
      await new Promise<void>((done) => (s.log === undefined ? done() : s.log.end(done)));
      if (s.dir !== undefined) await rm(s.dir, { recursive: true, force: true });
    })();
    return this.cleaned;
  }

  async run(): Promise<DemoResult> {
    const o = this.options;
    const s = this.started;
    const out = resolve(o.out);
    await mkdir(out, { recursive: true });
    const logPath = join(out, "run.log");
    s.log = createWriteStream(logPath);
    const entries: LogEntry[] = [];
    const record = (e: LogEntry) => {
      entries.push(e);
      s.log!.write(JSON.stringify(e) + "\n");
    };
    s.dir = await mkdtemp(join(tmpdir(), "sluice-demo-"));
    const javaArgs = o.jobScript === undefined ? await this.build() : [];
    const [controllerPort, storePort] = await freePorts(2);
    s.server = await startSluiceProcess("standalone", [
      "--data-dir", join(s.dir, "data"), "--controller-port", String(controllerPort), "--segmentstore-port", String(storePort),
      ...standaloneScalingArgs, "--scale-cooldown-ms", String(o.scaleCooldownMs),
    ]);
    const controller = `tcp://127.0.0.1:${controllerPort}`;
    this.say(`standalone up: controller ${controller} (pid ${s.server.proc.pid})`);
    s.client = await Sluice.connect(controller);
    const client = s.client;
    const perSegment = targetRatePerSegment(o.peakRate, o.maxParallelism);
    await client.admin.createScope("demo");
    await client.admin.createStream(inputStream, { scaling: { type: "byEventRate", targetRate: perSegment, scaleFactor: 2, minSegments: 1 } });
    await client.admin.createStream(outputStream, { scaling: { type: "fixed", minSegments: outputSegments } });
    this.say(`${inputStream}: byEventRate ${perSegment} events/s per segment; ${outputStream}: ${outputSegments} segments`);

    const jobArgs = [
      "--controller", controller, "--input", inputStream, "--output", outputStream,
      "--min-parallelism", String(o.minParallelism), "--max-parallelism", String(o.maxParallelism), "--poll-ms", String(o.pollMs),
      "--stable-polls", String(o.stablePolls), "--cooldown-ms", String(o.cooldownMs), "--checkpoint-ms", String(o.checkpointMs),
    ];
    let lastSample: Extract<JobMessage, { type: "sample" }> | undefined;
    const onMessage = (m: JobMessage) => {
      record(m);
      if (m.type === "sample") lastSample = m;
      if (m.type === "rescale") this.say(`rescale ${m.from} -> ${m.to}: requested ${m.requestedAtMs - m.segmentsChangedAtMs} ms after the segments changed, paused ${m.pauseMs} ms`);
    };
    s.job = o.jobScript === undefined
      ? new JobProcess("java", [...javaArgs, "io.sluice.demo.ScalingDemoJob", ...jobArgs], onMessage)
      : new JobProcess(process.execPath, tsNodeArgs(o.jobScript, jobArgs), onMessage);
    const job = s.job;
    const started = await job.waitFor("started", jobStartTimeoutMs);
    this.say(`job ${started.jobId} running at parallelism ${started.parallelism} (pid ${job.pid}, ${started.restUrl})`);

    const counter = await OutputCounter.start(client, "demo/lag-counter", outputStream);
    const durationMs = o.durationS * 1000;
    const load = new LoadGenerator(client.writer(inputStream), o.keys, durationMs, o.peakRate);
    s.load = load;
    const startMs = Date.now();
    load.start();
    let lastProgressMs = startMs;
    const sample = async () => {
      if (this.cleaned !== undefined) throw new InternalError("the demo was stopped");
      const nowMs = Date.now();
      const segments = (await client.admin.streamInfo(inputStream)).segments.length;
      const e: LoadSample = { type: "load", timeMs: nowMs, targetRate: targetRateAt(nowMs - startMs, durationMs, o.peakRate), acked: load.ackedEvents, read: counter.read, segments };
      const previous = entries.findLast((x): x is LoadSample => x.type === "load");
      record(e);
      if (nowMs - lastProgressMs >= progressMs) {
        lastProgressMs = nowMs;
        const rate = previous === undefined ? 0 : Math.round(((e.acked - previous.acked) * 1000) / Math.max(1, nowMs - previous.timeMs));
        this.say(`${Math.round((nowMs - startMs) / 1000)} s: input ${rate} events/s, ${segments} segments, parallelism requested ${lastSample?.requested ?? "-"} observed ${lastSample?.observed ?? "-"}, lag ${e.acked - e.read} events`);
      }
      const problem = job.problem() ?? load.error ?? counter.error;
      if (problem !== undefined) throw problem;
    };
    const tick = () => new Promise((done) => setTimeout(done, sampleMs));
    while (Date.now() - startMs < durationMs) {
      await sample();
      await tick();
    }
    await load.close();
    const written = load.ackedEvents;
    this.say(`load stopped: ${written} events written; waiting for the output to catch up`);
    const catchUpDeadline = Date.now() + catchUpTimeoutMs;
    while (counter.read < written) {
      if (Date.now() > catchUpDeadline) {
        this.say(`the output did not catch up within ${catchUpTimeoutMs} ms: ${counter.read} of ${written} events read`);
        break;
      }
      await sample();
      await tick();
    }
    await sample();
    this.say("stopping the job (draining)");
    const code = await job.finish(jobStopTimeoutMs);
    const jobAudit = await job.waitFor("audit", 0);
    await job.waitFor("stopped", 0);
    if (code !== 0) throw new InternalError(`the job exited with ${code}: ${job.stderr().slice(-4000)}`);
    await counter.close();

    const audit = await auditStream(client, outputStream, load.written);
    const follow = checkFollowing(job.messages, o.minParallelism, o.maxParallelism, followAllowanceMs(job.messages, o.cooldownMs, o.pollMs));
    const { series, pauses } = seriesFromLog(entries, startMs);
    const ok = auditClean(audit) && jobAudit.outOfOrder === 0 && jobAudit.duplicates === 0 && jobAudit.gaps === 0 && follow.ups + follow.downs > 0;
    const report = await writeReport(out, {
      title: `Sluice auto-scaling demo: ${o.peakRate} events/s peak, parallelism ${o.minParallelism}..${o.maxParallelism}`,
      options: { ...o, jobScript: o.jobScript ?? null, startMs, targetRatePerSegment: perSegment, standalone: standaloneScalingArgs.join(" ") },
      series,
      pauses,
      summary: {
        "Output audit (read back from the output stream)": { ...audit, written },
        "In-job audit": { keys: jobAudit.keys, outOfOrder: jobAudit.outOfOrder, duplicates: jobAudit.duplicates, gaps: jobAudit.gaps },
        "Following the segment count": { ...follow },
      },
    });
    return { audit, jobAudit, follow, written, report: { ...report, log: logPath }, ok };
  }

  private async build(): Promise<string[]> {
    this.say("building connector-flink with its test classes (mvn test-compile)");
    return buildFlinkSide();
  }
}

/**
 * The coordinator of one benchmark run: starts the system under test (a fresh standalone Sluice or
 * redis-server) unless given one, creates the topics, forks a producer worker and a consumer
 * worker, builds a backlog first when the workload asks for one, runs warmup then the test phase,
 * prints one line per 10 s window (and a progress bar on a terminal), then stops everything it
 * started and returns the OMB-shaped result.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InternalError } from "../../common/index.js";
import { createDriver } from "../drivers/index.js";
import { startRedisServer } from "../support/redis-server.js";
import { startStandaloneProcess } from "../support/standalone-process.js";
import { decodeHistogram, mergeHistograms, summarize, type Histogram } from "./histograms.js";
import type { ConsumerAssignment, DriverSpec, FromWorker, ProducerAssignment, ToWorker, WorkerStats } from "./messages.js";
import { RateSearch, searchRateStart } from "./rate-search.js";
import { buildResult, windowLine, type TestResult, type WindowFigures } from "./report.js";
import type { Workload } from "./workload.js";

export interface RunOptions {
  workload: Workload;
  workloadPath: string;
  driver: "sluice" | "redis";
  /** An existing Sluice controller; without it a fresh standalone is started. */
  controllerUri?: string;
  /** Lines go here (stdout by default); the progress bar goes to stderr when it is a terminal. */
  print?: (line: string) => void;
}

const windowMs = 10_000;
/** How often a worker reports (worker.ts sends one stats message per interval). */
const workerStatsIntervalMs = 1000;
const workerStartMs = 60_000;
const workerStopMs = 30_000;
/** Until Tier-2 exists the standalone keeps every byte in memory; give a benchmark room. */
const standaloneCacheBytes = 12 * 1024 ** 3;
const workerScript = fileURLToPath(new URL("./worker.ts", import.meta.url));

interface Worker {
  proc: ChildProcess;
  /** Stats received since the last window was cut. */
  pending: WorkerStats[];
  stopped: Promise<void>;
}

function startWorker(message: Extract<ToWorker, { type: "start" }>): Promise<Worker> {
  const proc = fork(workerScript, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const worker: Worker = {
    proc,
    pending: [],
    stopped: new Promise((resolve) => proc.once("exit", () => resolve())),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new InternalError(`a worker did not start within ${workerStartMs} ms`)), workerStartMs);
    proc.on("message", (m: FromWorker) => {
      switch (m.type) {
        case "ready":
          clearTimeout(timer);
          resolve(worker);
          return;
        case "stats":
          worker.pending.push(m);
          return;
        case "failed":
          clearTimeout(timer);
          reject(new InternalError(`worker failed: ${m.message}`));
          return;
        case "stopped":
          return;
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new InternalError(`worker exited with ${code} before it was ready`));
    });
    proc.send(message);
  });
}

async function stopWorker(w: Worker): Promise<void> {
  if (w.proc.exitCode !== null) return;
  const stop: ToWorker = { type: "stop" };
  w.proc.send(stop);
  const timer = setTimeout(() => w.proc.kill("SIGKILL"), workerStopMs);
  await w.stopped;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runBenchmark(options: RunOptions): Promise<TestResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(line + "\n"));
  const w = options.workload;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    let spec: DriverSpec;
    if (options.driver === "redis") {
      const redis = await startRedisServer({});
      cleanups.push(() => redis.stop());
      spec = { kind: "redis", host: "127.0.0.1", port: redis.port };
    } else if (options.controllerUri !== undefined) {
      spec = { kind: "sluice", controllerUri: options.controllerUri };
    } else {
      const dir = await mkdtemp(join(tmpdir(), "sluice-perf-"));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const server = await startStandaloneProcess(join(dir, "data"), ["--cache-bytes-max", String(standaloneCacheBytes)]);
      cleanups.push(() => server.stop());
      spec = { kind: "sluice", controllerUri: server.controllerUri };
    }

    const topics = Array.from({ length: w.topics }, (_, i) => `topic-${i}-${Date.now().toString(36)}`);
    const setup = await createDriver(spec);
    for (const t of topics) await setup.createTopic(t, w.partitionsPerTopic);
    await setup.close();

    const producerCount = w.topics * w.producersPerTopic;
    const producers: ProducerAssignment[] = topics.flatMap((topic) =>
      Array.from({ length: w.producersPerTopic }, () => ({ topic, rate: (w.producerRate === 0 ? searchRateStart : w.producerRate) / producerCount })),
    );
    const backlogBytes = w.consumerBacklogSizeGB * 1e9;
    const consumers: ConsumerAssignment[] = topics.flatMap((topic) =>
      Array.from({ length: w.subscriptionsPerTopic }, (_, s) =>
        Array.from({ length: w.consumerPerSubscription }, (_, index) => ({
          topic,
          subscription: `sub-${s}`,
          index,
          count: w.consumerPerSubscription,
          fromStart: backlogBytes > 0,
        })),
      ).flat(),
    );
    const base = { type: "start" as const, driver: spec, workload: w, workloadPath: options.workloadPath };
    const workers: Worker[] = [];
    cleanups.push(async () => {
      await Promise.all(workers.map((x) => stopWorker(x)));
    });

    // Consumers first (so they read from the current end), unless a backlog must be built first.
    if (consumers.length > 0 && backlogBytes === 0) workers.push(await startWorker({ ...base, producers: [], consumers }));
    const producerWorker = await startWorker({ ...base, producers, consumers: [] });
    workers.push(producerWorker);

    let published = 0;
    let consumed = 0;
    const take = () => {
      // Each report of the producer worker covers one of its stats intervals (one second).
      const producerReports = producerWorker.pending.length;
      const all = workers.flatMap((x) => x.pending.splice(0));
      const sum = (f: (s: WorkerStats) => number) => all.reduce((n, s) => n + f(s), 0);
      return {
        producerReports,
        acked: sum((s) => s.acked),
        errors: sum((s) => s.errors),
        received: sum((s) => s.received),
        publish: all.map((s) => decodeHistogram(s.publish)),
        endToEnd: all.map((s) => decodeHistogram(s.endToEnd)),
      };
    };

    if (backlogBytes > 0) {
      print(`building a backlog of ${w.consumerBacklogSizeGB} GB before consumers start`);
      let built = 0;
      while (built < backlogBytes) {
        await sleep(1000);
        const s = take();
        built += s.acked * w.messageSize;
        published += s.acked;
      }
      if (consumers.length > 0) workers.push(await startWorker({ ...base, producers: [], consumers }));
    }

    const subscriptions = w.topics * w.subscriptionsPerTopic;
    const warmupMs = w.warmupDurationMinutes * 60_000;
    const testMs = w.testDurationMinutes * 60_000;
    // Max-rate workloads search for the highest sustainable rate, adjusting it every tick.
    const searching = w.producerRate === 0;
    const search = new RateSearch();
    const setRate = (rate: number) => {
      const message: ToWorker = { type: "setRate", ratePerProducer: rate / producerCount };
      producerWorker.proc.send(message);
    };
    // The coordinator's ticks and the workers' reports are not aligned, so a period is measured in
    // the producer worker's own reports, and a tick without one is skipped.
    const steer = (s: { producerReports: number; acked: number }) => {
      if (s.producerReports === 0) return;
      const backlog = Math.max(0, published * subscriptions - consumed);
      if (searching) {
        const periodSeconds = (s.producerReports * workerStatsIntervalMs) / 1000;
        setRate(search.next({ publishRate: s.acked / periodSeconds, backlog, periodSeconds, consuming: consumers.length > 0 }));
      }
    };

    if (warmupMs > 0) {
      print(`warmup ${Math.round(warmupMs / 1000)} s${searching ? " (searching the highest sustainable rate)" : ""}`);
      const warmupStart = performance.now();
      while (performance.now() - warmupStart < warmupMs) {
        await sleep(1000);
        const s = take();
        published += s.acked;
        consumed += s.received;
        steer(s);
      }
    }
    print(`test ${Math.round(testMs / 1000)} s: ${options.driver}, ${w.name}`);
    const windows: WindowFigures[] = [];
    const allPublish: Histogram[] = [];
    const allEndToEnd: Histogram[] = [];
    let testPublished = 0;
    let testConsumed = 0;
    let testErrors = 0;
    const started = performance.now();
    let windowStart = started;
    let windowAcc = { acked: 0, errors: 0, received: 0, publish: [] as Histogram[], endToEnd: [] as Histogram[] };
    const tty = process.stderr.isTTY;
    while (performance.now() - started < testMs) {
      await sleep(1000);
      const s = take();
      windowAcc = {
        acked: windowAcc.acked + s.acked,
        errors: windowAcc.errors + s.errors,
        received: windowAcc.received + s.received,
        publish: [...windowAcc.publish, ...s.publish],
        endToEnd: [...windowAcc.endToEnd, ...s.endToEnd],
      };
      published += s.acked;
      consumed += s.received;
      const now = performance.now();
      steer(s);
      if (tty) {
        const done = Math.min(1, (now - started) / testMs);
        const bar = "#".repeat(Math.round(done * 30)).padEnd(30, ".");
        process.stderr.write(`\r[${bar}] ${Math.round(done * 100)}% ${published.toLocaleString("en-US")} published`);
      }
      if (now - windowStart >= windowMs || now - started >= testMs) {
        const seconds = (now - windowStart) / 1000;
        const publishH = mergeHistograms(windowAcc.publish);
        const endToEndH = mergeHistograms(windowAcc.endToEnd);
        const figures: WindowFigures = {
          publishRate: windowAcc.acked / seconds,
          publishErrorRate: windowAcc.errors / seconds,
          consumeRate: windowAcc.received / seconds,
          backlog: Math.max(0, published * subscriptions - consumed),
          publish: summarize(publishH),
          endToEnd: summarize(endToEndH),
        };
        windows.push(figures);
        allPublish.push(publishH);
        allEndToEnd.push(endToEndH);
        testPublished += windowAcc.acked;
        testConsumed += windowAcc.received;
        testErrors += windowAcc.errors;
        if (tty) process.stderr.write("\r" + " ".repeat(70) + "\r");
        print(windowLine(figures) + (searching ? ` | target ${search.rate.toLocaleString("en-US")} msg/s` : ""));
        windowStart = now;
        windowAcc = { acked: 0, errors: 0, received: 0, publish: [], endToEnd: [] };
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return buildResult(
      {
        workload: w.name,
        driver: options.driver,
        messageSize: w.messageSize,
        topics: w.topics,
        partitions: w.partitionsPerTopic,
        producersPerTopic: w.producersPerTopic,
        consumersPerTopic: w.subscriptionsPerTopic * w.consumerPerSubscription,
      },
      windows,
      summarize(mergeHistograms(allPublish)),
      summarize(mergeHistograms(allEndToEnd)),
      {
        published: testPublished,
        consumed: testConsumed,
        errors: testErrors,
        seconds,
        publishRate: testPublished / seconds,
        consumeRate: testConsumed / seconds,
        mibPerSec: (testPublished * w.messageSize) / seconds / 1024 ** 2,
      },
    );
  } finally {
    for (const c of cleanups.reverse()) {
      await c().catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`));
    }
  }
}

/**
 * The coordinator of one benchmark run: starts the system under test (a fresh standalone Sluice or
 * redis-server) unless given one, creates the topics, forks a producer worker and a consumer
 * worker, builds a backlog first when the workload asks for one, runs warmup then the test phase,
 * prints one line per 10 s window (and a progress bar on a terminal), then stops everything it
 * started, also when the run fails or is aborted, and returns the OMB-shaped result.
 *
 * Rates are counted in the workers' own reporting intervals (one report = one second of a worker),
 * not in the coordinator's ticks, which are not aligned with them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InternalError } from "../../common/index.js";
import { createDriver } from "../drivers/index.js";
import { startRedisServer } from "../support/redis-server.js";
import { startStandaloneProcess } from "../support/standalone-process.js";
import { decodeHistogram, mergeHistograms, summarize, type Histogram } from "./histograms.js";
import type { ConsumerAssignment, DriverSpec, ProducerAssignment } from "./messages.js";
import { RateSearch, searchRateStart } from "./rate-search.js";
import { buildResult, windowLine, type TestResult, type WindowFigures } from "./report.js";
import { WorkerHandle } from "./workers.js";
import type { Workload } from "./workload.js";

export interface RunOptions {
  workload: Workload;
  workloadPath: string;
  driver: "sluice" | "redis";
  /** An existing Sluice controller; without it a fresh standalone is started. */
  controllerUri?: string;
  /** Lines go here (stdout by default); the progress bar goes to stderr when it is a terminal. */
  print?: (line: string) => void;
  /** Aborting ends the run early; everything it started is stopped and the promise rejects. */
  signal?: AbortSignal;
}

const tickMs = 1000;
const windowMs = 10_000;
/** Seconds of worker time one report covers (worker.ts reports once a second). */
const reportSeconds = 1;
/** Until Tier-2 exists the standalone keeps every byte in memory; give a benchmark room. */
const standaloneCacheBytes = 12 * 1024 ** 3;

/** What the workers reported in one tick (or summed over a window). */
interface Counts {
  producerReports: number;
  consumerReports: number;
  acked: number;
  errors: number;
  received: number;
  /** The producers' schedule lag in their latest report. */
  lagMs: number;
  publish: Histogram[];
  endToEnd: Histogram[];
}

const empty = (): Counts => ({ producerReports: 0, consumerReports: 0, acked: 0, errors: 0, received: 0, lagMs: 0, publish: [], endToEnd: [] });

function add(a: Counts, b: Counts): Counts {
  return {
    producerReports: a.producerReports + b.producerReports,
    consumerReports: a.consumerReports + b.consumerReports,
    acked: a.acked + b.acked,
    errors: a.errors + b.errors,
    received: a.received + b.received,
    lagMs: b.producerReports > 0 ? b.lagMs : a.lagMs,
    publish: [...a.publish, ...b.publish],
    endToEnd: [...a.endToEnd, ...b.endToEnd],
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new InternalError("the run was aborted"));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InternalError("the run was aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

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
    try {
      for (const t of topics) await setup.createTopic(t, w.partitionsPerTopic);
    } finally {
      await setup.close();
    }

    const producerCount = w.topics * w.producersPerTopic;
    const searching = w.producerRate === 0;
    const search = new RateSearch();
    const producers: ProducerAssignment[] = topics.flatMap((topic) =>
      Array.from({ length: w.producersPerTopic }, () => ({ topic, rate: (searching ? searchRateStart : w.producerRate) / producerCount })),
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
    const workers: WorkerHandle[] = [];
    cleanups.push(async () => {
      await Promise.all(workers.map((x) => x.stop()));
    });
    let consumerWorker: WorkerHandle | undefined;
    const startConsumers = async () => {
      if (consumers.length === 0) return;
      consumerWorker = await WorkerHandle.start({ ...base, producers: [], consumers });
      workers.push(consumerWorker);
    };
    // Consumers first (so they read from the current end), unless a backlog must be built first.
    if (backlogBytes === 0) await startConsumers();
    const producerWorker = await WorkerHandle.start({ ...base, producers, consumers: [] });
    workers.push(producerWorker);

    let published = 0;
    let consumed = 0;
    const subscriptions = w.topics * w.subscriptionsPerTopic;
    /** One tick: wait, collect every report, fail the run if a worker died, steer the search. */
    const tick = async (): Promise<Counts> => {
      await sleep(tickMs, options.signal);
      for (const x of workers) if (x.failure !== undefined) throw new InternalError(`a worker failed: ${x.failure}`);
      const fromProducers = producerWorker.takeReports();
      const fromConsumers = consumerWorker?.takeReports() ?? [];
      const c: Counts = {
        producerReports: fromProducers.length,
        consumerReports: fromConsumers.length,
        acked: fromProducers.reduce((n, s) => n + s.acked, 0),
        errors: fromProducers.reduce((n, s) => n + s.errors, 0),
        received: fromConsumers.reduce((n, s) => n + s.received, 0),
        lagMs: fromProducers.at(-1)?.scheduleLagMs ?? 0,
        publish: fromProducers.map((s) => decodeHistogram(s.publish)),
        endToEnd: fromConsumers.map((s) => decodeHistogram(s.endToEnd)),
      };
      published += c.acked;
      consumed += c.received;
      // A tick without a producer report says nothing new about the rate.
      if (searching && c.producerReports > 0) {
        const periodSeconds = c.producerReports * reportSeconds;
        const rate = search.next({
          publishRate: c.acked / periodSeconds,
          lagMs: c.lagMs,
          backlog: Math.max(0, published * subscriptions - consumed),
          periodSeconds,
          consuming: consumers.length > 0,
        });
        producerWorker.send({ type: "setRate", ratePerProducer: rate / producerCount });
      }
      return c;
    };

    if (backlogBytes > 0) {
      print(`building a backlog of ${w.consumerBacklogSizeGB} GB before consumers start`);
      while (published * w.messageSize < backlogBytes) await tick();
      await startConsumers();
    }

    const warmupMs = w.warmupDurationMinutes * 60_000;
    const testMs = w.testDurationMinutes * 60_000;
    if (warmupMs > 0) {
      print(`warmup ${Math.round(warmupMs / 1000)} s${searching ? " (searching the highest sustainable rate)" : ""}`);
      const warmupStart = performance.now();
      while (performance.now() - warmupStart < warmupMs) await tick();
    }
    print(`test ${Math.round(testMs / 1000)} s: ${options.driver}, ${w.name}`);
    // Reports that arrived during warmup belong to it.
    producerWorker.takeReports();
    consumerWorker?.takeReports();

    const windows: WindowFigures[] = [];
    let total = empty();
    let window = empty();
    const started = performance.now();
    let windowStart = started;
    const tty = process.stderr.isTTY;
    while (performance.now() - started < testMs) {
      window = add(window, await tick());
      const now = performance.now();
      if (tty) {
        const done = Math.min(1, (now - started) / testMs);
        process.stderr.write(`\r[${"#".repeat(Math.round(done * 30)).padEnd(30, ".")}] ${Math.round(done * 100)}% ${published.toLocaleString("en-US")} published`);
      }
      if (now - windowStart >= windowMs || now - started >= testMs) {
        const perSecond = (n: number, reports: number) => (reports === 0 ? 0 : n / (reports * reportSeconds));
        const figures: WindowFigures = {
          publishRate: perSecond(window.acked, window.producerReports),
          publishErrorRate: perSecond(window.errors, window.producerReports),
          consumeRate: perSecond(window.received, window.consumerReports),
          backlog: Math.max(0, published * subscriptions - consumed),
          publish: summarize(mergeHistograms(window.publish)),
          endToEnd: summarize(mergeHistograms(window.endToEnd)),
        };
        windows.push(figures);
        total = add(total, window);
        if (tty) process.stderr.write("\r" + " ".repeat(70) + "\r");
        print(windowLine(figures) + (searching ? ` | target ${search.rate.toLocaleString("en-US")} msg/s` : ""));
        windowStart = now;
        window = empty();
      }
    }
    const producerSeconds = total.producerReports * reportSeconds;
    const consumerSeconds = total.consumerReports * reportSeconds;
    const publishRate = producerSeconds === 0 ? 0 : total.acked / producerSeconds;
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
      summarize(mergeHistograms(total.publish)),
      summarize(mergeHistograms(total.endToEnd)),
      {
        published: total.acked,
        consumed: total.received,
        errors: total.errors,
        seconds: producerSeconds,
        publishRate,
        consumeRate: consumerSeconds === 0 ? 0 : total.received / consumerSeconds,
        mibPerSec: (publishRate * w.messageSize) / 1024 ** 2,
      },
    );
  } finally {
    for (const c of cleanups.reverse()) {
      await c().catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`));
    }
  }
}

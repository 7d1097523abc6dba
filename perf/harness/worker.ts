/**
 * A load worker: a process of its own (forked by the coordinator) that runs producers and
 * consumers through one driver and reports counts and latency histograms every second. Keeping the
 * load apart from the server's process (and from the coordinator's printing) means the harness does
 * not steal the server's event loop.
 *
 * Producers are open loop: each message has an intended send time from the RateLimiter, and both
 * publish latency (ack - intended) and end-to-end latency (receive - intended, from the timestamp in
 * the payload) are measured from it, so a stall counts against every message it delayed. With
 * rate 0 a producer sends as fast as the driver's in-flight bound (ready()) allows; the
 * coordinator's max-rate search instead sets a rate every second (`setRate`).
 */
import { InternalError, systemClock } from "../../common/index.js";
import { createDriver } from "../drivers/index.js";
import type { Driver, DriverConsumer, DriverProducer } from "./driver.js";
import { payloadSentAtMs, stampPayload, wallClockMs } from "./driver.js";
import { LatencyRecorder } from "./histograms.js";
import type { FromWorker, ProducerAssignment, ToWorker } from "./messages.js";
import { payloadPool } from "./payloads.js";
import { RateLimiter } from "./rate-limiter.js";
import type { KeyDistributor } from "./workload.js";

/** One report per second; the coordinator's rate search counts periods in these reports. */
const statsIntervalMs = 1000;
/** Messages a producer hands to the driver before yielding to the event loop. */
const burstMax = 256;
const roundRobinKeys = 1000;

function send(message: FromWorker): void {
  // The coordinator may be gone already (then there is nobody to tell).
  if (process.connected) process.send?.(message);
}

/** Reports a failure to the coordinator and ends the worker with status 1. */
function die(err: unknown): void {
  send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  clearInterval(timer);
  if (process.connected) process.disconnect();
  setTimeout(() => process.exit(1), 1000).unref();
}

const counts = { sent: 0, acked: 0, errors: 0, received: 0, receivedBytes: 0 };
const publish = new LatencyRecorder();
const endToEnd = new LatencyRecorder();
let stopping = false;

function keyFor(distributor: KeyDistributor, n: number): string | undefined {
  switch (distributor) {
    case "NO_KEY":
      return undefined;
    case "KEY_ROUND_ROBIN":
      return `key-${n % roundRobinKeys}`;
    case "RANDOM_NANO":
      return String(process.hrtime.bigint());
  }
}

const limiters: RateLimiter[] = [];

async function runProducer(producer: DriverProducer, assignment: ProducerAssignment, pool: Buffer[], keys: KeyDistributor): Promise<void> {
  const limiter = new RateLimiter(assignment.rate, systemClock);
  limiters.push(limiter);
  const size = pool[0]!.length;
  let n = 0;
  while (!stopping) {
    for (let burst = 0; burst < burstMax && !stopping; burst++) {
      // Every send waits for room: drivers keep the same bounded depth in flight.
      await producer.ready();
      const intended = limiter.next();
      const delay = limiter.delayMs(intended);
      // Early for its slot: wait for it, then send this very message (its slot is taken).
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      // A fresh buffer per message: a driver may hold it until its bytes are on the wire.
      const payload = Buffer.allocUnsafe(size);
      pool[n % pool.length]!.copy(payload);
      const intendedWallMs = performance.timeOrigin + intended;
      stampPayload(payload, intendedWallMs);
      counts.sent++;
      producer.send(keyFor(keys, n), payload).then(
        () => {
          counts.acked++;
          publish.record(wallClockMs() - intendedWallMs);
        },
        () => counts.errors++,
      );
      n++;
    }
    // Yield so acks are processed between bursts.
    await new Promise((r) => setImmediate(r));
  }
}

async function start(message: Extract<ToWorker, { type: "start" }>): Promise<() => Promise<void>> {
  const driver: Driver = await createDriver(message.driver);
  const pool = await payloadPool(message.workload, message.workloadPath);
  const consumers: DriverConsumer[] = [];
  for (const c of message.consumers) {
    consumers.push(
      await driver.createConsumer(c.topic, c.subscription, { fromStart: c.fromStart, index: c.index, count: c.count }, (payload) => {
        counts.received++;
        counts.receivedBytes += payload.length;
        endToEnd.record(wallClockMs() - payloadSentAtMs(payload));
      }),
    );
  }
  const producers: DriverProducer[] = [];
  const loops: Promise<void>[] = [];
  for (const p of message.producers) {
    const producer = await driver.createProducer(p.topic);
    producers.push(producer);
    // A producer loop that fails (its driver closed under it, say) ends the worker visibly.
    loops.push(runProducer(producer, p, pool, message.workload.keyDistributor).catch((err: unknown) => die(err)));
  }
  return async () => {
    stopping = true;
    await Promise.all(loops);
    await Promise.allSettled(producers.map((p) => p.close()));
    await Promise.allSettled(consumers.map((c) => c.close()));
    await driver.close();
  };
}

let stop: (() => Promise<void>) | undefined;
let stopped: Promise<void> | undefined;
/** Stops the load once, whoever asks first (a stop message, or the coordinator going away). */
function stopOnce(): Promise<void> {
  stopping = true;
  clearInterval(timer);
  stopped ??= (stop ?? (() => Promise.resolve()))();
  return stopped;
}

const timer = setInterval(() => {
  const scheduleLagMs = limiters.reduce((max, l) => Math.max(max, l.lagMs()), 0);
  send({ type: "stats", ...counts, scheduleLagMs, publish: publish.snapshotAndReset(), endToEnd: endToEnd.snapshotAndReset() });
  counts.sent = counts.acked = counts.errors = counts.received = counts.receivedBytes = 0;
}, statsIntervalMs);

process.on("message", (raw: ToWorker) => {
  if (raw.type === "start") {
    start(raw).then(
      (s) => {
        stop = s;
        send({ type: "ready" });
      },
      (err: unknown) => die(err),
    );
  } else if (raw.type === "setRate") {
    for (const l of limiters) l.setRate(raw.ratePerProducer);
  } else {
    stopOnce().then(
      () => {
        send({ type: "stopped" });
        if (process.connected) process.disconnect();
      },
      (err: unknown) => die(new InternalError(`worker stop failed: ${String(err)}`, { cause: err })),
    );
  }
});
process.on("disconnect", () => {
  // The coordinator went away (or is done with us): stop the load and exit.
  stopOnce().then(
    () => process.exit(process.exitCode ?? 0),
    () => process.exit(1),
  );
});

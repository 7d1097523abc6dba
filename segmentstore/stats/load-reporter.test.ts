// Proves the segment store's load reporter against a fake controller link on a ManualClock: it heartbeats at once and
// every heartbeatMs carrying the lease it was given (more often when the lease is short), keeps heartbeating through
// failures and registers afresh after LEASE_NOT_FOUND, reports every reportMs with at most loadReportSegmentsMax
// segments (the busiest by the shortest window), and does nothing more once closed.
import t from "tap";
import { LeaseNotFoundError, loadReportSegmentsMax, ManualClock, UnavailableError } from "../../common/index.js";
import type { HeartbeatRequest, HeartbeatResponse, ReportLoadRequest } from "../../proto/index.js";
import { LoadReporter, loadReportSegments, type ControllerLink } from "./load-reporter.js";
import type { SegmentLoad } from "./segment-load.js";

class FakeLink implements ControllerLink {
  heartbeats: HeartbeatRequest[] = [];
  reports: ReportLoadRequest[] = [];
  fail: Error | undefined;
  leaseMs = 30_000;
  private nextLease = 1;

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    this.heartbeats.push(req);
    if (this.fail !== undefined) return Promise.reject(this.fail);
    return Promise.resolve({ leaseId: req.leaseId === "" ? String(this.nextLease++) : req.leaseId, leaseMs: this.leaseMs });
  }

  reportLoad(req: ReportLoadRequest): Promise<void> {
    this.reports.push(req);
    return this.fail === undefined ? Promise.resolve() : Promise.reject(this.fail);
  }
}

function load(segment: string, rate: number): SegmentLoad {
  return { segment, eventsPerSec: [rate, rate], bytesPerSec: [rate * 10, rate * 10], events: 0, bytes: 0, trackedMs: 1234.5 };
}

/** Advances the clock in steps, letting each step's calls settle. */
async function advance(clock: ManualClock, ms: number, stepMs = 100): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(stepMs);
    await new Promise((r) => setImmediate(r));
  }
}

void t.test("heartbeats carry the lease, survive failures, and register afresh after LEASE_NOT_FOUND", async (t) => {
  const clock = new ManualClock();
  const link = new FakeLink();
  const r = new LoadReporter(link, { storeId: "ss-1", host: "10.0.0.1", port: 12345, heartbeatMs: 1000, reportMs: 5000 }, () => [], [1000, 5000], clock);
  t.teardown(() => r.close());
  r.start();
  await advance(clock, 1, 1);
  t.same(link.heartbeats, [{ storeId: "ss-1", host: "10.0.0.1", port: 12345, leaseId: "" }], "the first heartbeat goes at once");
  t.equal(r.lease, "1");
  await advance(clock, 3000);
  t.equal(link.heartbeats.length, 4, "then one per heartbeatMs");
  t.ok(link.heartbeats.slice(1).every((h) => h.leaseId === "1"), "each carries the lease");

  link.fail = new UnavailableError("test: controller down");
  await advance(clock, 3000);
  t.equal(link.heartbeats.length, 7, "failures are retried each interval");
  link.fail = new LeaseNotFoundError("test: lease gone");
  await advance(clock, 1000);
  link.fail = undefined;
  await advance(clock, 1000);
  t.equal(link.heartbeats.at(-1)?.leaseId, "", "after LEASE_NOT_FOUND the next heartbeat registers afresh");
  t.equal(r.lease, "2");

  // A short lease makes heartbeats more frequent: three per lease at least.
  link.leaseMs = 1500;
  await advance(clock, 1000);
  const before = link.heartbeats.length;
  await advance(clock, 5000);
  t.equal(link.heartbeats.length - before, 10, "every 500 ms for a 1500 ms lease");

  await r.close();
  const after = link.heartbeats.length;
  await advance(clock, 5000);
  t.equal(link.heartbeats.length, after, "nothing after close");
});

void t.test("reports every reportMs, the busiest segments first when there are too many", async (t) => {
  const clock = new ManualClock();
  const link = new FakeLink();
  let loads: SegmentLoad[] = [load("a", 1), load("b", 0)];
  const r = new LoadReporter(link, { storeId: "ss-1", host: "h", port: 1 }, () => loads, [1000, 5000], clock);
  t.teardown(() => r.close());
  r.start();
  await advance(clock, 4900);
  t.equal(link.reports.length, 0, "the first report waits one interval (default 5 s)");
  await advance(clock, 100);
  t.same(link.reports, [
    {
      storeId: "ss-1",
      windowsMs: [1000, 5000],
      segments: [
        { segment: "a", eventsPerSec: [1, 1], bytesPerSec: [10, 10], trackedMs: 1234 },
        { segment: "b", eventsPerSec: [0, 0], bytesPerSec: [0, 0], trackedMs: 1234 },
      ],
    },
  ]);
  t.equal(link.heartbeats.length, 3, "heartbeats every 2 s by default, from 0");

  loads = Array.from({ length: loadReportSegmentsMax + 10 }, (_, i) => load(`s${i}`, i));
  link.fail = new UnavailableError("test: controller down");
  await advance(clock, 5000);
  link.fail = undefined;
  await advance(clock, 5000);
  t.equal(link.reports.length, 3, "a failed report is retried at the next interval");
  const last = link.reports.at(-1)?.segments ?? [];
  t.equal(last.length, loadReportSegmentsMax);
  t.equal(last[0]?.segment, `s${loadReportSegmentsMax + 9}`, "busiest first");
  t.notOk(last.some((s) => s.segment === "s0"), "the quietest are left out");
  t.equal(loadReportSegments([load("x", 1)]).length, 1);
});

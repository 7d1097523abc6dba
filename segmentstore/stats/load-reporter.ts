/**
 * The segment store's side of membership: it heartbeats the controller (which keeps the store's
 * lease alive: a store whose heartbeats stop loses its containers once the lease ends), and reports
 * its segments' load for the controller's auto-scaling. The two run as independent loops, so a slow
 * report never delays a heartbeat.
 */
import {
  assert,
  LeaseNotFoundError,
  loadReportSegmentsMax,
  logger,
  systemClock,
  toSluiceError,
  type Clock,
  type TimerHandle,
} from "../../common/index.js";
import type { HeartbeatRequest, HeartbeatResponse, ReportLoadRequest, SegmentLoadReport } from "../../proto/index.js";
import type { SegmentLoad } from "./segment-load.js";

const log = logger("load-reporter");

export const heartbeatMsDefault = 2_000;
export const loadReportMsDefault = 5_000;
/** Heartbeats per lease at least, whatever heartbeatMs says: one lost heartbeat must not cost the lease. */
const heartbeatsPerLeaseMin = 3;

/**
 * How a segment store reaches the controller (any controller of the cluster: they share their state).
 * Both calls reject with the controller's typed errors, or UNAVAILABLE / TIMEOUT when no controller
 * answered; neither is retried by the link.
 */
export interface ControllerLink {
  /** Registers the store (empty leaseId) or keeps its lease alive; the controller answers an expired lease with a new one. */
  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse>;
  /** Stores the latest load of the store's segments. Raises INVALID_ARGUMENT naming a bad field. */
  reportLoad(req: ReportLoadRequest): Promise<void>;
}

export interface LoadReporterOptions {
  storeId: string;
  /** Where clients reach this store. */
  host: string;
  port: number;
  /** Default `heartbeatMsDefault`; lowered to a third of the lease the controller grants, if that is shorter. */
  heartbeatMs?: number;
  /** Default `loadReportMsDefault`. */
  reportMs?: number;
}

/** Busiest first by the shortest window's events/s, then bytes/s. */
function busiestFirst(a: SegmentLoad, b: SegmentLoad): number {
  return (b.eventsPerSec[0] ?? 0) - (a.eventsPerSec[0] ?? 0) || (b.bytesPerSec[0] ?? 0) - (a.bytesPerSec[0] ?? 0);
}

/** At most `loadReportSegmentsMax` segments, the busiest (by the shortest window) when there are more. */
export function loadReportSegments(loads: SegmentLoad[]): SegmentLoadReport[] {
  const chosen = loads.length > loadReportSegmentsMax ? [...loads].sort(busiestFirst).slice(0, loadReportSegmentsMax) : loads;
  return chosen.map((l) => ({ segment: l.segment, eventsPerSec: l.eventsPerSec, bytesPerSec: l.bytesPerSec, trackedMs: Math.floor(l.trackedMs) }));
}

/** A loop on the injected clock: `run` once per interval, never two at once; close() waits for the one running. */
class Periodic {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly run: () => Promise<number>,
  ) {}

  /** Runs after `firstDelayMs`, then `run`'s resolved delay after each run. */
  start(firstDelayMs: number): void {
    this.schedule(firstDelayMs);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.running = this.once();
    });
  }

  /** `run` never rejects (each loop logs its own failures). The interval counts from the run's start, so slow calls do not stretch it. */
  private async once(): Promise<void> {
    const startedMs = this.clock.monotonicMs();
    const intervalMs = await this.run();
    this.running = undefined;
    this.schedule(Math.max(0, intervalMs - (this.clock.monotonicMs() - startedMs)));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.running;
  }
}

export class LoadReporter {
  private readonly heartbeatMs: number;
  private readonly reportMs: number;
  private readonly heartbeats: Periodic;
  private readonly reports: Periodic;
  private leaseId = "";
  private leaseMs = 0;
  private heartbeatFailing = false;
  private reportFailing = false;
  private started = false;
  private closed = false;

  constructor(
    private readonly link: ControllerLink,
    private readonly options: LoadReporterOptions,
    private readonly stats: () => SegmentLoad[],
    private readonly windowsMs: readonly number[],
    private readonly clock: Clock = systemClock,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? heartbeatMsDefault;
    this.reportMs = options.reportMs ?? loadReportMsDefault;
    assert(Number.isInteger(this.heartbeatMs) && this.heartbeatMs >= 1, "heartbeatMs is a positive integer");
    assert(Number.isInteger(this.reportMs) && this.reportMs >= 1, "reportMs is a positive integer");
    assert(windowsMs.length >= 1, "at least one load window");
    this.heartbeats = new Periodic(clock, () => this.heartbeat());
    this.reports = new Periodic(clock, () => this.report());
  }

  /** The lease the controller granted (empty before the first heartbeat answered). */
  get lease(): string {
    return this.leaseId;
  }

  /** Heartbeats now and then every heartbeatMs; reports every reportMs, the first after one interval. */
  start(): void {
    assert(!this.started && !this.closed, "a LoadReporter starts once");
    this.started = true;
    this.heartbeats.start(0);
    // The first report waits an interval, so it usually follows the first heartbeat's registration.
    this.reports.start(this.reportMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.heartbeats.close(), this.reports.close()]);
  }

  /** One heartbeat; resolves with the delay to the next. Never rejects. */
  private async heartbeat(): Promise<number> {
    const o = this.options;
    try {
      const res = await this.link.heartbeat({ storeId: o.storeId, host: o.host, port: o.port, leaseId: this.leaseId });
      if (this.leaseId !== res.leaseId) log.info("registered with the controller", { store: o.storeId, lease: res.leaseId, leaseMs: res.leaseMs });
      this.leaseId = res.leaseId;
      this.leaseMs = res.leaseMs;
      if (this.heartbeatFailing) log.info("heartbeats reach the controller again", { store: o.storeId });
      this.heartbeatFailing = false;
    } catch (err) {
      // The controller answers an expired lease with a new one; should one say LEASE_NOT_FOUND anyway, register afresh.
      if (err instanceof LeaseNotFoundError) this.leaseId = "";
      if (!this.heartbeatFailing && !this.closed) log.warn("heartbeat to the controller failed; retrying each interval", { store: o.storeId, error: toSluiceError(err).message });
      this.heartbeatFailing = true;
    }
    return this.leaseMs > 0 ? Math.min(this.heartbeatMs, Math.floor(this.leaseMs / heartbeatsPerLeaseMin)) : this.heartbeatMs;
  }

  /** One load report; resolves with the delay to the next. Never rejects. */
  private async report(): Promise<number> {
    const o = this.options;
    try {
      const segments = loadReportSegments(this.stats());
      await this.link.reportLoad({ storeId: o.storeId, windowsMs: [...this.windowsMs], segments });
      if (this.reportFailing) log.info("load reports reach the controller again", { store: o.storeId });
      this.reportFailing = false;
    } catch (err) {
      if (!this.reportFailing && !this.closed) log.warn("load report to the controller failed; retrying each interval", { store: o.storeId, error: toSluiceError(err).message });
      this.reportFailing = true;
    }
    return this.reportMs;
  }
}

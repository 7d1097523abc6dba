/**
 * Per-segment load statistics for the controller's auto-scaling, after Pravega's SegmentAggregates:
 * moving averages of events/s and bytes/s over several windows (2, 5, 10 and 20 minutes by default).
 *
 * Formulation. For each window W a segment keeps a decayed accumulator `a`: every amount recorded at
 * time t_i contributes `amount * exp(-(now - t_i) / W)`, so `a(now) = sum_i amount_i * exp(-(now - t_i) / W)`
 * and the rate is `a / W` (W in seconds). It is kept in O(windows) per record by decaying the stored
 * value by the time elapsed since the last update and adding the new amount: `a = a * exp(-dt / W) + amount`.
 * Why this one rather than a per-sample EWMA (`r = r * (1 - alpha) + x * alpha`):
 * - Decay is by elapsed time, not by sample count, so an idle segment's rates fall toward 0 with no
 *   records at all; reads decay to now without writing anything back.
 * - `a(now)` depends only on what was recorded and when, so irregular recording intervals, split or
 *   joined records, and reads in between give exactly the result regular recording would.
 * - A steady input of X/s gives `a -> integral of X * exp(-s / W) ds = X * W`, so the rate converges to X
 *   on every window (recording every h ms, the value saws between about X(1 - h/2W) and X(1 + h/2W)
 *   around X, which is why callers record per append block, not per second).
 * - A burst of B arriving within a short time adds about B / W to each window's rate: a big step on the
 *   2-minute window, a 10 times smaller one on the 20-minute window, which is what scaling wants.
 */
import { assert, InvalidConfigError, segmentsPerStoreMax, type Clock } from "../../common/index.js";

export interface LoadWindowsConfig {
  windowsMs: readonly number[];
}

/** Pravega's 2/5/10/20 minute windows. */
export const loadWindowsMsDefault: readonly number[] = [2 * 60_000, 5 * 60_000, 10 * 60_000, 20 * 60_000];
/** Bounds on the configured windows (local to this module: only it reads them). */
export const loadWindowsCountMax = 8;
export const loadWindowMsMin = 1000;
export const loadWindowMsMax = 24 * 60 * 60 * 1000;

export interface SegmentLoad {
  segment: string;
  /** Moving averages, one per window in the configured order. */
  eventsPerSec: number[];
  bytesPerSec: number[];
  /** Totals since the segment was first recorded here (for tests and debugging). */
  events: number;
  bytes: number;
  /** How long this store has tracked the segment: a window longer than this is not yet full. */
  trackedMs: number;
}

interface Entry {
  /** Monotonic time the entry was created (first recorded or tracked). */
  createdMs: number;
  /** Monotonic time the accumulators were last brought up to date. */
  updatedMs: number;
  /** Decayed accumulators, one per window. */
  eventsAcc: Float64Array;
  bytesAcc: Float64Array;
  events: number;
  bytes: number;
}

export class SegmentLoadStats {
  private readonly windowsMs: readonly number[];
  private readonly segmentsMax: number;
  /** Kept in order of last record: the first key is the least recently recorded segment. */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    config: Partial<LoadWindowsConfig> & { segmentsMax?: number } = {},
  ) {
    const windowsMs = config.windowsMs ?? loadWindowsMsDefault;
    const windowsOk =
      windowsMs.length >= 1 &&
      windowsMs.length <= loadWindowsCountMax &&
      windowsMs.every(
        (w, i) => Number.isInteger(w) && w >= loadWindowMsMin && w <= loadWindowMsMax && (i === 0 || w > (windowsMs[i - 1] ?? 0)),
      );
    if (!windowsOk) {
      throw new InvalidConfigError(
        `windowsMs: ${JSON.stringify(windowsMs)} must be 1 to ${loadWindowsCountMax} integers in ` +
          `[${loadWindowMsMin}, ${loadWindowMsMax}], strictly increasing`,
      );
    }
    const segmentsMax = config.segmentsMax ?? segmentsPerStoreMax;
    if (!Number.isInteger(segmentsMax) || segmentsMax < 1 || segmentsMax > segmentsPerStoreMax) {
      throw new InvalidConfigError(`segmentsMax: ${segmentsMax} is not an integer in [1, ${segmentsPerStoreMax}]`);
    }
    this.windowsMs = [...windowsMs];
    this.segmentsMax = segmentsMax;
  }

  /** Records `events` events of `bytes` bytes appended to `segment` now. O(windows). */
  record(segment: string, events: number, bytes: number): void {
    assert(Number.isFinite(events) && events >= 0 && Number.isFinite(bytes) && bytes >= 0, "load amounts are non-negative");
    const nowMs = this.clock.monotonicMs();
    let entry = this.entries.get(segment);
    if (entry === undefined) {
      entry = this.newEntry(nowMs);
    } else {
      // Delete and set again so that Map order stays least recently recorded first.
      this.entries.delete(segment);
    }
    const dtMs = this.elapsedMs(entry, nowMs);
    for (let i = 0; i < this.windowsMs.length; i++) {
      const decay = Math.exp(-dtMs / (this.windowsMs[i] ?? 1));
      entry.eventsAcc[i] = (entry.eventsAcc[i] ?? 0) * decay + events;
      entry.bytesAcc[i] = (entry.bytesAcc[i] ?? 0) * decay + bytes;
    }
    entry.updatedMs = nowMs;
    entry.events += events;
    entry.bytes += bytes;
    this.entries.set(segment, entry);
    assert(this.entries.size <= this.segmentsMax, "tracked segments within segmentsMax");
  }

  /**
   * Starts tracking `segment` with zero rates if it is not tracked yet (a segment just created, or
   * found in a container taken over), so it is reported, and can be found cold, before any append.
   * Tracking a segment already tracked changes nothing, not even its place in eviction order.
   */
  track(segment: string): void {
    if (this.entries.has(segment)) return;
    this.entries.set(segment, this.newEntry(this.clock.monotonicMs()));
    assert(this.entries.size <= this.segmentsMax, "tracked segments within segmentsMax");
  }

  /** A zeroed entry, evicting the least recently recorded segment first when at the bound. */
  private newEntry(nowMs: number): Entry {
    if (this.entries.size >= this.segmentsMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    const n = this.windowsMs.length;
    return { createdMs: nowMs, updatedMs: nowMs, eventsAcc: new Float64Array(n), bytesAcc: new Float64Array(n), events: 0, bytes: 0 };
  }

  /** Forgets a segment (deleted or merged away, or its container moved). */
  remove(segment: string): void {
    this.entries.delete(segment);
  }

  /** The current rates of one segment (decayed to now), or undefined if never recorded. */
  get(segment: string): SegmentLoad | undefined {
    const entry = this.entries.get(segment);
    return entry === undefined ? undefined : this.load(segment, entry, this.clock.monotonicMs());
  }

  /** Every tracked segment's rates, decayed to now. This is the function the controller's scaling calls. */
  snapshot(): SegmentLoad[] {
    const nowMs = this.clock.monotonicMs();
    const loads: SegmentLoad[] = [];
    for (const [segment, entry] of this.entries) loads.push(this.load(segment, entry, nowMs));
    return loads;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Rates decayed to `nowMs`, computed without changing the entry (its accumulators stay exact). */
  private load(segment: string, entry: Entry, nowMs: number): SegmentLoad {
    const dtMs = this.elapsedMs(entry, nowMs);
    const eventsPerSec: number[] = [];
    const bytesPerSec: number[] = [];
    for (let i = 0; i < this.windowsMs.length; i++) {
      const windowMs = this.windowsMs[i] ?? 1;
      const scale = Math.exp(-dtMs / windowMs) / (windowMs / 1000);
      eventsPerSec.push((entry.eventsAcc[i] ?? 0) * scale);
      bytesPerSec.push((entry.bytesAcc[i] ?? 0) * scale);
    }
    return { segment, eventsPerSec, bytesPerSec, events: entry.events, bytes: entry.bytes, trackedMs: Math.max(0, nowMs - entry.createdMs) };
  }

  /**
   * A monotonic clock never goes back; should one anyway (a misbehaving injected clock), the stats
   * treat it as no time passing rather than growing the rates, since they only advise scaling.
   */
  private elapsedMs(entry: Entry, nowMs: number): number {
    return Math.max(0, nowMs - entry.updatedMs);
  }
}

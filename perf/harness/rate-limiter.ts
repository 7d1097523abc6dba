/**
 * An open-loop schedule of operations, after OpenMessaging Benchmark's UniformRateLimiter.
 *
 * The n-th operation is due at `start + n / rate`, whatever happened to the ones before it. A
 * closed-loop sender that waits for the system and then measures from "now" hides every stall: the
 * operations that should have been sent during it are never counted as late (coordinated omission).
 * Here the schedule never moves back to "now"; a caller that fell behind gets intended times in the
 * past, sends without waiting, and measures latency from the intended time, so a stall shows up in
 * the latency of every operation it delayed.
 */
import { InvalidConfigError, type Clock } from "../../common/index.js";
import { producerRateMax } from "./limits.js";

const msPerSecond = 1000;

export class RateLimiter {
  private opsPerSec: number;
  private startMs: number;
  /** Operations handed out since the schedule (re)started. */
  private opIndex = 0;

  /**
   * The schedule starts at construction, so make the limiter when the load starts. `opsPerSec` 0
   * means unlimited: every operation is due at once.
   */
  constructor(
    opsPerSec: number,
    private readonly clock: Clock,
  ) {
    this.opsPerSec = validRate(opsPerSec);
    this.startMs = clock.monotonicMs();
  }

  get rate(): number {
    return this.opsPerSec;
  }

  /**
   * The intended send time (monotonic ms) of the next operation. At a fixed rate it is on the
   * schedule even when that is in the past; with rate 0 it is now.
   */
  next(): number {
    if (this.opsPerSec === 0) return this.clock.monotonicMs();
    const index = this.opIndex++;
    // Multiplied from the start rather than summed interval by interval, so rounding never accumulates.
    return this.startMs + (index * msPerSecond) / this.opsPerSec;
  }

  /** How long to wait before an operation intended at `intendedMs`; 0 when it is already late. */
  delayMs(intendedMs: number): number {
    return Math.max(0, intendedMs - this.clock.monotonicMs());
  }

  /**
   * Changes the rate. Operations already due stay due: the new schedule begins at the next
   * operation's intended time under the old one (which may be in the past), so a rate change
   * never forgives a backlog of late sends (that would hide a stall again). From unlimited, the
   * schedule begins now.
   */
  setRate(opsPerSec: number): void {
    const rate = validRate(opsPerSec);
    this.startMs = this.opsPerSec === 0 ? this.clock.monotonicMs() : this.nextIntendedMs();
    this.opsPerSec = rate;
    this.opIndex = 0;
  }

  /** How far the caller is behind its schedule: now minus the next operation's intended time, or 0. */
  lagMs(): number {
    if (this.opsPerSec === 0) return 0;
    return Math.max(0, this.clock.monotonicMs() - this.nextIntendedMs());
  }

  private nextIntendedMs(): number {
    return this.startMs + (this.opIndex * msPerSecond) / this.opsPerSec;
  }
}

function validRate(opsPerSec: number): number {
  if (!(Number.isFinite(opsPerSec) && opsPerSec >= 0 && opsPerSec <= producerRateMax)) {
    throw new InvalidConfigError(`rate: ${opsPerSec} ops/s is not a number in [0, ${producerRateMax}] (0 means unlimited)`);
  }
  return opsPerSec;
}

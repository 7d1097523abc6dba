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

  /** Changes the rate; the schedule starts again from now, with the next operation due at once. */
  setRate(opsPerSec: number): void {
    this.opsPerSec = validRate(opsPerSec);
    this.startMs = this.clock.monotonicMs();
    this.opIndex = 0;
  }
}

function validRate(opsPerSec: number): number {
  if (!(Number.isFinite(opsPerSec) && opsPerSec >= 0 && opsPerSec <= producerRateMax)) {
    throw new InvalidConfigError(`rate: ${opsPerSec} ops/s is not a number in [0, ${producerRateMax}] (0 means unlimited)`);
  }
  return opsPerSec;
}

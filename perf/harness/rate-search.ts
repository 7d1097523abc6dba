/**
 * The search for the highest sustainable rate when a workload says `producerRate: 0`, after
 * OpenMessaging Benchmark's max-rate mode: start at a modest rate and adjust it every period from
 * what the system did. The publish side is judged by the producers' schedule lag (how far behind
 * their intended send times they are, which does not depend on when reports arrive), the consume
 * side by the backlog. Keeping up: step up. Falling further behind: step down to just under what
 * was achieved. Behind but catching up: hold. Like TCP's slow start, steps up are large (x1.5)
 * until the first shortfall, then small (x1.05), so a short run reaches the edge in seconds and
 * hovers there.
 */
import { producerRateMax } from "./limits.js";

export const searchRateStart = 10_000;
export const searchRateMin = 100;
/** Step up by these factors while the system keeps up: before the first shortfall, and after. */
const increaseFast = 1.5;
const increaseSlow = 1.05;
/** Fall back to this share of the achieved rate when it did not keep up. */
const backoff = 0.9;
/** The producers "kept up" while they are at most this far behind their schedule. */
const lagMsKeptUp = 200;
/**
 * Consumers "fell behind" when the backlog exceeds this many periods of messages at the target
 * rate. Counts reach the coordinator once a second from each worker, so a backlog of about one
 * period is only reporting lag.
 */
const backlogPeriodsMax = 2;

export interface PeriodObservation {
  /** Messages per second the producers had acked in the period. */
  publishRate: number;
  /** How far behind their intended send times the producers are at the end of the period. */
  lagMs: number;
  /** Backlog at the end of the period (published x subscriptions - consumed), in messages. */
  backlog: number;
  periodSeconds: number;
  /** Whether anyone consumes; without consumers the backlog says nothing. */
  consuming: boolean;
}

export class RateSearch {
  private current = searchRateStart;
  private slowStart = true;
  private lastLagMs = 0;

  /** The target rate (messages/s over all producers) now. */
  get rate(): number {
    return this.current;
  }

  /** Takes one period's observation and returns the target rate for the next period. */
  next(seen: PeriodObservation): number {
    const keptUp = seen.lagMs <= lagMsKeptUp;
    const fallingBehind = !keptUp && seen.lagMs > this.lastLagMs;
    const backlogGrew = seen.consuming && seen.backlog > this.current * seen.periodSeconds * backlogPeriodsMax;
    this.lastLagMs = seen.lagMs;
    let next: number;
    if (keptUp && !backlogGrew) {
      next = this.current * (this.slowStart ? increaseFast : increaseSlow);
    } else if (fallingBehind || backlogGrew) {
      this.slowStart = false;
      next = Math.min(this.current, seen.publishRate) * backoff;
    } else {
      // Behind, but the lag shrinks: the system is catching up at this rate.
      next = this.current;
    }
    this.current = Math.round(Math.min(producerRateMax, Math.max(searchRateMin, next)));
    return this.current;
  }
}

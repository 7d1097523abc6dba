/**
 * Time comes in through a Clock so that leases, timeouts and rate windows can be tested without
 * sleeping. Production code takes a Clock argument; tests pass a ManualClock.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch (for timestamps written to disk). */
  nowMs(): number;
  /** Monotonic milliseconds (for deadlines and durations). */
  monotonicMs(): number;
  /** Runs `fn` once after `delayMs`; the handle cancels it. Timers never keep the process alive. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  private timeMs: number;
  private nextId = 0;
  private readonly timers = new Map<number, { dueMs: number; fn: () => void }>();

  constructor(startMs = 1_700_000_000_000) {
    this.timeMs = startMs;
  }

  nowMs(): number {
    return this.timeMs;
  }

  monotonicMs(): number {
    return this.timeMs;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { dueMs: this.timeMs + Math.max(0, delayMs), fn });
    return { cancel: () => this.timers.delete(id) };
  }

  advance(deltaMs: number): void {
    const endMs = this.timeMs + deltaMs;
    for (;;) {
      let dueId = -1;
      let dueMs = Infinity;
      for (const [id, t] of this.timers) {
        if (t.dueMs <= endMs && t.dueMs < dueMs) {
          dueId = id;
          dueMs = t.dueMs;
        }
      }
      const timer = this.timers.get(dueId);
      if (timer === undefined) break;
      this.timers.delete(dueId);
      this.timeMs = Math.max(this.timeMs, timer.dueMs);
      timer.fn();
    }
    this.timeMs = endMs;
  }
}

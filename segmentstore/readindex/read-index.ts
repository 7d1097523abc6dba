/**
 * Reads that wait at the tail of a segment (long poll). A segment's bytes are in segment-data.ts
 * (held in memory until Tier-2 has them) and chunk-cache.ts (what was read back from Tier-2).
 *
 * Only durable bytes are ever added (the container applies an append after Tier-1 acked it), so a
 * read can never see bytes that could be lost.
 */
import { OverloadedError, tailWaitersMax } from "../../common/index.js";
import type { Clock, TimerHandle } from "../../common/index.js";

interface Waiter {
  timer: TimerHandle;
  wake(): void;
}

/** Tail readers of many segments, bounded in number, each with a deadline. */
export class TailWaiters {
  private readonly waiting = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(private readonly clock: Clock) {}

  /**
   * Resolves when `notify(segment)` is called or after `waitMs`, whichever is first. Raises
   * OVERLOADED when `tailWaitersMax` reads are already waiting.
   */
  wait(segment: string, waitMs: number): Promise<void> {
    if (this.count >= tailWaitersMax) {
      return Promise.reject(new OverloadedError(`more than ${tailWaitersMax} reads waiting at the tail`));
    }
    return new Promise((resolve) => {
      let set = this.waiting.get(segment);
      if (set === undefined) {
        set = new Set();
        this.waiting.set(segment, set);
      }
      const waiters = set;
      const waiter: Waiter = {
        timer: this.clock.setTimer(waitMs, () => done()),
        wake: () => done(),
      };
      const done = () => {
        if (!waiters.delete(waiter)) return;
        this.count--;
        waiter.timer.cancel();
        if (waiters.size === 0 && this.waiting.get(segment) === waiters) this.waiting.delete(segment);
        resolve();
      };
      waiters.add(waiter);
      this.count++;
    });
  }

  /** Wakes every read waiting on `segment`. */
  notify(segment: string): void {
    const set = this.waiting.get(segment);
    if (set === undefined) return;
    for (const w of [...set]) w.wake();
  }

  /** Wakes everything (at shutdown). */
  notifyAll(): void {
    for (const segment of [...this.waiting.keys()]) this.notify(segment);
  }
}

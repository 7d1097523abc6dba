/**
 * A background loop that runs one pass every `intervalMs` (the house's start()/awaited close()
 * loop). Passes never overlap: the timer is armed again only when a pass has finished, and a
 * `tick()` called while a pass runs waits for it and then makes a pass of its own. The pass itself
 * must not reject (it logs its own failures); `closed` lets a long pass stop early.
 */
import { assert } from "./assert.js";
import type { Clock, TimerHandle } from "./clock.js";

export class PeriodicPass {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    readonly intervalMs: number,
    private readonly pass: () => Promise<void>,
  ) {}

  /** True once close() was called: a pass in progress should stop at its next step. */
  get closed(): boolean {
    return this.stopped;
  }

  /** Starts the passes, the first one `intervalMs` from now. */
  start(): void {
    assert(!this.started, "a periodic pass starts once");
    this.started = true;
    this.arm();
  }

  /** One pass (after the one in progress, if any); none after close(). */
  async tick(): Promise<void> {
    while (this.running !== undefined) await this.running;
    if (this.stopped) return;
    const pass = this.pass();
    this.running = pass;
    try {
      await pass;
    } finally {
      if (this.running === pass) this.running = undefined;
    }
  }

  /** Stops the loop; resolves once a pass in progress has finished. No pass starts afterwards. */
  async close(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    while (this.running !== undefined) await this.running;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.intervalMs, () => {
      this.timer = undefined;
      void this.tick().then(() => this.arm());
    });
  }
}

/**
 * The leader's sweep of unfinished work: scale, commit, abort, seal, delete and truncate workflows
 * that a controller started and did not finish (it died, or lost its metadata connection), and
 * transactions whose lease ran out. Every step of a workflow is idempotent and its end a
 * compare-and-set, so finishing one that its starter is still running does no harm; still, only
 * workflows older than `staleMs` are taken, except on the first pass after winning the lead, when
 * the previous leader is known to be gone or stepping down and everything pending is taken.
 */
import { logger, toSluiceError, type Clock, type TimerHandle } from "../common/index.js";
import type { Leadership } from "./control-ops.js";

const log = logger("controller");

export interface SweepTarget {
  resumeWorkflows(olderThanMs: number): Promise<void>;
  expireTransactions(): Promise<void>;
}

export interface SweeperOptions {
  /** Time between passes. */
  intervalMs: number;
  /** Age past which another controller's unfinished workflow is taken over. */
  staleMs: number;
}

export class Sweeper {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private wasLeader = false;
  private closed = false;

  constructor(
    private readonly target: SweepTarget,
    private readonly leadership: Leadership,
    private readonly clock: Clock,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    this.schedule();
  }

  /** One pass (tests call it directly). */
  async tick(): Promise<void> {
    const leader = this.leadership.isLeader();
    const firstAsLeader = leader && !this.wasLeader;
    this.wasLeader = leader;
    if (!leader) return;
    try {
      await this.target.resumeWorkflows(firstAsLeader ? 0 : this.options.staleMs);
    } catch (err) {
      log.warn("could not finish pending workflows; trying again next pass", { error: toSluiceError(err).message });
    }
    try {
      await this.target.expireTransactions();
    } catch (err) {
      log.warn("could not expire transactions; trying again next pass", { error: toSluiceError(err).message });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.running;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(this.options.intervalMs, () => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    });
  }
}

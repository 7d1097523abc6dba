/**
 * The leader's sweep of unfinished work: scale, commit, abort, seal, delete and truncate workflows
 * that a controller started and did not finish (it died, or lost its metadata connection), and
 * transactions whose lease ran out. Every step of a workflow is idempotent and its end a
 * compare-and-set, so finishing one that its starter is still running does no harm; still, only
 * workflows older than `staleMs` are taken, except on the first pass after winning the lead, when
 * the previous leader is known to be gone or stepping down and everything pending is taken.
 */
import { logger, PeriodicPass, toSluiceError, type Clock } from "../common/index.js";
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
  private readonly loop: PeriodicPass;
  private wasLeader = false;

  constructor(
    private readonly target: SweepTarget,
    private readonly leadership: Leadership,
    clock: Clock,
    private readonly options: SweeperOptions,
  ) {
    this.loop = new PeriodicPass(clock, options.intervalMs, () => this.pass());
  }

  start(): void {
    this.loop.start();
  }

  /** One pass (tests call it directly). */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  close(): Promise<void> {
    return this.loop.close();
  }

  private async pass(): Promise<void> {
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
}

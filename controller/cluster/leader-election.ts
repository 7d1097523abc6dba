/**
 * Controller leader election over the MetadataStore. Every controller campaigns; the one whose
 * compare-and-set creates `controller/leader` = {id, since} (attached to a lease of its own) leads,
 * and keeps its lease alive every leaseMs/3. The others poll the key (and watch it, so a hand-over
 * is prompt) and campaign again once it is gone: when the leader closes (it revokes its lease) or
 * its lease expires.
 *
 * Safety: a leader that cannot renew its lease steps down (isLeader false, onChange(false)) once
 * `leaseMs - margin` has passed since the last keepAlive that succeeded was *sent*. The store
 * renews a lease for a full TTL from when it receives the keepAlive, which is after it was sent, so
 * the lease cannot have expired (and no other controller can have taken the key) before this
 * controller stopped considering itself leader, short of the two clocks running at rates that
 * differ by more than the margin.
 */
import {
  assert,
  ConditionalCheckFailedError,
  LeaseNotFoundError,
  logger,
  systemClock,
  toSluiceError,
  type Clock,
  type TimerHandle,
} from "../../common/index.js";
import type { LeaseId, MetadataStore, Watch } from "../store/index.js";
import type { Leadership } from "../control-ops.js";

const log = logger("leader-election");

export const leaderKey = "controller/leader";
/** Keep-alives (and polls by followers) per lease TTL. */
const renewalsPerLease = 3;
/**
 * The part of the lease a leader gives up as a safety margin: it steps down after
 * `leaseMs * (1 - leaderStepDownMarginFraction)` without a successful keepAlive.
 */
const leaderStepDownMarginFraction = 0.2;
/** Shortest and longest leader lease (the store counts lease TTLs in whole seconds). */
export const leaderLeaseMsMin = 1_000;
export const leaderLeaseMsMax = 5 * 60_000;
/** A leader record's fields are bounded so a corrupt or hostile record is not logged whole. */
const leaderRecordLogChars = 200;

export interface LeaderElectionOptions {
  /** TTL of the leader lease: how long the cluster may go without a leader when one dies. */
  leaseMs: number;
}

/** The value of `controller/leader`. */
export interface LeaderRecord {
  id: string;
  /** When this leader was elected (wall clock, ms). */
  since: number;
}

/** The current leader, or undefined when there is none (or the record does not parse). */
export async function readLeader(store: MetadataStore): Promise<LeaderRecord | undefined> {
  const kv = await store.get(leaderKey);
  return kv === undefined ? undefined : parseLeader(kv.value);
}

function parseLeader(value: Buffer): LeaderRecord | undefined {
  try {
    const v = JSON.parse(value.toString("utf8")) as unknown;
    if (typeof v !== "object" || v === null) return undefined;
    const { id, since } = v as { id?: unknown; since?: unknown };
    return typeof id === "string" && typeof since === "number" ? { id, since } : undefined;
  } catch (err) {
    // The record is only advisory (who leads is decided by the key's lease), so it is reported, not fatal.
    log.warn("the leader record does not parse", { value: value.toString("utf8").slice(0, leaderRecordLogChars), error: toSluiceError(err).message });
    return undefined;
  }
}

export class LeaderElection implements Leadership {
  private readonly leaseMs: number;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private leader = false;
  private lease: LeaseId | undefined;
  /** Monotonic time the last successful grant or keepAlive of `lease` was sent. */
  private renewedAtMs = 0;
  private stepDownTimer: TimerHandle | undefined;
  private tickTimer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  /** A tick was asked for while one ran (the watch saw the key change): run another at once. */
  private again = false;
  private watch: Watch | undefined;
  /** Revokes started in the background (after a step-down); close() waits for them. */
  private readonly revoking = new Set<Promise<void>>();
  private started = false;
  private closed = false;

  constructor(
    private readonly store: MetadataStore,
    readonly id: string,
    options: LeaderElectionOptions,
    private readonly clock: Clock = systemClock,
  ) {
    assert(Number.isInteger(options.leaseMs) && options.leaseMs >= leaderLeaseMsMin && options.leaseMs <= leaderLeaseMsMax, `leaseMs in [${leaderLeaseMsMin}, ${leaderLeaseMsMax}]`);
    assert(id.length > 0, "a controller id is not empty");
    this.leaseMs = options.leaseMs;
  }

  /**
   * True while this controller holds the leader key under a lease it renewed recently enough. The
   * time is checked here too, not only by the step-down timer, since a busy event loop runs timers late.
   */
  isLeader(): boolean {
    return this.leader && this.clock.monotonicMs() - this.renewedAtMs < this.stepDownAfterMs();
  }

  private stepDownAfterMs(): number {
    return this.leaseMs * (1 - leaderStepDownMarginFraction);
  }

  /** Calls `fn` on every change of isLeader(); returns the function that stops the calls. */
  onChange(fn: (leader: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Makes the first campaign (so a lone controller leads when this resolves), then campaigns in the background. Never rejects. */
  async start(): Promise<void> {
    assert(!this.started, "a LeaderElection starts once");
    this.started = true;
    this.kick();
    await this.running;
  }

  /** Stops campaigning; a leader revokes its lease, so another controller can take over at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tickTimer?.cancel();
    await this.running;
    await Promise.all([...this.revoking]);
    await this.closeWatch();
    this.setLeader(false, "closing");
    const lease = this.lease;
    this.lease = undefined;
    if (lease !== undefined) {
      try {
        await this.store.revokeLease(lease);
      } catch (err) {
        // The lease then expires on its own, and another controller takes over after it.
        log.warn("could not revoke the leader lease; it will expire", { id: this.id, error: toSluiceError(err).message });
      }
    }
  }

  /** Runs a tick now, or right after the one running. */
  private kick(): void {
    if (this.closed) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.tick();
      } catch (err) {
        // Every failure is retried at the next tick; leadership is guarded by the step-down timer.
        log.warn("leader election step failed; retrying", { id: this.id, leader: this.leader, error: toSluiceError(err).message });
      }
    } while (this.again && !this.closed);
    this.running = undefined;
    if (!this.closed) this.tickTimer = this.clock.setTimer(Math.floor(this.leaseMs / renewalsPerLease), () => this.kick());
  }

  private async tick(): Promise<void> {
    if (this.lease !== undefined) {
      await this.renew(this.lease);
      return;
    }
    try {
      await this.ensureWatch();
    } catch (err) {
      // Polling alone still finds the key gone, only later.
      log.debug("cannot watch the leader key; polling", { id: this.id, error: toSluiceError(err).message });
    }
    if (this.closed) return;
    const current = await this.store.get(leaderKey);
    if (current !== undefined) return;
    await this.campaign();
  }

  /** Tries to create the leader key under a new lease. */
  private async campaign(): Promise<void> {
    const sentAtMs = this.clock.monotonicMs();
    const lease = await this.store.grantLease(this.leaseMs);
    const record: LeaderRecord = { id: this.id, since: this.clock.nowMs() };
    try {
      await this.store.compareAndSet(leaderKey, 0, Buffer.from(JSON.stringify(record), "utf8"), { lease });
    } catch (err) {
      await this.revokeQuietly(lease);
      // Another controller won this round.
      if (err instanceof ConditionalCheckFailedError) return;
      throw err;
    }
    if (this.closed) {
      await this.revokeQuietly(lease);
      return;
    }
    this.lease = lease;
    this.renewed(sentAtMs);
    await this.closeWatch();
    this.setLeader(true, "elected");
  }

  /** Keeps the leader lease alive and checks the key is still this controller's. */
  private async renew(lease: LeaseId): Promise<void> {
    const sentAtMs = this.clock.monotonicMs();
    try {
      await this.store.keepAlive(lease);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      this.lostLease(lease, "the leader lease expired");
      return;
    }
    if (this.lease !== lease) return;
    this.renewed(sentAtMs);
    const current = await this.store.get(leaderKey);
    if (this.lease === lease && current?.lease !== lease) {
      // Someone deleted or replaced the key (an operator): the lease no longer makes this controller leader.
      this.lostLease(lease, "the leader key is no longer this controller's");
      await this.revokeQuietly(lease);
    }
  }

  private renewed(sentAtMs: number): void {
    this.renewedAtMs = sentAtMs;
    this.stepDownTimer?.cancel();
    const dueMs = sentAtMs + this.stepDownAfterMs() - this.clock.monotonicMs();
    this.stepDownTimer = this.clock.setTimer(Math.max(0, dueMs), () => this.checkRenewal());
  }

  /** Fires when the lease may be about to expire without a renewal: step down before it does. */
  private checkRenewal(): void {
    const lease = this.lease;
    if (lease === undefined || this.closed) return;
    const sinceMs = this.clock.monotonicMs() - this.renewedAtMs;
    log.warn("leader lease not renewed in time; stepping down", { id: this.id, sinceMs: Math.round(sinceMs), leaseMs: this.leaseMs });
    this.lostLease(lease, "lease not renewed in time");
    // The lease may still be alive at the store: revoke it so a new leader need not wait for it.
    // It campaigns again at its next poll, not at once, so a healthier controller (that saw the key go) wins first.
    const revoke = this.revokeQuietly(lease).finally(() => this.revoking.delete(revoke));
    this.revoking.add(revoke);
  }

  private lostLease(lease: LeaseId, reason: string): void {
    if (this.lease !== lease) return;
    this.lease = undefined;
    this.stepDownTimer?.cancel();
    this.stepDownTimer = undefined;
    this.setLeader(false, reason);
  }

  private async revokeQuietly(lease: LeaseId): Promise<void> {
    try {
      await this.store.revokeLease(lease);
    } catch (err) {
      // An unrevoked lease expires by itself within its TTL.
      log.debug("could not revoke a lease; it will expire", { lease, error: toSluiceError(err).message });
    }
  }

  private setLeader(leader: boolean, reason: string): void {
    if (this.leader === leader) return;
    this.leader = leader;
    if (!leader) {
      this.stepDownTimer?.cancel();
      this.stepDownTimer = undefined;
    }
    log.info(leader ? "this controller is the leader" : "this controller is no longer the leader", { id: this.id, reason });
    for (const fn of [...this.listeners]) {
      try {
        fn(leader);
      } catch (err) {
        log.error("a leadership listener failed", { id: this.id, error: toSluiceError(err).message });
      }
    }
  }

  /** Followers watch the leader key, so a hand-over does not wait for the next poll. */
  private async ensureWatch(): Promise<void> {
    if (this.watch !== undefined) return;
    const revision = await this.store.revision();
    const watch = await this.store.watch(leaderKey, revision + 1, {
      onEvents: (events) => {
        if (events.some((e) => e.key === leaderKey && e.type === "delete")) this.kick();
      },
      onError: (err) => {
        // Polling carries on; the next tick opens a new watch.
        log.debug("leader key watch ended", { id: this.id, error: err.message });
        if (this.watch === watch) this.watch = undefined;
      },
    });
    if (this.closed || this.lease !== undefined) {
      await watch.close();
      return;
    }
    this.watch = watch;
  }

  private async closeWatch(): Promise<void> {
    const watch = this.watch;
    this.watch = undefined;
    if (watch === undefined) return;
    try {
      await watch.close();
    } catch (err) {
      log.debug("closing the leader key watch failed", { id: this.id, error: toSluiceError(err).message });
    }
  }
}

/**
 * The liveness loop of one ReaderGroup object (the rules are in group-liveness.ts). Every
 * heartbeatTickMs it renews the leases of its own readers that are due (a third of their lease
 * since the last renewal; one state write for all of them, their positions recorded with it), and
 * declares offline every other reader it has seen silent for longer than its lease (one
 * conditional write). It notes every beat it sees as the state changes. So a group object writes
 * at most two records per tick for liveness, and nothing while its readers record positions
 * anyway (a position record is a renewal). A group object with no reader open does not act: only
 * readers take over segments, so only they declare others offline.
 */
import { logger, toSluiceError, type Clock, type TimerHandle } from "../../common/index.js";
import { BeatWatch, expire, renew } from "./group-liveness.js";
import type { GroupState } from "./group-state.js";
import type { StateSynchronizer } from "./state-synchronizer.js";

const log = logger("reader-group");

/** How often the loop looks at leases: an expiry is seen at most this late (plus a round trip). */
export const heartbeatTickMs = 500;
/**
 * Longest quiet spell of the state's store that still counts as being in touch: the synchronizer's
 * long poll (5 s) answers at least this often while the store serves. After a longer one every
 * silence starts again, so a store outage (when no reader could renew) expires nobody; a lease
 * shorter than this can still run out across a shorter outage.
 */
export const contactGapMsMax = 8_000;

/** What the loop needs of a reader (an EventReader). */
export interface LeaseHolder {
  readonly id: string;
  readonly incarnation: string;
  readonly timeoutMs: number;
  renewalDue(nowMs: number): boolean;
  positionsIn(s: GroupState): Record<string, number>;
  renewed(sentMs: number): void;
}

export class GroupHeartbeat {
  private readonly watch = new BeatWatch();
  private readonly unsubscribe: () => void;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** The state's store stopped answering for longer than contactGapMsMax; the watch restarts once it answers again. */
  private outOfTouch = false;

  constructor(
    private readonly name: string,
    private readonly sync: StateSynchronizer<GroupState>,
    private readonly clock: Clock,
    /** The readers open on this group object. */
    private readonly holders: () => LeaseHolder[],
  ) {
    this.unsubscribe = sync.onChange(() => this.observe());
    this.observe();
    this.schedule();
  }

  /** Stops the loop; waits for a tick under way. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.unsubscribe();
    await this.running;
  }

  private observe(): void {
    // A failed synchronizer has no state; the readers and the group's calls report its failure.
    if (this.sync.failed !== undefined) return;
    this.watch.observe(this.sync.state, this.clock.monotonicMs());
  }

  /** Every heartbeatTickMs: notes whether the store is answering (also while a tick waits on it), and starts a tick unless one is under way. */
  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(heartbeatTickMs, () => {
      this.sampleContact();
      if (this.running === undefined) {
        this.running = this.tick()
          .catch((err: unknown) => log.warn("reader liveness tick failed", { group: this.name, error: toSluiceError(err) }))
          .finally(() => (this.running = undefined));
      }
      this.schedule();
    });
  }

  private sampleContact(): void {
    if (this.clock.monotonicMs() - this.sync.lastContactMs > contactGapMsMax) this.outOfTouch = true;
  }

  private async tick(): Promise<void> {
    const holders = this.holders();
    if (holders.length === 0 || this.sync.failed !== undefined || this.closed) return;
    const sentMs = this.clock.monotonicMs();
    const due = holders.filter((h) => h.renewalDue(sentMs));
    if (due.length > 0) {
      try {
        const renewed = await this.sync.update((s) => {
          let next = s;
          const done: LeaseHolder[] = [];
          for (const h of due) {
            const after = renew(next, h.id, h.incarnation, h.positionsIn(next));
            if (after !== next) done.push(h);
            next = after;
          }
          return next === s ? { result: done } : { state: next, result: done };
        });
        for (const h of renewed) h.renewed(sentMs);
      } catch (err) {
        // Tried again next tick; a reader whose lease lapses renews itself before its next event.
        log.warn("could not renew reader leases", { group: this.name, readers: due.map((h) => h.id), error: toSluiceError(err) });
      }
    }
    if (this.closed || this.sync.failed !== undefined) return;
    const nowMs = this.clock.monotonicMs();
    this.sampleContact();
    if (this.outOfTouch) {
      if (nowMs - this.sync.lastContactMs > contactGapMsMax) return;
      this.outOfTouch = false;
      this.watch.restart(nowMs);
      log.info("back in touch with the reader group's state: silences start again", { group: this.name });
      return;
    }
    const mine = new Map(holders.map((h) => [h.id, h.incarnation]));
    const silent = this.watch.silent(this.sync.state, nowMs, (x) => mine.get(x.reader) === x.incarnation);
    if (silent.length === 0) return;
    try {
      const gone = await this.sync.update((s) => {
        let next = s;
        const out: typeof silent = [];
        for (const x of silent) {
          const after = expire(next, x.reader, x.incarnation, x.beat);
          if (after !== next) out.push(x);
          next = after;
        }
        return next === s ? { result: out } : { state: next, result: out };
      });
      for (const x of gone) log.warn("declared a silent reader offline: its lease ran out; its segments go back to the group from its recorded positions", { group: this.name, reader: x.reader, timeoutMs: x.timeoutMs });
    } catch (err) {
      log.warn("could not declare silent readers offline", { group: this.name, readers: silent.map((x) => x.reader), error: toSluiceError(err) });
    }
  }
}

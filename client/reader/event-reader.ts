/**
 * A reader of a reader group. It holds some of the group's segments (its fair share, taken and
 * given back through the group's state) and returns their events; per segment in order, and per
 * routing key in order across scaling because a successor is read only after all its predecessors.
 * Checkpoints and the end of the stream are returned in band, among the events.
 *
 * A reader's position in a segment is the offset after the last event readNext RETURNED; events
 * read ahead but not returned are dropped when the segment is given back (release, close, reset),
 * and the next holder reads them from that position: nothing is lost or returned twice while
 * readers close cleanly. The positions are recorded in the group's state every second while they
 * move, idleRecordMs after the reader runs out of events, with every lease renewal (a third of the
 * lease, also while the application does not call readNext), and on release, close and checkpoint.
 *
 * A reader that dies is declared offline by another reader once its liveness lease runs out
 * (group-liveness.ts; or by ReaderGroup.readerOffline), or replaced by a new reader with the same
 * id; either way its segments are read again from its last recorded positions (events it returned
 * after that are returned again: at least once, never skipped). A new reader with the same id
 * fences the older one (a new incarnation): the older raises CLOSED from its next readNext on once
 * it sees the newer's join (within one round trip of the state's tail while it is connected), and
 * it returns no event later than its lease after its last renewal without renewing first, which
 * then fails CLOSED (a paused or cut-off reader coming back returns nothing of its old segments).
 *
 * One readNext at a time per reader. Memory: per segment held, one read and one read-ahead
 * (SegmentReader, 1 MiB each by default).
 */
import { randomBytes } from "node:crypto";
import { ClosedError, InvalidArgumentError, logger, toSluiceError } from "../../common/index.js";
import type { SegmentOffset } from "../../proto/index.js";
import type { GroupContext } from "./group-context.js";
import { asIncarnation, isCurrent, renew } from "./group-liveness.js";
import { acquire, complete, cutOf, isEnd, join, leave, reachCheckpoint, release, shouldAcquire, shouldRelease, withinGroup, type GroupState, type SuccessorRange } from "./group-state.js";
import { Slot, Wakeup } from "./segment-slot.js";

const log = logger("reader");

/** How often a reader records its positions in the group's state while it moves. */
export const positionRecordMs = 1_000;
/**
 * How long a reader has had no event to return before it records the positions it moved since
 * its last record: a reader killed while idle is then taken over without returning its last events
 * again. Also the least time between two such records (at most 5 a second per reader).
 */
export const idleRecordMs = 200;
/** Random bytes of a reader incarnation: two reader objects never share one. */
const incarnationBytes = 8;
/** How long a reader waits before asking again for the successors of a segment read to its sealed end (the scale commits just after the seal). */
const successorRetryMs = 200;
/** readNext's default and largest wait. */
const readTimeoutMsDefault = 1_000;
const readTimeoutMsMax = 24 * 60 * 60 * 1000;

export type ReadItem =
  | { type: "event"; stream: string; segment: string; offset: number; data: Uint8Array }
  | { type: "checkpoint"; name: string }
  | { type: "timeout" }
  | { type: "end" };

export interface ReadNextOptions {
  /** How long to wait for an event (default 1 s); then `{ type: "timeout" }`. */
  timeoutMs?: number;
}

export interface ReaderOptions {
  /**
   * This reader's liveness lease (see ReaderGroupOptions.readerTimeoutMs): default the group's;
   * 0 for none (only readerOffline then frees its segments if it dies).
   */
  timeoutMs?: number;
}

export class EventReader {
  private readonly slots = new Map<string, Slot>();
  private readonly wakeup = new Wakeup();
  private readonly joined: Promise<void>;
  private readonly unsubscribe: () => void;
  private generation: number | undefined;
  /** The state the held segments were last brought in line with, and the last one rebalanced on: work is redone only when the state changes. */
  private synced: GroupState | undefined;
  private rebalanced: GroupState | undefined;
  /** The held segments in turn order, and whose turn is next. */
  private order: Slot[] = [];
  private rr = 0;
  private lastRecordMs = 0;
  private running: Promise<ReadItem> | undefined;
  private closed = false;
  /** Declared offline by someone else, or replaced by a newer reader with the same id: every later readNext raises this. */
  private fenced: ClosedError | undefined;
  /** This reader object among all readers with its id (group-liveness.ts). */
  readonly incarnation: string;
  /** Its liveness lease; 0: none. */
  readonly timeoutMs: number;
  /** When the last renewal of the lease that was applied (or the join) was sent: the lease runs from there. */
  private leaseSentMs: number;
  private isJoined = false;
  /** Since when the reader has had no event to return, while it has none. */
  private idleSinceMs: number | undefined;

  /** Use ReaderGroup.reader(id). Joins the group at once (the join is awaited by the first readNext). */
  constructor(
    readonly id: string,
    private readonly ctx: GroupContext,
    options: ReaderOptions = {},
  ) {
    // Not from an injected random source: an incarnation only has to differ from every other
    // reader object's, and tests name readers by id.
    this.incarnation = randomBytes(incarnationBytes).toString("hex");
    this.timeoutMs = options.timeoutMs ?? ctx.state().readerTimeoutMs;
    this.unsubscribe = ctx.sync.onChange(() => this.wakeup.notify());
    const sentMs = ctx.clock.monotonicMs();
    this.leaseSentMs = sentMs;
    this.joined = ctx.sync.update(changed((s) => join(s, id, this.incarnation, this.timeoutMs))).then(() => {
      this.leaseSentMs = sentMs;
      this.isJoined = true;
    });
    this.joined.catch(() => undefined);
  }

  /**
   * The next event, checkpoint, timeout or end. Resolves with `{ type: "checkpoint", name }` once
   * every event before checkpoint `name` has been returned (and this reader's positions for it
   * recorded); `{ type: "end" }` when the group has nothing left to read (sealed streams read to
   * their end, or the `to` cuts reached); `{ type: "timeout" }` when `timeoutMs` passes first.
   * Raises CLOSED (closed; declared offline, by readerOffline or because its lease ran out; or a
   * newer reader with its id joined), NO_SUCH_READER_GROUP (deleted), INVALID_ARGUMENT
   * (a bad timeout, or a readNext already waiting), a segment read's errors (the read is tried
   * again by the next call), and UNAVAILABLE when recording the positions fails (no event is taken
   * then: the next call returns it, and records again a second later).
   */
  readNext(options: ReadNextOptions = {}): Promise<ReadItem> {
    const timeoutMs = options.timeoutMs ?? readTimeoutMsDefault;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > readTimeoutMsMax) {
      return Promise.reject(new InvalidArgumentError(`timeoutMs must be an integer in [0, ${readTimeoutMsMax}], got ${timeoutMs}`));
    }
    if (this.running !== undefined) return Promise.reject(new InvalidArgumentError(`reader ${this.id} already has a readNext waiting; call it from one place at a time`));
    const run = this.loop(this.ctx.clock.monotonicMs() + timeoutMs);
    this.running = run;
    void run.finally(() => (this.running = undefined)).catch(() => undefined);
    return run;
  }

  /** Events and checkpoints until the end of the group's streams (or the `to` cuts). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Exclude<ReadItem, { type: "timeout" } | { type: "end" }>> {
    for (;;) {
      const item = await this.readNext({ timeoutMs: 10_000 });
      if (item.type === "end") return;
      if (item.type !== "timeout") yield item;
    }
  }

  /** Where this reader is: the offset after the last event returned, per segment held (for readerOffline). */
  position(): SegmentOffset[] {
    return [...this.positions()].map(([segment, offset]) => ({ segment, offset }));
  }

  /** @internal For the group's liveness loop (group-heartbeat.ts). Whether the liveness loop should renew this reader's lease now (a third of it has passed since the last renewal). */
  renewalDue(nowMs: number): boolean {
    return this.isJoined && !this.closed && this.fenced === undefined && this.timeoutMs > 0 && nowMs - this.leaseSentMs >= this.timeoutMs / 3;
  }

  /** @internal For the group's liveness loop (group-heartbeat.ts). A renewal of the lease sent at `sentMs` was applied. */
  renewed(sentMs: number): void {
    this.leaseSentMs = Math.max(this.leaseSentMs, sentMs);
  }

  /**
   * @internal For the group's liveness loop (group-heartbeat.ts).
   * The positions to record in state `s` (segment -> offset after the last event returned): none
   * when `s` is of another generation than the segments held (a reset landed and they are stale).
   */
  positionsIn(s: GroupState): Record<string, number> {
    if (s.generation !== this.generation) return {};
    return Object.fromEntries([...this.slots.values()].map((x) => [x.segment, x.position]));
  }

  /**
   * Leaves the group: its segments go back at its current positions (nothing lost, nothing
   * returned twice). A waiting readNext raises CLOSED. A fenced reader changes nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeup.notify();
    await this.running?.catch(() => undefined);
    const positions = Object.fromEntries(this.positions());
    this.dropAll();
    this.unsubscribe();
    this.ctx.forget(this);
    if (this.ctx.sync.failed !== undefined || this.ctx.closed()) return;
    await this.joined.catch(() => undefined);
    await this.ctx.sync.update(this.mine((s) => leave(s, this.id, positions)));
  }

  /** `transition` for StateSynchronizer.update, applied only while this reader is the current incarnation of its id. */
  private mine(transition: (s: GroupState) => GroupState): (s: GroupState) => { state?: GroupState; result: boolean } {
    return changed((s) => asIncarnation(s, this.id, this.incarnation, transition));
  }

  private positions(): Map<string, number> {
    const out = new Map<string, number>();
    for (const a of this.safeState()?.active ?? []) if (a.owner === this.id) out.set(a.segment, a.offset);
    for (const slot of this.slots.values()) out.set(slot.segment, slot.position);
    return out;
  }

  private safeState(): GroupState | undefined {
    try {
      return this.ctx.state();
    } catch (err) {
      log.debug("group state unavailable", { reader: this.id, error: toSluiceError(err) });
      return undefined;
    }
  }

  private async loop(deadlineMs: number): Promise<ReadItem> {
    await this.joined;
    for (;;) {
      if (this.closed) throw new ClosedError(`reader ${this.id} is closed`);
      if (this.fenced !== undefined) throw this.fenced;
      const s = this.follow();
      const pending = s.checkpoint;
      if (pending !== null && pending.waiting.includes(this.id)) {
        const positions = Object.fromEntries(this.positions());
        if (await this.ctx.sync.update(this.mine((st) => reachCheckpoint(st, pending.id, this.id, positions)))) return { type: "checkpoint", name: pending.name };
        continue;
      }
      if (await this.rebalance(s)) continue;
      if (await this.completeDone(s)) continue;
      await this.handleErrors();
      // Recorded before an event is taken: a failed record then raises with the event still
      // buffered, and the next call returns it (taken first, it would be lost with the rejection).
      await this.recordIfDue();
      // Past most of its lease without a renewal (the process was paused, or the state was out of
      // reach): renew before returning anything, which fails if the reader was declared offline.
      if (this.leaseLapsing()) {
        await this.renewNow();
        continue;
      }
      // The awaits above may have let a reset, or this reader's removal, land: return no event of
      // a segment that is no longer ours; bring the slots in line first.
      if (!this.slotsCurrent()) continue;
      const event = this.takeEvent();
      if (event !== undefined) {
        this.idleSinceMs = undefined;
        return event;
      }
      const nowMs = this.ctx.clock.monotonicMs();
      this.idleSinceMs ??= nowMs;
      if (isEnd(this.ctx.state())) return { type: "end" };
      for (const slot of this.slots.values()) slot.fetch();
      if (nowMs >= deadlineMs) return { type: "timeout" };
      const recordAtMs = this.moved(this.ctx.state()) ? this.recordDueMs() : Infinity;
      await this.wakeup.wait(Math.max(0, Math.min(deadlineMs, nowMs + positionRecordMs, recordAtMs) - nowMs), this.ctx);
    }
  }

  /** Whether the lease is past two thirds without a renewal applied (the liveness loop renews at one third). */
  private leaseLapsing(): boolean {
    return this.timeoutMs > 0 && this.ctx.clock.monotonicMs() - this.leaseSentMs >= (this.timeoutMs * 2) / 3;
  }

  /** Renews the lease now, recording the positions; a fenced reader finds out from the state it then has. */
  private async renewNow(): Promise<void> {
    const sentMs = this.ctx.clock.monotonicMs();
    if (await this.ctx.sync.update(this.mine((st) => renew(st, this.id, this.incarnation, this.positionsIn(st))))) {
      this.renewed(sentMs);
      this.lastRecordMs = sentMs;
    }
  }

  /** Brings the held segments in line with the state: a reset drops them all; segments no longer ours are dropped; ours are opened. */
  private follow(): GroupState {
    const s = this.ctx.state();
    if (s === this.synced) return s;
    if (!isCurrent(s, this.id, this.incarnation)) {
      this.fenced = s.readers.includes(this.id)
        ? new ClosedError(`reader ${this.id} was fenced in reader group ${this.ctx.name}: a newer reader with the same id joined and took over its segments; this one returns no more events (close it)`)
        : new ClosedError(
            `reader ${this.id} was declared offline in reader group ${this.ctx.name} (by readerOffline, or by another reader after it showed no sign of life for longer than its lease of ${this.timeoutMs} ms); its segments went back to the group: create a new reader`,
          );
      this.dropAll();
      throw this.fenced;
    }
    if (this.generation !== s.generation) {
      this.dropAll();
      this.generation = s.generation;
    }
    const mine = new Map(s.active.filter((a) => a.owner === this.id).map((a) => [a.segment, a]));
    for (const [segment, slot] of this.slots) {
      if (!mine.has(segment)) {
        slot.close();
        this.slots.delete(segment);
      }
    }
    for (const a of mine.values()) {
      if (!this.slots.has(a.segment)) this.slots.set(a.segment, new Slot(a.segment, a.endOffset, a.offset, this.ctx, () => this.wakeup.notify()));
    }
    this.order = [...this.slots.values()];
    this.synced = s;
    return s;
  }

  /** True when the latest state still gives this reader every segment it holds, in the generation it opened them in. */
  private slotsCurrent(): boolean {
    const s = this.ctx.state();
    if (s === this.synced) return true;
    if (s.generation !== this.generation || !isCurrent(s, this.id, this.incarnation)) return false;
    const mine = new Set(s.active.filter((a) => a.owner === this.id).map((a) => a.segment));
    for (const segment of this.slots.keys()) if (!mine.has(segment)) return false;
    return true;
  }

  private dropAll(): void {
    for (const slot of this.slots.values()) slot.close();
    this.slots.clear();
    this.order = [];
  }

  /** Gives one segment back or takes unassigned ones, as the fair share says. True if the state changed. */
  private async rebalance(s: GroupState): Promise<boolean> {
    if (s === this.rebalanced) return false;
    this.rebalanced = s;
    try {
      if (shouldRelease(s, this.id)) {
        const held = s.active.filter((a) => a.owner === this.id);
        const give = held[held.length - 1]!;
        const offset = this.slots.get(give.segment)?.position ?? give.offset;
        return await this.ctx.sync.update(this.mine((st) => release(st, this.id, give.segment, offset)));
      }
      if (shouldAcquire(s, this.id)) return await this.ctx.sync.update(this.mine((st) => acquire(st, this.id)));
      return false;
    } catch (err) {
      // Decide again on the next call, though the state did not change.
      this.rebalanced = undefined;
      throw err;
    }
  }

  /** Reports the first segment read to its end (with its successors). True if the state changed. */
  private async completeDone(s: GroupState): Promise<boolean> {
    if (s.checkpoint !== null) return false;
    for (const slot of this.slots.values()) {
      if (!slot.done || slot.retryAtMs > this.ctx.clock.monotonicMs()) continue;
      let successors: SuccessorRange[] = [];
      if (slot.endOffset < 0) {
        const found = await this.ctx.lookups.successors(slot.segment);
        if (found.length === 0 && !(await this.ctx.lookups.sealed(slot.stream))) {
          // Sealed by a scale whose new epoch is not committed yet: ask again shortly.
          slot.retryAtMs = this.ctx.clock.monotonicMs() + successorRetryMs;
          continue;
        }
        const bounds = s.streams.findIndex((b) => b.stream === slot.stream);
        if (found.length > 0 && bounds >= 0) {
          // What lies between the group's position and its `to` cut: few segments, however old the stream.
          const between = await this.ctx.lookups.between(slot.stream, cutOf(s)[bounds]!, s.streams[bounds]!.to);
          successors = withinGroup(found, new Set(between.map((x) => x.segment)));
        }
      }
      const endOffset = slot.position;
      return this.ctx.sync.update(this.mine((st) => complete(st, this.id, slot.segment, endOffset, successors)));
    }
    return false;
  }

  /** A segment whose head was truncated away is read from its new start; any other read error is raised (and the read retried next time). */
  private async handleErrors(): Promise<void> {
    for (const slot of this.slots.values()) {
      const err = slot.error;
      if (err === undefined) continue;
      if (err.code === "SEGMENT_TRUNCATED") {
        const info = await this.ctx.lookups.segmentInfo(slot.segment);
        log.warn("segment truncated below the reader's position: skipping to its start", { reader: this.id, segment: slot.segment, from: slot.position, to: info.startOffset });
        slot.restart(Math.max(slot.position, info.startOffset));
        continue;
      }
      slot.restart(slot.position);
      throw err;
    }
  }

  /** The next buffered event, taking segments in turn. */
  private takeEvent(): ReadItem | undefined {
    const slots = this.order;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(this.rr + i) % slots.length]!;
      const e = slot.take();
      if (e === undefined) continue;
      this.rr = (this.rr + i + 1) % slots.length;
      return { type: "event", stream: slot.stream, segment: slot.segment, offset: e.offset, data: e.data };
    }
    return undefined;
  }

  /** Whether some held segment's position differs from its recorded offset in `s`. */
  private moved(s: GroupState): boolean {
    for (const a of s.active) {
      if (a.owner !== this.id) continue;
      const slot = this.slots.get(a.segment);
      if (slot !== undefined && slot.position !== a.offset) return true;
    }
    return false;
  }

  /** When moved positions are due to be recorded: positionRecordMs after the last record, or idleRecordMs into an idle spell (and after the last record). */
  private recordDueMs(): number {
    const idleDueMs = this.idleSinceMs === undefined ? Infinity : Math.max(this.idleSinceMs, this.lastRecordMs) + idleRecordMs;
    return Math.min(this.lastRecordMs + positionRecordMs, idleDueMs);
  }

  /** Records the positions (renewing the lease) when they moved and recordDueMs has come. */
  private async recordIfDue(): Promise<void> {
    const nowMs = this.ctx.clock.monotonicMs();
    if (nowMs < this.recordDueMs() || !this.moved(this.ctx.state())) return;
    this.lastRecordMs = nowMs;
    if (await this.ctx.sync.update(this.mine((st) => renew(st, this.id, this.incarnation, this.positionsIn(st))))) this.renewed(nowMs);
  }
}

/** Wraps a transition for StateSynchronizer.update: no append when it changes nothing; the result says whether it did. */
export function changed(transition: (s: GroupState) => GroupState): (s: GroupState) => { state?: GroupState; result: boolean } {
  return (s) => {
    const next = transition(s);
    return next === s ? { result: false } : { state: next, result: true };
  };
}

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
 * move, and on release, close and checkpoint. A reader that dies is either declared offline
 * (ReaderGroup.readerOffline) or replaced by a new reader with the same id, which takes over its
 * segments; either way they are read again from its last recorded positions (events since then are
 * returned again: at least once, never skipped). Two live readers with one id would both read the
 * same segments: an id names one reader process.
 *
 * One readNext at a time per reader. Memory: per segment held, one read and one read-ahead
 * (SegmentReader, 1 MiB each by default).
 */
import { ClosedError, InvalidArgumentError, logger, toSluiceError } from "../../common/index.js";
import type { SegmentOffset } from "../../proto/index.js";
import type { GroupContext } from "./group-context.js";
import { acquire, complete, cutOf, isEnd, join, leave, reachCheckpoint, recordPositions, release, shouldAcquire, shouldRelease, withinGroup, type GroupState, type SuccessorRange } from "./group-state.js";
import { Slot, Wakeup } from "./segment-slot.js";

const log = logger("reader");

/** How often a reader records its positions in the group's state while it moves. */
export const positionRecordMs = 1_000;
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
  /** Declared offline by someone else: every later readNext raises CLOSED. */
  private offline = false;

  /** Use ReaderGroup.reader(id). Joins the group at once (the join is awaited by the first readNext). */
  constructor(
    readonly id: string,
    private readonly ctx: GroupContext,
  ) {
    this.unsubscribe = ctx.sync.onChange(() => this.wakeup.notify());
    this.joined = ctx.sync.update(changed((s) => join(s, id))).then(() => undefined);
    this.joined.catch(() => undefined);
  }

  /**
   * The next event, checkpoint, timeout or end. Resolves with `{ type: "checkpoint", name }` once
   * every event before checkpoint `name` has been returned (and this reader's positions for it
   * recorded); `{ type: "end" }` when the group has nothing left to read (sealed streams read to
   * their end, or the `to` cuts reached); `{ type: "timeout" }` when `timeoutMs` passes first.
   * Raises CLOSED (closed, or declared offline), NO_SUCH_READER_GROUP (deleted), INVALID_ARGUMENT
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

  /** Leaves the group: its segments go back at its current positions (nothing lost, nothing returned twice). A waiting readNext raises CLOSED. */
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
    await this.ctx.sync.update(changed((s) => leave(s, this.id, positions)));
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
      if (this.offline) throw new ClosedError(`reader ${this.id} was declared offline in reader group ${this.ctx.name}; its segments went back to the group: create a new reader`);
      const s = this.follow();
      const pending = s.checkpoint;
      if (pending !== null && pending.waiting.includes(this.id)) {
        const positions = Object.fromEntries(this.positions());
        if (await this.ctx.sync.update(changed((st) => reachCheckpoint(st, pending.id, this.id, positions)))) return { type: "checkpoint", name: pending.name };
        continue;
      }
      if (await this.rebalance(s)) continue;
      if (await this.completeDone(s)) continue;
      await this.handleErrors();
      // Recorded before an event is taken: a failed record then raises with the event still
      // buffered, and the next call returns it (taken first, it would be lost with the rejection).
      await this.recordIfDue();
      // The awaits above may have let a reset, or this reader's removal, land: return no event of
      // a segment that is no longer ours; bring the slots in line first.
      if (!this.slotsCurrent()) continue;
      const event = this.takeEvent();
      if (event !== undefined) return event;
      if (isEnd(this.ctx.state())) return { type: "end" };
      for (const slot of this.slots.values()) slot.fetch();
      const nowMs = this.ctx.clock.monotonicMs();
      if (nowMs >= deadlineMs) return { type: "timeout" };
      await this.wakeup.wait(Math.min(deadlineMs - nowMs, positionRecordMs), this.ctx);
    }
  }

  /** Brings the held segments in line with the state: a reset drops them all; segments no longer ours are dropped; ours are opened. */
  private follow(): GroupState {
    const s = this.ctx.state();
    if (s === this.synced) return s;
    if (!s.readers.includes(this.id)) {
      this.offline = true;
      this.dropAll();
      throw new ClosedError(`reader ${this.id} was declared offline in reader group ${this.ctx.name}; its segments went back to the group: create a new reader`);
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
    if (s.generation !== this.generation || !s.readers.includes(this.id)) return false;
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
        return await this.ctx.sync.update(changed((st) => release(st, this.id, give.segment, offset)));
      }
      if (shouldAcquire(s, this.id)) return await this.ctx.sync.update(changed((st) => acquire(st, this.id)));
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
      return this.ctx.sync.update(changed((st) => complete(st, this.id, slot.segment, endOffset, successors)));
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

  /** Records the positions when they moved and positionRecordMs has passed since the last record. */
  private async recordIfDue(): Promise<void> {
    const nowMs = this.ctx.clock.monotonicMs();
    if (nowMs - this.lastRecordMs < positionRecordMs) return;
    const s = this.ctx.state();
    const positions = Object.fromEntries([...this.slots.values()].map((x) => [x.segment, x.position]));
    if (!s.active.some((a) => a.owner === this.id && Object.hasOwn(positions, a.segment) && positions[a.segment] !== a.offset)) return;
    this.lastRecordMs = nowMs;
    await this.ctx.sync.update(changed((st) => recordPositions(st, this.id, positions)));
  }
}

/** Wraps a transition for StateSynchronizer.update: no append when it changes nothing; the result says whether it did. */
export function changed(transition: (s: GroupState) => GroupState): (s: GroupState) => { state?: GroupState; result: boolean } {
  return (s) => {
    const next = transition(s);
    return next === s ? { result: false } : { state: next, result: true };
  };
}

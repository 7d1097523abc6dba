/**
 * Reader groups: readers that share the segments of one or more streams, each segment read by one
 * reader at a time, every event returned once while readers close cleanly, per routing key in
 * order across splits and merges (invariant 4). The group's config lives in the controller
 * (CreateReaderGroup, under readergroups/<scope>/<group>); its live state (readers, who holds which
 * segment from where, checkpoints) lives in a segment of its own, changed by conditional appends
 * (state-synchronizer.ts) with the pure transitions of group-state.ts. No server keeps it.
 * Readers hold liveness leases and fence older readers with their id (group-liveness.ts); each
 * group object runs the loop that renews its readers' leases and declares silent ones offline
 * (group-heartbeat.ts).
 *
 * ```ts
 * const group = await sluice.readerGroup("shop/analytics", { streams: ["shop/orders"] });
 * const reader = group.reader("reader-1");
 * for await (const item of reader) if (item.type === "event") handle(item.data);
 * ```
 */
import { ClosedError, InvalidArgumentError, NoSuchReaderGroupError, ReaderGroupExistsError, TimeoutError, logger, nameBytesMax, systemClock, toSluiceError, type Clock } from "../../common/index.js";
import type { SegmentOffset, StreamCut } from "../../proto/index.js";
import { EventReader, changed, type ReaderOptions } from "./event-reader.js";
import { GroupHeartbeat } from "./group-heartbeat.js";
import type { GroupContext } from "./group-context.js";
import { GroupLookups, cutsByStream, type ReaderGroupServices } from "./group-lookups.js";
import { beginCheckpoint, cancelCheckpoint, cutOf, initialState, leave, reset, streamOf, type Checkpoint, type GroupState, type StreamStart } from "./group-state.js";
import { StateSynchronizer } from "./state-synchronizer.js";
import { checkReaderId, checkReaderTimeout, decodeState, encodeState, groupConfig, parseGroupName, sameStreams, stateSegmentName, type ReaderGroupOptions } from "./group-config.js";

export type { ReaderGroupOptions } from "./group-config.js";

export interface CheckpointOptions {
  /** How long every reader has to reach the checkpoint (default 30 s); then it is cancelled with TIMEOUT. */
  timeoutMs?: number;
}

const log = logger("reader-group");
const checkpointTimeoutMsDefault = 30_000;

export class ReaderGroup {
  private readonly readers = new Map<string, EventReader>();
  private readonly countListeners = new Set<(count: number) => void>();
  private segmentCount: number;
  private closing = false;
  private isClosed = false;
  private readonly context: GroupContext;
  private readonly heartbeat: GroupHeartbeat;

  private constructor(
    /** `scope/group`. */
    readonly name: string,
    /** The streams it reads. */
    readonly streams: readonly string[],
    private readonly sync: StateSynchronizer<GroupState>,
    private readonly lookups: GroupLookups,
    private readonly services: ReaderGroupServices,
    private readonly clock: Clock,
  ) {
    this.context = {
      name,
      sync,
      lookups,
      services,
      clock,
      closed: () => this.isClosed,
      state: () => this.state(),
      forget: (reader) => this.readers.delete(reader.id),
    };
    this.segmentCount = sync.state.active.length;
    sync.onChange(() => this.countChanged());
    this.heartbeat = new GroupHeartbeat(name, sync, clock, () => [...this.readers.values()]);
  }

  /**
   * Opens reader group `scope/group`. With `options` it is created if absent (from resolved to cuts
   * now), else opened as it is (its own from/to stand); without, it must exist. Raises
   * INVALID_NAME, INVALID_ARGUMENT (bad options or cuts), NO_SUCH_SCOPE, NO_SUCH_STREAM,
   * NO_SUCH_READER_GROUP (no options and no group), READER_GROUP_EXISTS (it reads other streams).
   */
  static async open(name: string, options: ReaderGroupOptions | undefined, services: ReaderGroupServices): Promise<ReaderGroup> {
    const { scope, group } = parseGroupName(name);
    const lookups = new GroupLookups(services);
    const config = await groupConfig(name, options, lookups, services);
    const streams = config.streams.map((s) => s.stream);
    const clock = services.clock ?? systemClock;
    const sync = new StateSynchronizer<GroupState>({
      segment: stateSegmentName(scope, group),
      connect: services.connect,
      encode: encodeState,
      decode: decodeState,
      clock,
      missing: (cause) => new NoSuchReaderGroupError(`reader group ${name} was deleted (its state segment is gone)`, { cause }),
    });
    await sync.open(async () => {
      const starts: StreamStart[] = [];
      for (const s of config.streams) {
        const start = s.from ?? (await lookups.endCut(s.stream, "head"));
        starts.push({ stream: s.stream, ...(s.to === undefined ? {} : { to: s.to }), segments: await lookups.segmentsAt(s.stream, start) });
      }
      return initialState(starts, options?.readerTimeoutMs);
    });
    const held = sync.state.streams.map((b) => b.stream);
    if (!sameStreams(held, streams)) {
      await sync.close();
      throw new ReaderGroupExistsError(`the state of reader group ${name} reads ${held.join(", ")} but its config names ${streams.join(", ")} (left from an earlier group of that name); delete the group and create it again`);
    }
    return new ReaderGroup(name, streams, sync, lookups, services, clock);
  }

  /** Deletes group `scope/group` (its state and its config); false if there was none. Readers of it then fail NO_SUCH_READER_GROUP. */
  static async delete(name: string, services: ReaderGroupServices): Promise<boolean> {
    const { scope, group } = parseGroupName(name);
    const hadState = await new GroupLookups(services).deleteSegment(stateSegmentName(scope, group));
    const hadConfig = (await services.call("DeleteReaderGroup", { scope, group })).deleted;
    return hadState || hadConfig;
  }

  /**
   * A reader with id `id` (1-255 characters from A-Z a-z 0-9 _ . -). It joins the group at once; an
   * id already online (a reader that crashed, or a live one: a process restarted with a fixed id)
   * takes over that reader's segments at their last recorded positions, and the older reader is
   * fenced (its readNext raises CLOSED). `options.timeoutMs` sets its liveness lease (default the
   * group's readerTimeoutMs; 0: none). Raises INVALID_NAME, INVALID_ARGUMENT (the id is open in this
   * group object, a bad timeoutMs), CLOSED, NO_SUCH_READER_GROUP (deleted).
   */
  reader(id: string, options: ReaderOptions = {}): EventReader {
    this.checkOpen();
    checkReaderId(id);
    if (options.timeoutMs !== undefined) checkReaderTimeout(options.timeoutMs, "timeoutMs");
    if (this.readers.has(id)) throw new InvalidArgumentError(`reader ${id} is already open on this group object; close it first`);
    const reader = new EventReader(id, this.context, options);
    this.readers.set(id, reader);
    return reader;
  }

  /**
   * Declares reader `id` dead: its segments go back to the group at `position` (segment offsets,
   * as EventReader.position() gave them; segments it does not hold are ignored) or at its last
   * recorded positions. A pending checkpoint counts it as reached there. Raises INVALID_NAME, CLOSED.
   */
  async readerOffline(id: string, position?: readonly SegmentOffset[]): Promise<void> {
    this.checkOpen();
    checkReaderId(id);
    const positions = Object.fromEntries((position ?? []).map((p) => [p.segment, p.offset]));
    await this.sync.update(changed((s) => leave(s, id, positions)));
  }

  /**
   * Takes checkpoint `name`: each online reader returns `{ type: "checkpoint", name }` from readNext
   * after every event before it, and records its positions; resolves with the cut (one per stream)
   * once all have. No segment changes hands meanwhile. Raises INVALID_ARGUMENT (a bad name, another
   * checkpoint pending), TIMEOUT (readers did not all reach it in time; it is cancelled), CLOSED
   * (the group was reset meanwhile, or closed), NO_SUCH_READER_GROUP.
   */
  async checkpoint(name: string, options: CheckpointOptions = {}): Promise<Checkpoint> {
    this.checkOpen();
    if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > nameBytesMax) throw new InvalidArgumentError(`checkpoint name must be 1 to ${nameBytesMax} bytes`);
    const timeoutMs = options.timeoutMs ?? checkpointTimeoutMsDefault;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new InvalidArgumentError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
    const id = await this.sync.update((s) => {
      const r = beginCheckpoint(s, name);
      return { state: r.state, result: r.id };
    });
    const outcome = (): Checkpoint | "pending" | "cancelled" => {
      const s = this.state();
      const done = s.checkpoints.find((c) => c.id === id);
      if (done !== undefined) return { name: done.name, cuts: done.cuts };
      return s.checkpoint?.id === id ? "pending" : "cancelled";
    };
    const reached = await new Promise<Checkpoint | "timeout">((resolve, reject) => {
      const check = () => {
        try {
          const o = outcome();
          if (o === "pending") return;
          finish();
          if (o === "cancelled") reject(new ClosedError(`checkpoint ${name} of reader group ${this.name} was cancelled: the group was reset while it was pending`));
          else resolve(o);
        } catch (err) {
          finish();
          reject(toSluiceError(err));
        }
      };
      const unsubscribe = this.sync.onChange(check);
      const timer = this.clock.setTimer(timeoutMs, () => {
        finish();
        resolve("timeout");
      });
      function finish() {
        unsubscribe();
        timer.cancel();
      }
      check();
    });
    if (reached !== "timeout") return reached;
    const waiting = this.state().checkpoint?.waiting ?? [];
    await this.sync.update(changed((s) => cancelCheckpoint(s, id)));
    const late = outcome();
    if (typeof late === "object") return late;
    throw new TimeoutError(`checkpoint ${name} of reader group ${this.name} was not reached within ${timeoutMs} ms by readers ${waiting.join(", ")}: they must be calling readNext (or be declared offline)`);
  }

  /**
   * Moves the whole group to `target` (cuts, one per stream, or a Checkpoint): every reader drops
   * what it holds and buffered, and the group reads from there; streams without a cut stay where
   * the group is. A pending checkpoint is cancelled. Raises INVALID_ARGUMENT (a cut not of the
   * group's streams, or after its `to` cut), NO_SUCH_STREAM, CLOSED.
   */
  async resetTo(target: StreamCut | StreamCut[] | Checkpoint): Promise<void> {
    this.checkOpen();
    const cuts = typeof target === "object" && target !== null && "cuts" in target ? target.cuts : target;
    const given = cutsByStream(cuts, this.streams, "resetTo");
    const starts = new Map<string, StreamStart>();
    for (const bounds of this.state().streams) {
      const start = given.get(bounds.stream);
      if (start === undefined) continue;
      // Checks the cut is of the stream and not past the `to` cut (INVALID_ARGUMENT).
      await this.lookups.between(bounds.stream, start, bounds.to);
      starts.set(bounds.stream, { stream: bounds.stream, ...(bounds.to === undefined ? {} : { to: bounds.to }), segments: await this.lookups.segmentsAt(bounds.stream, start) });
    }
    // A stream without a cut keeps its segments as the state the reset lands on has them (read,
    // readable at their latest recorded offsets, and waiting), unassigned: positions taken before
    // the awaits above could lie behind that state and return events twice.
    await this.sync.update((st) => {
      const kept = (segment: string) => !starts.has(streamOf(segment));
      const readable = (stream: string) => st.active.filter((a) => streamOf(a.segment) === stream).map(({ segment, keyStart, keyEnd, offset }) => ({ segment, keyStart, keyEnd, offset }));
      const next = reset(st, st.streams.map((b) => starts.get(b.stream) ?? { ...b, segments: readable(b.stream) }));
      const completed = [...next.completed, ...st.completed.filter((c) => kept(c.segment))];
      const future = [...next.future, ...st.future.filter((f) => kept(f.segment))];
      return { state: { ...next, completed, future }, result: undefined };
    });
  }

  /** Bytes between the group's positions and the streams' tails (or the `to` cuts): the group's lag. */
  async unreadBytes(): Promise<number> {
    this.checkOpen();
    const s = this.state();
    const cuts = cutOf(s);
    let total = 0;
    for (const [i, bounds] of s.streams.entries()) total += await this.lookups.bytesBetween(bounds.stream, cuts[i]!, bounds.to);
    return total;
  }

  /** Calls `listener` with the number of readable segments whenever it changes (a scale, the end of a stream). Returns the unsubscribe. */
  onSegmentCountChange(listener: (count: number) => void): () => void {
    this.countListeners.add(listener);
    return () => this.countListeners.delete(listener);
  }

  /** The group's current position, one cut per stream, from the positions readers last recorded. */
  positions(): StreamCut[] {
    return cutOf(this.state());
  }

  /**
   * A plain summary of the group's state for tools (`sluice readergroup info`): the online readers,
   * each readable segment with its owner (null: unassigned) and recorded offset (an online reader's
   * lags by up to a second) and its `to` offset (-1: none), how many segments are read to their end
   * and kept, how many wait for their predecessors, the pending checkpoint and the last completed
   * ones, the lease of readers that join without one of their own, and each online reader's lease
   * (null: a reader of an older client, without one). Raises NO_SUCH_READER_GROUP (deleted), CLOSED.
   */
  describe(): {
    readers: string[];
    readerTimeoutMs: number;
    leases: { reader: string; timeoutMs: number | null }[];
    segments: { segment: string; owner: string | null; offset: number; endOffset: number }[];
    completed: number;
    waiting: number;
    pendingCheckpoint: { name: string; waiting: string[] } | null;
    checkpoints: Checkpoint[];
  } {
    const s = this.state();
    return {
      readers: [...s.readers],
      readerTimeoutMs: s.readerTimeoutMs,
      leases: s.readers.map((reader) => ({ reader, timeoutMs: s.sessions.find((x) => x.reader === reader)?.timeoutMs ?? null })),
      segments: s.active.map((a) => ({ segment: a.segment, owner: a.owner, offset: a.offset, endOffset: a.endOffset })),
      completed: s.completed.length,
      waiting: s.future.length,
      pendingCheckpoint: s.checkpoint === null ? null : { name: s.checkpoint.name, waiting: [...s.checkpoint.waiting] },
      checkpoints: s.checkpoints.map((c) => ({ name: c.name, cuts: c.cuts })),
    };
  }

  /** Closes the group's readers (they leave) and this group object, then deletes the group's state and config. */
  async delete(): Promise<void> {
    await this.close();
    await ReaderGroup.delete(this.name, this.services);
  }

  /** Closes every reader opened on this object (they leave the group) and stops following the state. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.heartbeat.close();
    const results = await Promise.allSettled([...this.readers.values()].map((r) => r.close()));
    this.isClosed = true;
    this.services.closed?.(this);
    await this.sync.close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  private state(): GroupState {
    return this.sync.state;
  }

  private checkOpen(): void {
    if (this.closing) throw new ClosedError(`reader group ${this.name} is closed`);
  }

  private countChanged(): void {
    let count: number;
    try {
      count = this.sync.state.active.length;
    } catch {
      return; // The group failed; readers and calls report it.
    }
    if (count === this.segmentCount) return;
    this.segmentCount = count;
    for (const listener of this.countListeners) {
      try {
        listener(count);
      } catch (err) {
        log.error("segment count listener threw", { group: this.name, error: toSluiceError(err) });
      }
    }
  }
}

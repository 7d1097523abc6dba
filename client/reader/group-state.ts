/**
 * The state of a reader group and its transitions, as pure functions (no I/O, no clock): which
 * readers are online, which segments are being read (by whom, from where), which were read to
 * their end, which wait for their predecessors, the pending checkpoint and the last completed ones.
 * The whole state is one JSON record in the group's state segment (state-synchronizer.ts); every
 * change is a function from the latest state to the next, re-applied if another client changed the
 * state first. A transition that does not apply to the state it is given (the reader no longer owns
 * the segment, a checkpoint is pending) returns that state unchanged, so a stale decision is dropped.
 *
 * Rules the transitions keep:
 * - Every owner is an online reader; a reader that leaves gives its segments back at the positions
 *   it hands in (or its last recorded ones).
 * - An online reader id has one incarnation (its session): a newer reader joining under the id gets
 *   a new one and takes over the segments at their recorded positions; changes made for the older
 *   incarnation then no longer apply (group-liveness.ts: asIncarnation), so it is fenced.
 * - Per-key order across scaling (invariant 4): a successor becomes readable only once every one of
 *   its predecessors is read to its end. The successors of one segment become readable together
 *   (with every successor that shares a predecessor with them); they are all made by one scale, so
 *   the wait is only for their sealed predecessors to be read, and it keeps the group's position a
 *   valid stream cut (no segment in it together with one of its successors).
 * - While a checkpoint is pending no segment changes hands (no acquire, release or completion), so
 *   the positions the readers record for it form one consistent cut.
 */
import {
  InvalidArgumentError,
  parseSegmentName,
  readerGroupCheckpointsKept,
  readerGroupReaderTimeoutMsDefault,
  readerGroupReadersMax,
  readerGroupSegmentsMax,
} from "../../common/index.js";
import type { StreamCut } from "../../proto/index.js";

/** A segment being read (or waiting for a reader). */
export interface ActiveSegment {
  segment: string;
  keyStart: number;
  keyEnd: number;
  /** Where reading resumes: the offset after the last event its reader returned, as last recorded. */
  offset: number;
  /** -1: up to the segment's sealed end; else the group's `to` cut offset. */
  endOffset: number;
  /** The reader holding it; null while unassigned. */
  owner: string | null;
}

/** A segment read to its end; kept while some successor waits for other predecessors, or for ever once final. */
export interface CompletedSegment {
  segment: string;
  endOffset: number;
  /** No successor will ever be read after it: the stream is sealed, or the `to` cut ends it. */
  final: boolean;
  /** Its successors the group reads (successors beyond the `to` cut are left out). */
  successors: string[];
}

/** A successor waiting for its predecessors to be read to their end. */
export interface FutureSegment {
  segment: string;
  keyStart: number;
  keyEnd: number;
  /** Its predecessors the group still has to read (ones behind the group's position are left out). */
  predecessors: string[];
  endOffset: number;
}

export interface PendingCheckpoint {
  id: number;
  name: string;
  /** Online readers that have not yet reached it. */
  waiting: string[];
  /** The cut being built: segment -> offset. */
  positions: Record<string, number>;
}

export interface Checkpoint {
  name: string;
  /** One cut per stream of the group. */
  cuts: StreamCut[];
}

export interface CompletedCheckpoint extends Checkpoint {
  id: number;
}

/** A stream the group reads, and where it stops (its `to` cut). */
export interface StreamBounds {
  stream: string;
  to?: StreamCut;
}

/** An online reader's incarnation and liveness lease (group-liveness.ts). */
export interface ReaderSession {
  reader: string;
  /** Random per reader object: a newer reader joining under the same id gets another, which fences the older. */
  incarnation: string;
  /** Raised by every renewal of the lease: others see the reader alive while it changes. */
  beat: number;
  /** The lease: silent (no new beat) for longer, another reader declares it offline; 0: never (readerOffline only). */
  timeoutMs: number;
}

export interface GroupState {
  version: 1;
  streams: StreamBounds[];
  /** Raised by every reset: readers then drop all they hold and acquire anew. */
  generation: number;
  readers: string[];
  /** One per online reader that joined with a session (a record of an older client may lack some). */
  sessions: ReaderSession[];
  /** The lease of readers that join without one of their own (ReaderGroupOptions.readerTimeoutMs). */
  readerTimeoutMs: number;
  active: ActiveSegment[];
  completed: CompletedSegment[];
  future: FutureSegment[];
  checkpoint: PendingCheckpoint | null;
  /** The last completed checkpoints, oldest first (at most readerGroupCheckpointsKept). */
  checkpoints: CompletedCheckpoint[];
  checkpointSeq: number;
}

/** A segment and where to read it from, as a cut resolves (GetSegmentsAtCut). */
export interface PositionedRange {
  segment: string;
  keyStart: number;
  keyEnd: number;
  offset: number;
}

export interface StreamStart extends StreamBounds {
  segments: PositionedRange[];
}

/** A successor as GetSuccessors answers it, already limited to the segments the group reads. */
export interface SuccessorRange {
  segment: string;
  keyStart: number;
  keyEnd: number;
  predecessors: string[];
}

/**
 * Limits successors to `reachable`, the segments between the group's position (cutOf) and its
 * `to` cut (GetSegmentsBetween): a successor beyond `to` is never read, and a predecessor behind the
 * position (before the cut the group started from) is not the group's to read, so it is not waited for.
 */
export function withinGroup(successors: readonly SuccessorRange[], reachable: ReadonlySet<string>): SuccessorRange[] {
  return successors.filter((x) => reachable.has(x.segment)).map((x) => ({ ...x, predecessors: x.predecessors.filter((p) => reachable.has(p)) }));
}

/** `scope/stream` of a segment name. */
export function streamOf(segment: string): string {
  const n = parseSegmentName(segment);
  return `${n.scope}/${n.stream}`;
}

/** The `to` offset of `segment`, or -1 when the group's `to` cut does not name it. */
export function endOffsetOf(streams: readonly StreamBounds[], segment: string): number {
  const stream = streamOf(segment);
  const to = streams.find((b) => b.stream === stream)?.to;
  return to?.positions.find((p) => p.segment === segment)?.offset ?? -1;
}

/**
 * The state of a new group reading `streams` from the positions given, its readers leased for
 * `readerTimeoutMs` unless they say otherwise. Raises INVALID_ARGUMENT beyond readerGroupSegmentsMax.
 */
export function initialState(streams: readonly StreamStart[], readerTimeoutMs = readerGroupReaderTimeoutMsDefault): GroupState {
  const empty: GroupState = { version: 1, streams: [], generation: 0, readers: [], sessions: [], readerTimeoutMs, active: [], completed: [], future: [], checkpoint: null, checkpoints: [], checkpointSeq: 0 };
  return withSegments(empty, streams);
}

/** Every reader drops what it holds and the group reads from the positions given; a pending checkpoint is cancelled. */
export function reset(s: GroupState, streams: readonly StreamStart[]): GroupState {
  return { ...withSegments(s, streams), generation: s.generation + 1, checkpoint: null };
}

function withSegments(s: GroupState, streams: readonly StreamStart[]): GroupState {
  const count = streams.reduce((n, x) => n + x.segments.length, 0);
  if (count > readerGroupSegmentsMax) throw new InvalidArgumentError(`a reader group reads at most ${readerGroupSegmentsMax} segments at once; these cuts name ${count}`);
  const bounds = streams.map((x): StreamBounds => (x.to === undefined ? { stream: x.stream } : { stream: x.stream, to: x.to }));
  const next: GroupState = { ...s, streams: bounds, active: [], completed: [], future: [] };
  for (const x of streams) {
    for (const p of x.segments) activate(next, { ...p, endOffset: endOffsetOf(bounds, p.segment) });
  }
  return next;
}

/** Makes a segment readable; one already at its `to` offset is complete (and final) at once. */
function activate(s: GroupState, a: Omit<ActiveSegment, "owner">): void {
  if (a.endOffset >= 0 && a.offset >= a.endOffset) s.completed.push({ segment: a.segment, endOffset: a.endOffset, final: true, successors: [] });
  else s.active.push({ ...a, owner: null });
}

/** The session of online reader `reader`, if it has one. */
export function sessionOf(s: GroupState, reader: string): ReaderSession | undefined {
  return s.readers.includes(reader) ? s.sessions.find((x) => x.reader === reader) : undefined;
}

/**
 * Adds `reader` as `incarnation` to the online readers, leased for `timeoutMs` (default: the
 * group's). A reader of that id already online under another incarnation is replaced by this one,
 * which keeps its segments at their recorded positions (the older one is fenced); joining again
 * as the same incarnation changes nothing. Raises INVALID_ARGUMENT beyond readerGroupReadersMax.
 */
export function join(s: GroupState, reader: string, incarnation: string, timeoutMs = s.readerTimeoutMs): GroupState {
  if (sessionOf(s, reader)?.incarnation === incarnation) return s;
  const online = s.readers.includes(reader);
  if (!online && s.readers.length >= readerGroupReadersMax) throw new InvalidArgumentError(`reader group has ${readerGroupReadersMax} readers online, the most it takes; close or declare offline some first`);
  const session: ReaderSession = { reader, incarnation, beat: 0, timeoutMs };
  return { ...s, readers: online ? s.readers : [...s.readers, reader], sessions: [...s.sessions.filter((x) => x.reader !== reader), session] };
}

/**
 * `reader` leaves (closes, or is declared offline): its segments go back unassigned at `positions`
 * (segment -> offset; segments it does not own are ignored) or else at their recorded offsets. A
 * pending checkpoint counts it as reached at those positions.
 */
export function leave(s: GroupState, reader: string, positions: Record<string, number> = {}): GroupState {
  if (!s.readers.includes(reader)) return s;
  const given = (a: ActiveSegment) => (Object.hasOwn(positions, a.segment) ? positions[a.segment]! : a.offset);
  const mine = s.active.filter((a) => a.owner === reader);
  const next: GroupState = {
    ...s,
    readers: s.readers.filter((r) => r !== reader),
    sessions: s.sessions.filter((x) => x.reader !== reader),
    active: s.active.map((a) => (a.owner === reader ? { ...a, owner: null, offset: given(a) } : a)),
  };
  if (s.checkpoint === null || !s.checkpoint.waiting.includes(reader)) return next;
  return reachCheckpoint(next, s.checkpoint.id, reader, Object.fromEntries(mine.map((a) => [a.segment, given(a)])), true);
}

/** Segments held by each online reader. */
export function heldCounts(s: GroupState): Map<string, number> {
  const counts = new Map<string, number>(s.readers.map((r) => [r, 0]));
  for (const a of s.active) if (a.owner !== null) counts.set(a.owner, (counts.get(a.owner) ?? 0) + 1);
  return counts;
}

/** The fair share bounds: every reader should hold between floor and ceil of active segments / readers. */
export function fairShare(s: GroupState): { floor: number; ceil: number } {
  const r = Math.max(1, s.readers.length);
  return { floor: Math.floor(s.active.length / r), ceil: Math.ceil(s.active.length / r) };
}

/**
 * Whether `reader` should take an unassigned segment: it holds fewer than the fair ceiling, and
 * either fewer than the floor or no more than any other reader (so a newcomer is served first).
 */
export function shouldAcquire(s: GroupState, reader: string): boolean {
  if (s.checkpoint !== null || !s.readers.includes(reader) || !s.active.some((a) => a.owner === null)) return false;
  const counts = heldCounts(s);
  const held = counts.get(reader) ?? 0;
  const { floor, ceil } = fairShare(s);
  if (held >= ceil) return false;
  if (held < floor) return true;
  for (const [r, n] of counts) if (r !== reader && n < held) return false;
  return true;
}

/** Assigns unassigned segments to `reader` while shouldAcquire says so. */
export function acquire(s: GroupState, reader: string): GroupState {
  if (!shouldAcquire(s, reader)) return s;
  const next: GroupState = { ...s, active: [...s.active] };
  while (shouldAcquire(next, reader)) {
    const i = next.active.findIndex((a) => a.owner === null);
    next.active[i] = { ...next.active[i]!, owner: reader };
  }
  return next;
}

/**
 * Whether `reader` should give one segment back: it holds more than the fair ceiling, or more than
 * the floor while another reader holds less than the floor and nothing is unassigned.
 */
export function shouldRelease(s: GroupState, reader: string): boolean {
  if (s.checkpoint !== null || !s.readers.includes(reader)) return false;
  const counts = heldCounts(s);
  const held = counts.get(reader) ?? 0;
  const { floor, ceil } = fairShare(s);
  if (held > ceil) return true;
  if (held <= floor || s.active.some((a) => a.owner === null)) return false;
  for (const [r, n] of counts) if (r !== reader && n < floor) return true;
  return false;
}

/** `reader` gives `segment` back, to be read from `offset`; unchanged unless shouldRelease holds on this state. */
export function release(s: GroupState, reader: string, segment: string, offset: number): GroupState {
  if (!shouldRelease(s, reader) || !s.active.some((a) => a.segment === segment && a.owner === reader)) return s;
  return { ...s, active: s.active.map((a) => (a.segment === segment ? { ...a, owner: null, offset } : a)) };
}

/** Records where `reader` is in the segments it owns (others in `positions` are ignored). */
export function recordPositions(s: GroupState, reader: string, positions: Record<string, number>): GroupState {
  let changed = false;
  const active = s.active.map((a) => {
    if (a.owner !== reader || !Object.hasOwn(positions, a.segment) || positions[a.segment] === a.offset) return a;
    changed = true;
    return { ...a, offset: positions[a.segment]! };
  });
  return changed ? { ...s, active } : s;
}

/**
 * `reader` has read `segment` to `endOffset`: it moves to the completed segments with its
 * `successors` (none: it is final), the successors not yet known wait as future segments, and
 * every group of futures whose predecessors are all complete becomes readable. Unchanged while a
 * checkpoint is pending or when `reader` does not own the segment.
 */
export function complete(s: GroupState, reader: string, segment: string, endOffset: number, successors: readonly SuccessorRange[]): GroupState {
  if (s.checkpoint !== null || !s.active.some((a) => a.segment === segment && a.owner === reader)) return s;
  const known = new Set([...s.active.map((a) => a.segment), ...s.completed.map((c) => c.segment), ...s.future.map((f) => f.segment)]);
  const next: GroupState = {
    ...s,
    active: s.active.filter((a) => a.segment !== segment),
    completed: [...s.completed, { segment, endOffset, final: successors.length === 0, successors: successors.map((x) => x.segment) }],
    future: [...s.future],
  };
  for (const x of successors) {
    if (!known.has(x.segment)) next.future.push({ ...x, predecessors: [...x.predecessors], endOffset: endOffsetOf(s.streams, x.segment) });
  }
  const total = next.active.length + next.completed.length + next.future.length;
  if (total > readerGroupSegmentsMax) throw new InvalidArgumentError(`reader group would hold ${total} segments, more than ${readerGroupSegmentsMax}`);
  return activateReady(next);
}

/** Activates each group of futures linked by shared predecessors once all their predecessors are complete; forgets completed segments no future waits on. */
function activateReady(s: GroupState): GroupState {
  const done = new Set(s.completed.map((c) => c.segment));
  const byPredecessor = new Map<string, FutureSegment[]>();
  for (const f of s.future) {
    for (const p of f.predecessors) byPredecessor.set(p, [...(byPredecessor.get(p) ?? []), f]);
  }
  const visited = new Set<string>();
  const activated = new Set<string>();
  for (const f of s.future) {
    if (visited.has(f.segment)) continue;
    // The futures linked to f through shared predecessors, found breadth first.
    const linked: FutureSegment[] = [f];
    visited.add(f.segment);
    for (let i = 0; i < linked.length; i++) {
      for (const p of linked[i]!.predecessors) {
        for (const g of byPredecessor.get(p) ?? []) {
          if (!visited.has(g.segment)) {
            visited.add(g.segment);
            linked.push(g);
          }
        }
      }
    }
    if (linked.every((g) => g.predecessors.every((p) => done.has(p)))) for (const g of linked) activated.add(g.segment);
  }
  if (activated.size === 0) return s;
  const next: GroupState = { ...s, active: [...s.active], completed: [...s.completed], future: s.future.filter((f) => !activated.has(f.segment)) };
  for (const f of s.future) {
    if (activated.has(f.segment)) activate(next, { segment: f.segment, keyStart: f.keyStart, keyEnd: f.keyEnd, offset: 0, endOffset: f.endOffset });
  }
  const waiting = new Set(next.future.map((f) => f.segment));
  next.completed = next.completed.filter((c) => c.final || c.successors.some((x) => waiting.has(x)));
  return next;
}

/** Nothing left to read: no segment is readable or waiting (every one read to a final end). */
export function isEnd(s: GroupState): boolean {
  return s.active.length === 0 && s.future.length === 0;
}

/**
 * The group's position, one cut per stream: readable segments at their offsets (or at
 * `positions`, segment -> offset, where given) and completed ones at their ends. By the rules in
 * the file comment this is a valid stream cut.
 */
export function cutOf(s: GroupState, positions: Record<string, number> = {}): StreamCut[] {
  const byStream = new Map<string, StreamCut>(s.streams.map((b) => [b.stream, { positions: [] }]));
  const add = (segment: string, offset: number) => byStream.get(streamOf(segment))?.positions.push({ segment, offset });
  for (const a of s.active) add(a.segment, Object.hasOwn(positions, a.segment) ? positions[a.segment]! : a.offset);
  for (const c of s.completed) add(c.segment, c.endOffset);
  return [...byStream.values()];
}

/**
 * Starts checkpoint `name`: the online readers must each reach it; unassigned segments are
 * recorded at their offsets now. With no reader online it completes at once. Raises
 * INVALID_ARGUMENT while another checkpoint is pending.
 */
export function beginCheckpoint(s: GroupState, name: string): { state: GroupState; id: number } {
  if (s.checkpoint !== null) throw new InvalidArgumentError(`checkpoint ${JSON.stringify(s.checkpoint.name)} is still pending; wait for it (or its timeout) before starting ${JSON.stringify(name)}`);
  const id = s.checkpointSeq + 1;
  const positions = Object.fromEntries(s.active.filter((a) => a.owner === null).map((a) => [a.segment, a.offset]));
  const pending: PendingCheckpoint = { id, name, waiting: [...s.readers], positions };
  const state: GroupState = { ...s, checkpointSeq: id, checkpoint: pending };
  return { state: pending.waiting.length === 0 ? finishCheckpoint(state, pending) : state, id };
}

/**
 * `reader` has returned every event before checkpoint `id` and is at `positions` (segment ->
 * offset, for the segments it owns). When it is the last one waited for, the checkpoint completes.
 */
export function reachCheckpoint(s: GroupState, id: number, reader: string, positions: Record<string, number>, leaving = false): GroupState {
  const pending = s.checkpoint;
  if (pending === null || pending.id !== id || !pending.waiting.includes(reader)) return s;
  const recorded = leaving ? s : recordPositions(s, reader, positions);
  const next: PendingCheckpoint = { ...pending, waiting: pending.waiting.filter((r) => r !== reader), positions: { ...pending.positions, ...positions } };
  const state: GroupState = { ...recorded, checkpoint: next };
  return next.waiting.length === 0 ? finishCheckpoint(state, next) : state;
}

function finishCheckpoint(s: GroupState, pending: PendingCheckpoint): GroupState {
  const done: CompletedCheckpoint = { id: pending.id, name: pending.name, cuts: cutOf(s, pending.positions) };
  return { ...s, checkpoint: null, checkpoints: [...s.checkpoints, done].slice(-readerGroupCheckpointsKept) };
}

/** Cancels checkpoint `id` if it is still pending (its timeout passed). */
export function cancelCheckpoint(s: GroupState, id: number): GroupState {
  return s.checkpoint?.id === id ? { ...s, checkpoint: null } : s;
}

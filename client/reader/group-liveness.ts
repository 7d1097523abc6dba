/**
 * Reader identity and liveness in a reader group's state, as pure transitions (group-state.ts
 * keeps the rest). Two faults are handled here:
 *
 * - Two live readers with one id (a rolling restart with a fixed id, a paused process coming
 *   back). Every reader object joins with a random incarnation (ReaderSession); a newer one under
 *   the same id replaces the session and takes over the segments at their recorded positions.
 *   Every change a reader makes goes through asIncarnation, so the older one's changes no longer
 *   apply: it finds itself fenced at its next state change or record and raises CLOSED.
 * - A reader that dies without close(). Each reader holds a lease of `timeoutMs` and renews it
 *   (renew: its beat count goes up, and its positions are recorded with it) every third of it.
 *   Every other participant notes, by ITS OWN monotonic clock, when it last saw each beat change
 *   (BeatWatch); one that has seen no change for longer than the lease declares the reader offline
 *   with expire, conditional on the beat it saw, so a renewal that lands first (or another
 *   participant's expiry) makes it a no-op: exactly one change wins. No wall-clock time is
 *   compared across machines, so clock skew cannot expire a live reader; only the rate of the
 *   clocks matters. Time during which the participant had no answer from the state's store (an
 *   outage, when nobody could renew) does not count as silence: the watch restarts after it.
 *
 * The holder's side of the lease (event-reader.ts): it returns no event later than its lease
 * after it SENT its last confirmed renewal; an observer expires it no earlier than the lease after
 * it SAW that renewal, which is later. So a reader that was paused or cut off for longer than its
 * lease renews before its next event, finds it was declared offline, and raises CLOSED, having
 * returned nothing in the meantime.
 */
import type { GroupState, ReaderSession } from "./group-state.js";
import { leave, recordPositions, sessionOf } from "./group-state.js";

/** Whether `reader` is online as `incarnation` (a newer reader with its id has not replaced it, and it was not declared offline). */
export function isCurrent(s: GroupState, reader: string, incarnation: string): boolean {
  return sessionOf(s, reader)?.incarnation === incarnation;
}

/** `transition` applied for `reader` as `incarnation`; the state unchanged when that incarnation is no longer online (it was fenced). */
export function asIncarnation(s: GroupState, reader: string, incarnation: string, transition: (s: GroupState) => GroupState): GroupState {
  return isCurrent(s, reader, incarnation) ? transition(s) : s;
}

/**
 * `reader` as `incarnation` renews its lease: its beat goes up and its positions (segment ->
 * offset; segments it does not own are ignored) are recorded. Unchanged when it is no longer current.
 */
export function renew(s: GroupState, reader: string, incarnation: string, positions: Record<string, number>): GroupState {
  if (!isCurrent(s, reader, incarnation)) return s;
  const recorded = recordPositions(s, reader, positions);
  return { ...recorded, sessions: recorded.sessions.map((x) => (x.reader === reader ? { ...x, beat: x.beat + 1 } : x)) };
}

/**
 * Declares `reader` offline because its lease ran out: it leaves, its segments go back at their
 * recorded positions. Only if it is still `incarnation` at `beat` (what the caller saw go silent);
 * else unchanged (it renewed meanwhile, or someone else already acted).
 */
export function expire(s: GroupState, reader: string, incarnation: string, beat: number): GroupState {
  const session = sessionOf(s, reader);
  if (session === undefined || session.incarnation !== incarnation || session.beat !== beat) return s;
  return leave(s, reader);
}

/**
 * What one participant has seen of the others' beats, with its own monotonic times. Holds at most
 * one entry per online reader (readerGroupReadersMax).
 */
export class BeatWatch {
  private readonly seen = new Map<string, { incarnation: string; beat: number; sinceMs: number }>();

  /** Notes the beats of `s` at `nowMs`: a beat not seen before starts its silence now. */
  observe(s: GroupState, nowMs: number): void {
    const online = new Set(s.readers);
    for (const x of s.sessions) {
      if (!online.has(x.reader)) continue;
      const before = this.seen.get(x.reader);
      if (before === undefined || before.incarnation !== x.incarnation || before.beat !== x.beat) this.seen.set(x.reader, { incarnation: x.incarnation, beat: x.beat, sinceMs: nowMs });
    }
    for (const reader of this.seen.keys()) if (!online.has(reader)) this.seen.delete(reader);
  }

  /**
   * Starts every silence again at `nowMs`: after this participant lost touch with the state (its
   * store did not answer), when no reader could renew either, so that time is nobody's silence.
   */
  restart(nowMs: number): void {
    for (const x of this.seen.values()) x.sinceMs = Math.max(x.sinceMs, nowMs);
  }

  /**
   * The sessions of `s` with a lease that have shown no new beat for longer than it, as of
   * `nowMs`, except those `skip` names (this participant's own readers). Call observe(s) first.
   */
  silent(s: GroupState, nowMs: number, skip: (session: ReaderSession) => boolean = () => false): ReaderSession[] {
    const out: ReaderSession[] = [];
    for (const x of s.sessions) {
      if (x.timeoutMs <= 0 || skip(x)) continue;
      const seen = this.seen.get(x.reader);
      if (seen === undefined || seen.incarnation !== x.incarnation || seen.beat !== x.beat) continue;
      if (nowMs - seen.sinceMs > x.timeoutMs) out.push(x);
    }
    return out;
  }
}

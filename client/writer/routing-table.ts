/**
 * Which segment writer takes an event, by the key position of its routing key. The table starts as
 * the stream's current segments; when a segment is sealed by a scale its entries are replaced by
 * its successors, each clipped to the entry it replaces. A merge successor also covers neighbours
 * that are not sealed yet: they keep their entries (and writers) until they are sealed in turn, and
 * are then replaced by the same successor, so one successor may own several adjacent entries.
 * Entries are kept sorted, cover [0, 1) without gaps, and adjacent entries of one writer are joined.
 */
import { assert } from "../../common/index.js";

export interface KeySpan {
  keyStart: number;
  keyEnd: number;
}

interface Entry<W> extends KeySpan {
  writer: W;
}

export class RoutingTable<W> {
  private entries: Entry<W>[];

  /** `segments`: the current segments, as (range, writer). */
  constructor(segments: readonly (KeySpan & { writer: W })[]) {
    assert(segments.length > 0, "a routing table has at least one segment");
    this.entries = segments.map((s) => ({ keyStart: s.keyStart, keyEnd: s.keyEnd, writer: s.writer })).sort((a, b) => a.keyStart - b.keyStart);
  }

  /** The writer for key position `position` in [0, 1). */
  lookup(position: number): W {
    const entries = this.entries;
    // The last entry whose start is at or below the position; positions outside every range (a
    // gap the controller should never leave) fall to the nearest entry below, or the first.
    let lo = 0;
    let hi = entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (entries[mid]!.keyStart <= position) lo = mid;
      else hi = mid - 1;
    }
    return entries[lo]!.writer;
  }

  /** Routes to `next` wherever the table routed to `previous` (a writer replaced after it gave up). */
  replaceWriter(previous: W, next: W): void {
    for (const e of this.entries) if (e.writer === previous) e.writer = next;
  }

  /**
   * Replaces every entry of `sealed` by `successors` clipped to it. A part of an entry that no
   * successor covers (the controller's successors cover the sealed range exactly) stays with the
   * successor nearest to it.
   */
  replaceSealed(sealed: W, successors: readonly (KeySpan & { writer: W })[]): void {
    assert(successors.length > 0, "a sealed segment has successors");
    const sorted = [...successors].sort((a, b) => a.keyStart - b.keyStart);
    const next: Entry<W>[] = [];
    for (const e of this.entries) {
      if (e.writer !== sealed) {
        next.push(e);
        continue;
      }
      let cursor = e.keyStart;
      for (const s of sorted) {
        const start = Math.max(e.keyStart, s.keyStart);
        const end = Math.min(e.keyEnd, s.keyEnd);
        if (start >= end) continue;
        // A gap before this successor goes to it.
        next.push({ keyStart: cursor, keyEnd: end, writer: s.writer });
        cursor = end;
      }
      // A gap at the end goes to the last successor that reaches below it, or the first.
      if (cursor < e.keyEnd) {
        const below = sorted.filter((s) => s.keyStart < e.keyEnd).pop() ?? sorted[0]!;
        next.push({ keyStart: cursor, keyEnd: e.keyEnd, writer: below.writer });
      }
    }
    this.entries = join(next);
  }
}

/** Joins adjacent entries of one writer. */
function join<W>(entries: Entry<W>[]): Entry<W>[] {
  const out: Entry<W>[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last !== undefined && last.writer === e.writer && last.keyEnd === e.keyStart) last.keyEnd = e.keyEnd;
    else out.push({ ...e });
  }
  return out;
}

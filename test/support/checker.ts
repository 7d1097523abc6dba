/**
 * A history checker for the client's guarantees (after Jepsen's checkers, much smaller): it records
 * every write (its source, a writer and routing key, and a sequence number per source), which were
 * acknowledged, which belong to aborted transactions, and every read in the order the readers
 * returned them (one process, so that order is real time). `report()` then lists:
 * - lost: acknowledged and never read;
 * - duplicates: read more than once;
 * - order violations: per source, a read whose sequence is below one read before it;
 * - aborted reads: events of an aborted transaction that were read;
 * - unknown reads: events nobody wrote (a torn or corrupt read).
 * Events are `testEvent(source, seq)` (test/support/events.ts).
 */
import { parseTestEvent } from "./events.js";

export interface CheckReport {
  sent: number;
  acked: number;
  read: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  abortedReads: number;
  unknownReads: number;
  /** Up to `examplesMax` of each problem, for the test's message. */
  examples: string[];
}

const examplesMax = 20;

interface SourceHistory {
  /** Highest sequence number written (sent) so far; sequences are sent in order from 0. */
  sentMax: number;
  acked: Set<number>;
  aborted: Set<number>;
  /** How often each sequence was read. */
  reads: Map<number, number>;
  /** Highest sequence read so far, for the order check. */
  readMax: number;
  orderViolations: number;
}

export class Checker {
  private readonly sources = new Map<string, SourceHistory>();
  private readCount = 0;
  private unknownReads = 0;
  private readonly examples: string[] = [];

  /** A write of `seq` by `source` is about to be sent (sequence numbers of a source rise by one from 0). */
  sent(source: string, seq: number): void {
    const h = this.history(source);
    h.sentMax = Math.max(h.sentMax, seq);
  }

  /** The write was acknowledged: it must be read. */
  acked(source: string, seq: number): void {
    this.history(source).acked.add(seq);
  }

  /** The write belongs to a transaction that was aborted: it must never be read. */
  aborted(source: string, seq: number): void {
    this.history(source).aborted.add(seq);
  }

  /** A reader returned this event (call in the order reads happen). */
  read(reader: string, data: Uint8Array): void {
    this.readCount++;
    const { key: source, seq } = parseTestEvent(data);
    const h = this.sources.get(source);
    if (h === undefined || !Number.isSafeInteger(seq) || seq < 0 || seq > h.sentMax) {
      this.unknownReads++;
      this.example(`unknown event ${JSON.stringify(Buffer.from(data).subarray(0, 60).toString("utf8"))} read by ${reader}`);
      return;
    }
    const times = (h.reads.get(seq) ?? 0) + 1;
    h.reads.set(seq, times);
    if (times === 2) this.example(`${source} #${seq} read twice (second by ${reader})`);
    if (seq < h.readMax && times === 1) {
      h.orderViolations++;
      this.example(`${source} #${seq} read by ${reader} after #${h.readMax}`);
    }
    h.readMax = Math.max(h.readMax, seq);
  }

  report(): CheckReport {
    let sent = 0;
    let acked = 0;
    let lost = 0;
    let duplicates = 0;
    let orderViolations = 0;
    let abortedReads = 0;
    const examples = [...this.examples];
    for (const [source, h] of this.sources) {
      sent += h.sentMax + 1;
      acked += h.acked.size;
      orderViolations += h.orderViolations;
      for (const seq of h.acked) {
        if (!h.reads.has(seq)) {
          lost++;
          if (examples.length < examplesMax) examples.push(`${source} #${seq} acknowledged, never read`);
        }
      }
      for (const [seq, times] of h.reads) {
        if (times > 1) duplicates += times - 1;
        if (h.aborted.has(seq)) {
          abortedReads++;
          if (examples.length < examplesMax) examples.push(`${source} #${seq} of an aborted transaction was read`);
        }
      }
    }
    return { sent, acked, read: this.readCount, lost, duplicates, orderViolations, abortedReads, unknownReads: this.unknownReads, examples };
  }

  private history(source: string): SourceHistory {
    let h = this.sources.get(source);
    if (h === undefined) {
      h = { sentMax: -1, acked: new Set(), aborted: new Set(), reads: new Map(), readMax: -1, orderViolations: 0 };
      this.sources.set(source, h);
    }
    return h;
  }

  private example(text: string): void {
    if (this.examples.length < examplesMax) this.examples.push(text);
  }
}

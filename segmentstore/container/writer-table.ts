/**
 * Per-segment writer attributes: writerId -> last event number, durable and pending (queued, not
 * yet durable). Bounded: past `writersPerSegmentMax` the least recently used writer is forgotten,
 * which only weakens dedup for a writer that has been silent longest (a later issue moves
 * attributes to an attribute index in Tier-2, as Pravega does).
 */
import { writersPerSegmentMax } from "../../common/index.js";

export class WriterTable {
  private readonly durableByWriter = new Map<string, number>();
  private readonly pendingByWriter = new Map<string, number>();

  private static key(writerId: Buffer): string {
    return writerId.toString("hex");
  }

  /** Last event number durable for the writer, or -1. */
  durable(writerId: Buffer): number {
    return this.durableByWriter.get(WriterTable.key(writerId)) ?? -1;
  }

  /** Last event number durable or queued for the writer, or -1. */
  latest(writerId: Buffer): number {
    const k = WriterTable.key(writerId);
    return this.pendingByWriter.get(k) ?? this.durableByWriter.get(k) ?? -1;
  }

  setPending(writerId: Buffer, eventNumber: number): void {
    this.pendingByWriter.set(WriterTable.key(writerId), eventNumber);
  }

  setDurable(writerId: Buffer, eventNumber: number): void {
    const k = WriterTable.key(writerId);
    this.durableByWriter.delete(k);
    this.durableByWriter.set(k, eventNumber);
    if (this.pendingByWriter.get(k) === eventNumber) this.pendingByWriter.delete(k);
    if (this.durableByWriter.size > writersPerSegmentMax) {
      const oldest = this.durableByWriter.keys().next();
      if (oldest.done !== true && !this.pendingByWriter.has(oldest.value)) this.durableByWriter.delete(oldest.value);
    }
  }

  /** Every durable (writer id, last event number), for a metadata checkpoint. */
  entries(): { id: Buffer; value: number }[] {
    return [...this.durableByWriter].map(([k, value]) => ({ id: Buffer.from(k, "hex"), value }));
  }

  /** Replaces the durable state with a checkpoint's (recovery only: nothing is pending then). */
  load(entries: readonly { id: Buffer; value: number }[]): void {
    this.durableByWriter.clear();
    for (const e of entries) this.durableByWriter.set(WriterTable.key(e.id), e.value);
  }
}

/**
 * Successors and predecessors, derived from epoch records. A segment S created in epoch e lives in
 * epochs e..k; its successors are the segments of epoch k+1 that overlap S and are not in epoch k,
 * and the predecessors of a segment X created in epoch e are the segments of epoch e-1 that overlap
 * X and are not in epoch e. Epoch records are read one by one by key as needed and remembered for
 * the life of one EpochHistory, which is one request or one workflow step: committed epoch records
 * never change, and a new EpochHistory sees newer epochs. Its memory is bounded by the stream's
 * epoch count, like the stream's metadata itself.
 */
import { assert } from "../../common/index.js";
import type { MetadataStore } from "../store/index.js";
import { idOf, overlaps, requireEpoch, type EpochRecord, type EpochSegment, type SegmentId } from "./stream-metadata.js";

interface LoadedEpoch {
  record: EpochRecord;
  byId: Map<string, EpochSegment>;
}

export class EpochHistory {
  private readonly loaded = new Map<number, LoadedEpoch>();

  constructor(
    private readonly store: MetadataStore,
    readonly scope: string,
    readonly stream: string,
    /** The newest committed epoch this view considers. */
    readonly currentEpoch: number,
  ) {}

  async epoch(epoch: number): Promise<EpochRecord> {
    return (await this.load(epoch)).record;
  }

  /** The segment with this identity, if some epoch up to the current one created it. */
  async find(id: SegmentId): Promise<EpochSegment | undefined> {
    if (!Number.isSafeInteger(id.epoch) || id.epoch < 0 || id.epoch > this.currentEpoch) return undefined;
    return (await this.load(id.epoch)).byId.get(idOf(id));
  }

  /** The last epoch the segment is part of (the current epoch while it is current). */
  async lastEpochOf(segment: SegmentId): Promise<number> {
    let epoch = segment.epoch;
    assert((await this.load(epoch)).byId.has(idOf(segment)), `segment ${idOf(segment)} is in the epoch that created it`);
    while (epoch < this.currentEpoch && (await this.load(epoch + 1)).byId.has(idOf(segment))) epoch++;
    return epoch;
  }

  /** The segments that replaced `segment`; empty while it is current. */
  async successors(segment: EpochSegment): Promise<EpochSegment[]> {
    const last = await this.lastEpochOf(segment);
    if (last === this.currentEpoch) return [];
    const during = await this.load(last);
    const after = await this.load(last + 1);
    return after.record.segments.filter((x) => overlaps(x, segment) && !during.byId.has(idOf(x)));
  }

  /** The segments `segment` replaced; empty for a segment of epoch 0. */
  async predecessors(segment: EpochSegment): Promise<EpochSegment[]> {
    if (segment.epoch === 0) return [];
    const before = await this.load(segment.epoch - 1);
    const created = await this.load(segment.epoch);
    return before.record.segments.filter((p) => overlaps(p, segment) && !created.byId.has(idOf(p)));
  }

  /**
   * Every segment reachable from `start` by successor links (a start segment only if it is reached
   * from another), not following links out of a segment for which `stop` answers true. By id.
   */
  descendants(start: readonly EpochSegment[], stop: (s: EpochSegment) => boolean = () => false): Promise<Map<string, EpochSegment>> {
    return this.reach(start, stop, (s) => this.successors(s));
  }

  /**
   * Every segment reachable from `start` by predecessor links, not following links out of a segment
   * for which `stop` answers true. By id.
   */
  ancestors(start: readonly EpochSegment[], stop: (s: EpochSegment) => boolean = () => false): Promise<Map<string, EpochSegment>> {
    return this.reach(start, stop, (s) => this.predecessors(s));
  }

  /** Breadth-first walk along `links` from `start`. */
  private async reach(start: readonly EpochSegment[], stop: (s: EpochSegment) => boolean, links: (s: EpochSegment) => Promise<EpochSegment[]>): Promise<Map<string, EpochSegment>> {
    const reached = new Map<string, EpochSegment>();
    const expanded = new Set<string>();
    const queue = [...start];
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      if (expanded.has(idOf(s)) || stop(s)) continue;
      expanded.add(idOf(s));
      for (const next of await links(s)) {
        if (!reached.has(idOf(next))) {
          reached.set(idOf(next), next);
          queue.push(next);
        }
      }
    }
    return reached;
  }

  private async load(epoch: number): Promise<LoadedEpoch> {
    assert(Number.isSafeInteger(epoch) && epoch >= 0 && epoch <= this.currentEpoch, `epoch ${epoch} is within 0..${this.currentEpoch}`);
    let found = this.loaded.get(epoch);
    if (found === undefined) {
      const record = await requireEpoch(this.store, this.scope, this.stream, epoch);
      found = { record, byId: new Map(record.segments.map((s) => [idOf(s), s])) };
      this.loaded.set(epoch, found);
    }
    return found;
  }
}

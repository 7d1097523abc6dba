/**
 * Segment attributes: 16-byte ids mapped to integers (reader-group state versions, transaction
 * markers, ...), durable and pending (accepted, not yet durable) like the writer table. A value of
 * -1 means absent. Bounded at `segmentAttributesMax` per segment: an update that would hold more
 * is refused, never silently dropped, because callers build on attributes.
 */
import { InvalidArgumentError, segmentAttributesMax } from "../../common/index.js";

export interface AttributeEntry {
  id: Buffer;
  value: number;
}

export class AttributeTable {
  private readonly durableById = new Map<string, number>();
  /** The last value queued per id and how many queued updates touch it. */
  private readonly pendingById = new Map<string, { value: number; count: number }>();

  /** The value of `id` counting accepted updates, or -1. */
  latest(id: Buffer): number {
    const k = id.toString("hex");
    return this.pendingById.get(k)?.value ?? this.durableById.get(k) ?? -1;
  }

  /** The durable value of `id`, or -1. */
  durable(id: Buffer): number {
    return this.durableById.get(id.toString("hex")) ?? -1;
  }

  /** Raises INVALID_ARGUMENT when the updates would leave more than the bound present. */
  checkBound(updates: readonly AttributeEntry[], segment: string): void {
    const present = new Set<string>(this.durableById.keys());
    for (const [k, p] of this.pendingById) {
      if (p.value === -1) present.delete(k);
      else present.add(k);
    }
    for (const u of updates) {
      const k = u.id.toString("hex");
      if (u.value === -1) present.delete(k);
      else present.add(k);
    }
    if (present.size > segmentAttributesMax) {
      throw new InvalidArgumentError(`segment ${segment} would hold ${present.size} attributes; the bound is ${segmentAttributesMax}: remove some first`);
    }
  }

  setPending(updates: readonly AttributeEntry[]): void {
    for (const u of updates) {
      const k = u.id.toString("hex");
      const p = this.pendingById.get(k);
      this.pendingById.set(k, { value: u.value, count: (p?.count ?? 0) + 1 });
    }
  }

  /** Applies durable updates; `live` also retires their pending marks (recovery has none). */
  apply(updates: readonly AttributeEntry[], live: boolean): void {
    for (const u of updates) {
      const k = u.id.toString("hex");
      if (u.value === -1) this.durableById.delete(k);
      else this.durableById.set(k, u.value);
      if (!live) continue;
      const p = this.pendingById.get(k);
      if (p !== undefined && --p.count === 0) this.pendingById.delete(k);
    }
  }

  entries(): AttributeEntry[] {
    return [...this.durableById].map(([k, value]) => ({ id: Buffer.from(k, "hex"), value }));
  }

  load(entries: readonly AttributeEntry[]): void {
    this.durableById.clear();
    for (const e of entries) this.durableById.set(e.id.toString("hex"), e.value);
  }
}

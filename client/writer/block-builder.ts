/**
 * Builds AppendBlock data (`u32 length | payload` per event) in slabs, so that many small events
 * cost one copy each and no allocation each. A block is a contiguous range of a slab; a slab is
 * released when every block cut from it has been acknowledged and dropped.
 */
import { assert, eventHeaderBytes, writerBlockBytesMax } from "../../common/index.js";

const slabBytes = writerBlockBytesMax;

export class BlockBuilder {
  private slab = Buffer.allocUnsafe(slabBytes);
  private start = 0;
  private used = 0;
  private count = 0;

  get eventCount(): number {
    return this.count;
  }

  get bytes(): number {
    return this.used - this.start;
  }

  /** True when an event of `payloadBytes` fits the open block without passing the block bound. */
  fits(payloadBytes: number): boolean {
    return this.bytes + eventHeaderBytes + payloadBytes <= writerBlockBytesMax || this.count === 0;
  }

  add(payload: Uint8Array): void {
    const need = eventHeaderBytes + payload.length;
    if (this.used + need > this.slab.length) this.moveToNewSlab(need);
    this.slab.writeUInt32BE(payload.length, this.used);
    this.slab.set(payload, this.used + eventHeaderBytes);
    this.used += need;
    this.count++;
  }

  /** Cuts the open block and starts the next one after it. */
  cut(): { data: Buffer; eventCount: number } {
    assert(this.count > 0, "cut a non-empty block");
    const block = { data: this.slab.subarray(this.start, this.used), eventCount: this.count };
    this.start = this.used;
    this.count = 0;
    return block;
  }

  /** The open block does not fit the rest of the slab: carry it over to a new one. */
  private moveToNewSlab(need: number): void {
    const open = this.slab.subarray(this.start, this.used);
    const next = Buffer.allocUnsafe(Math.max(slabBytes, open.length + need));
    open.copy(next, 0);
    this.slab = next;
    this.start = 0;
    this.used = open.length;
  }
}

/**
 * Builds AppendBlock data (`u32 length | payload` per event) in slabs, so that many small events
 * cost one copy each and no allocation each. A block is a contiguous range of a slab; a slab is
 * released when every block cut from it has been acknowledged and dropped. Beside the data a block
 * keeps each event's key position and the write groups its events belong to, so that after a scale
 * its unstored events can be routed again to the successors.
 */
import { assert, eventHeaderBytes, writerBlockBytesMax } from "../../common/index.js";
import type { CarriedEvent, Run, WriteGroup } from "./write-group.js";

const slabBytes = writerBlockBytesMax;

export interface BuiltBlock {
  data: Buffer;
  eventCount: number;
  /** Key position of each event, in order. */
  positions: number[];
  /** The groups of its events, in order, as runs of consecutive events. */
  runs: Run[];
}

export class BlockBuilder {
  private slab = Buffer.allocUnsafe(slabBytes);
  private start = 0;
  private used = 0;
  private count = 0;
  private positions: number[] = [];
  private runs: Run[] = [];

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

  add(payload: Uint8Array, position: number, group: WriteGroup): void {
    const need = eventHeaderBytes + payload.length;
    if (this.used + need > this.slab.length) this.moveToNewSlab(need);
    this.slab.writeUInt32BE(payload.length, this.used);
    this.slab.set(payload, this.used + eventHeaderBytes);
    this.used += need;
    this.count++;
    this.positions.push(position);
    const last = this.runs[this.runs.length - 1];
    if (last?.group === group) last.count++;
    else this.runs.push({ group, count: 1 });
  }

  /** Cuts the open block and starts the next one after it. */
  cut(): BuiltBlock {
    assert(this.count > 0, "cut a non-empty block");
    const block = { data: this.slab.subarray(this.start, this.used), eventCount: this.count, positions: this.positions, runs: this.runs };
    this.start = this.used;
    this.count = 0;
    this.positions = [];
    this.runs = [];
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

/**
 * Splits a cut block at event index `stored`: the groups of the first `stored` events are told they
 * are durable, and the rest are returned to be carried elsewhere, in order. Returns the bytes (with
 * headers) of the stored events, to be released.
 */
export function splitBlock(block: BuiltBlock, stored: number, rest: CarriedEvent[]): number {
  let offset = 0;
  let index = 0;
  let storedBytes = 0;
  for (const run of block.runs) {
    let storedInRun = 0;
    for (let i = 0; i < run.count; i++, index++) {
      const length = block.data.readUInt32BE(offset);
      const payload = block.data.subarray(offset + eventHeaderBytes, offset + eventHeaderBytes + length);
      offset += eventHeaderBytes + length;
      if (index < stored) {
        storedInRun++;
        storedBytes += eventHeaderBytes + length;
      } else {
        rest.push({ payload, position: block.positions[index]!, group: run.group });
      }
    }
    if (storedInRun > 0) run.group.stored(storedInRun);
  }
  assert(index === block.eventCount && offset === block.data.length, "a block's runs cover its events");
  return storedBytes;
}

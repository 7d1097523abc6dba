/**
 * Container operations as they are written to Tier-1. A log entry is a sequence of operations,
 * each `u8 kind | u32 bodyLength | body`; event data is carried as the trailing slice of an append
 * body and handed to the log as its own piece (never copied into the entry). Kinds are never
 * renumbered: logs written by earlier versions replay unchanged.
 *
 *   1 CreateSegment:     u32 segmentId | u16 nameLength | name
 *   2 Append:            u32 segmentId | uuid writerId | i64 lastEventNumber | u32 eventCount | data
 *   3 ConditionalAppend: u32 segmentId | uuid writerId | i64 lastEventNumber | u32 eventCount | i64 expectedOffset | data
 *   4 Seal:              u32 segmentId
 *   5 Truncate:          u32 segmentId | i64 startOffset
 *   6 Merge:             u32 targetId | u32 sourceId
 *   7 Delete:            u32 segmentId
 *   8 UpdateAttributes:  u32 segmentId | u16 count | count x (uuid id | i64 value, -1 = remove)
 *   9 CheckpointBegin:   u32 segmentCount | u32 nextSegmentId
 *  10 CheckpointSegment: u32 segmentId | u16 nameLength | name | i64 startOffset | i64 length | u8 flags (bit 0 sealed)
 *                        | i64 lastModifiedMs | u32 writerCount | writers x (uuid | i64) | u32 attributeCount | attributes x (uuid | i64)
 *  11 CheckpointEnd:     u32 segmentCount
 *  12 ChunkAdded:        u32 segmentId | chunk
 *  13 CheckpointChunks:  u32 segmentId | u32 count | count x chunk
 *     where chunk is     i64 offset | i64 length | u16 nameLength | name
 *
 * A metadata checkpoint is a Begin, for each segment a Segment followed by the Chunks operations
 * listing its Tier-2 chunks (none, one, or several for a long list), and an End, written back to
 * back with nothing between them; recovery uses only a complete one.
 */
import { assert, unreachable, DataCorruptionError } from "../../common/index.js";
import type { ChunkRef } from "../readindex/segment-data.js";

export interface AttributeValue {
  id: Buffer;
  /** -1 removes the attribute. */
  value: number;
}

export interface CheckpointSegment {
  segmentId: number;
  name: string;
  startOffset: number;
  length: number;
  sealed: boolean;
  lastModifiedMs: number;
  writers: AttributeValue[];
  attributes: AttributeValue[];
}

export type Operation =
  | { kind: "CreateSegment"; segmentId: number; name: string }
  | { kind: "Append"; segmentId: number; writerId: Buffer; lastEventNumber: number; eventCount: number; data: Buffer; expectedOffset?: number }
  | { kind: "Seal"; segmentId: number }
  | { kind: "Truncate"; segmentId: number; startOffset: number }
  | { kind: "Merge"; targetId: number; sourceId: number }
  | { kind: "Delete"; segmentId: number }
  | { kind: "UpdateAttributes"; segmentId: number; updates: AttributeValue[] }
  | { kind: "CheckpointBegin"; segmentCount: number; nextSegmentId: number }
  | ({ kind: "CheckpointSegment" } & CheckpointSegment)
  | { kind: "CheckpointEnd"; segmentCount: number }
  | { kind: "ChunkAdded"; segmentId: number; chunk: ChunkRef }
  | { kind: "CheckpointChunks"; segmentId: number; chunks: ChunkRef[] };

const kinds = {
  CreateSegment: 1,
  Append: 2,
  ConditionalAppend: 3,
  Seal: 4,
  Truncate: 5,
  Merge: 6,
  Delete: 7,
  UpdateAttributes: 8,
  CheckpointBegin: 9,
  CheckpointSegment: 10,
  CheckpointEnd: 11,
  ChunkAdded: 12,
  CheckpointChunks: 13,
} as const;

const opHeaderBytes = 5;
const appendFixedBytes = 4 + 16 + 8 + 4;
const pairBytes = 16 + 8;
const chunkFixedBytes = 8 + 8 + 2;

/** Writes fields in order into a buffer of exactly the operation's size. */
class OpWriter {
  readonly buf: Buffer;
  private at = opHeaderBytes;

  constructor(kind: number, bodyBytes: number, trailingBytes = 0) {
    this.buf = Buffer.allocUnsafe(opHeaderBytes + bodyBytes);
    this.buf.writeUInt8(kind, 0);
    this.buf.writeUInt32BE(bodyBytes + trailingBytes, 1);
  }
  u8(v: number): this {
    this.at = this.buf.writeUInt8(v, this.at);
    return this;
  }
  u16(v: number): this {
    this.at = this.buf.writeUInt16BE(v, this.at);
    return this;
  }
  u32(v: number): this {
    this.at = this.buf.writeUInt32BE(v, this.at);
    return this;
  }
  i64(v: number): this {
    assert(Number.isSafeInteger(v) && v >= -1, `i64 field ${v} out of range`);
    this.buf.writeInt32BE(Math.floor(v / 4294967296), this.at);
    this.buf.writeUInt32BE(v >>> 0, this.at + 4);
    this.at += 8;
    return this;
  }
  bytes(b: Buffer): this {
    this.at += b.copy(this.buf, this.at);
    return this;
  }
  pairs(list: readonly AttributeValue[]): this {
    for (const p of list) {
      assert(p.id.length === 16, "attribute ids are 16 bytes");
      this.bytes(p.id).i64(p.value);
    }
    return this;
  }
  chunk(c: ChunkRef, name: Buffer): this {
    return this.i64(c.offset).i64(c.length).u16(name.length).bytes(name);
  }
  done(): Buffer {
    assert(this.at === this.buf.length, "operation encoded to its exact size");
    return this.buf;
  }
}

/** Encodes `op` as pieces for a writev: a header buffer and, for appends, the data as is. */
export function encodeOperation(op: Operation): Buffer[] {
  switch (op.kind) {
    case "CreateSegment": {
      const name = Buffer.from(op.name, "utf8");
      return [new OpWriter(kinds.CreateSegment, 6 + name.length).u32(op.segmentId).u16(name.length).bytes(name).done()];
    }
    case "Append": {
      assert(op.writerId.length === 16, "writer id is 16 bytes");
      const conditional = op.expectedOffset !== undefined;
      const w = new OpWriter(conditional ? kinds.ConditionalAppend : kinds.Append, appendFixedBytes + (conditional ? 8 : 0), op.data.length);
      w.u32(op.segmentId).bytes(op.writerId).i64(op.lastEventNumber).u32(op.eventCount);
      if (op.expectedOffset !== undefined) w.i64(op.expectedOffset);
      return [w.done(), op.data];
    }
    case "Seal":
    case "Delete":
      return [new OpWriter(kinds[op.kind], 4).u32(op.segmentId).done()];
    case "Truncate":
      return [new OpWriter(kinds.Truncate, 12).u32(op.segmentId).i64(op.startOffset).done()];
    case "Merge":
      return [new OpWriter(kinds.Merge, 8).u32(op.targetId).u32(op.sourceId).done()];
    case "UpdateAttributes":
      return [new OpWriter(kinds.UpdateAttributes, 6 + op.updates.length * pairBytes).u32(op.segmentId).u16(op.updates.length).pairs(op.updates).done()];
    case "CheckpointBegin":
      return [new OpWriter(kinds.CheckpointBegin, 8).u32(op.segmentCount).u32(op.nextSegmentId).done()];
    case "CheckpointSegment": {
      const name = Buffer.from(op.name, "utf8");
      const body = 4 + 2 + name.length + 8 + 8 + 1 + 8 + 4 + op.writers.length * pairBytes + 4 + op.attributes.length * pairBytes;
      const w = new OpWriter(kinds.CheckpointSegment, body);
      w.u32(op.segmentId).u16(name.length).bytes(name).i64(op.startOffset).i64(op.length).u8(op.sealed ? 1 : 0).i64(op.lastModifiedMs);
      w.u32(op.writers.length).pairs(op.writers).u32(op.attributes.length).pairs(op.attributes);
      return [w.done()];
    }
    case "CheckpointEnd":
      return [new OpWriter(kinds.CheckpointEnd, 4).u32(op.segmentCount).done()];
    case "ChunkAdded": {
      const name = Buffer.from(op.chunk.name, "utf8");
      return [new OpWriter(kinds.ChunkAdded, 4 + chunkFixedBytes + name.length).u32(op.segmentId).chunk(op.chunk, name).done()];
    }
    case "CheckpointChunks": {
      const names = op.chunks.map((c) => Buffer.from(c.name, "utf8"));
      const body = 8 + names.reduce((n, b) => n + chunkFixedBytes + b.length, 0);
      const w = new OpWriter(kinds.CheckpointChunks, body).u32(op.segmentId).u32(op.chunks.length);
      op.chunks.forEach((c, i) => w.chunk(c, names[i]!));
      return [w.done()];
    }
    default:
      return unreachable(op, "operation");
  }
}

/** The bytes `op` takes in a log entry. */
export function operationBytes(op: Operation): number {
  // Appends are the hot path: counted without encoding.
  if (op.kind === "Append") return opHeaderBytes + appendFixedBytes + (op.expectedOffset === undefined ? 0 : 8) + op.data.length;
  let n = 0;
  for (const piece of encodeOperation(op)) n += piece.length;
  return n;
}

/** Reads fields of one operation body; any overrun is DATA_CORRUPTION. */
class OpReader {
  private at = 0;
  constructor(
    private readonly b: Buffer,
    private readonly corrupt: (why: string) => Error,
  ) {}
  private need(n: number): void {
    if (this.at + n > this.b.length) throw this.corrupt("body too short");
  }
  u8(): number {
    this.need(1);
    return this.b.readUInt8(this.at++);
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  i64(): number {
    this.need(8);
    const v = this.b.readInt32BE(this.at) * 4294967296 + this.b.readUInt32BE(this.at + 4);
    this.at += 8;
    if (!Number.isSafeInteger(v) || v < -1) throw this.corrupt(`i64 ${v} out of range`);
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  string(): string {
    return this.bytes(this.u16()).toString("utf8");
  }
  pairs(count: number): AttributeValue[] {
    if (count * pairBytes > this.b.length - this.at) throw this.corrupt(`${count} pairs do not fit`);
    const out: AttributeValue[] = [];
    for (let i = 0; i < count; i++) out.push({ id: this.bytes(16), value: this.i64() });
    return out;
  }
  chunk(): ChunkRef {
    const offset = this.i64();
    const length = this.i64();
    return { offset, length, name: this.string() };
  }
  rest(): Buffer {
    const v = this.b.subarray(this.at);
    this.at = this.b.length;
    return v;
  }
  end(): void {
    if (this.at !== this.b.length) throw this.corrupt(`${this.b.length - this.at} trailing bytes`);
  }
}

function decodeOne(kind: number, r: OpReader, corrupt: (why: string) => Error): Operation {
  switch (kind) {
    case kinds.CreateSegment:
      return { kind: "CreateSegment", segmentId: r.u32(), name: r.string() };
    case kinds.Append:
    case kinds.ConditionalAppend: {
      const segmentId = r.u32();
      const writerId = r.bytes(16);
      const lastEventNumber = r.i64();
      const eventCount = r.u32();
      if (kind === kinds.Append) return { kind: "Append", segmentId, writerId, lastEventNumber, eventCount, data: r.rest() };
      const expectedOffset = r.i64();
      return { kind: "Append", segmentId, writerId, lastEventNumber, eventCount, expectedOffset, data: r.rest() };
    }
    case kinds.Seal:
      return { kind: "Seal", segmentId: r.u32() };
    case kinds.Delete:
      return { kind: "Delete", segmentId: r.u32() };
    case kinds.Truncate:
      return { kind: "Truncate", segmentId: r.u32(), startOffset: r.i64() };
    case kinds.Merge:
      return { kind: "Merge", targetId: r.u32(), sourceId: r.u32() };
    case kinds.UpdateAttributes: {
      const segmentId = r.u32();
      return { kind: "UpdateAttributes", segmentId, updates: r.pairs(r.u16()) };
    }
    case kinds.CheckpointBegin:
      return { kind: "CheckpointBegin", segmentCount: r.u32(), nextSegmentId: r.u32() };
    case kinds.CheckpointSegment: {
      const segmentId = r.u32();
      const name = r.string();
      const startOffset = r.i64();
      const length = r.i64();
      const sealed = (r.u8() & 1) === 1;
      const lastModifiedMs = r.i64();
      const writers = r.pairs(r.u32());
      const attributes = r.pairs(r.u32());
      return { kind: "CheckpointSegment", segmentId, name, startOffset, length, sealed, lastModifiedMs, writers, attributes };
    }
    case kinds.CheckpointEnd:
      return { kind: "CheckpointEnd", segmentCount: r.u32() };
    case kinds.ChunkAdded: {
      const segmentId = r.u32();
      return { kind: "ChunkAdded", segmentId, chunk: r.chunk() };
    }
    case kinds.CheckpointChunks: {
      const segmentId = r.u32();
      const count = r.u32();
      const chunks: ChunkRef[] = [];
      for (let i = 0; i < count; i++) chunks.push(r.chunk());
      return { kind: "CheckpointChunks", segmentId, chunks };
    }
    default:
      throw corrupt(`unknown kind ${kind}`);
  }
}

/**
 * Decodes every operation of a log entry. The entry passed its journal checksum, so a malformed
 * operation means a bug or corruption past the checksum: DATA_CORRUPTION, never skipped.
 */
export function decodeOperations(entry: Buffer, where: string): Operation[] {
  const ops: Operation[] = [];
  let at = 0;
  const corrupt = (why: string) => new DataCorruptionError(`${where}: bad operation at byte ${at}: ${why}`);
  while (at < entry.length) {
    if (entry.length - at < opHeaderBytes) throw corrupt("short header");
    const kind = entry.readUInt8(at);
    const body = entry.readUInt32BE(at + 1);
    const start = at + opHeaderBytes;
    if (start + body > entry.length) throw corrupt("body past entry end");
    const r = new OpReader(entry.subarray(start, start + body), corrupt);
    ops.push(decodeOne(kind, r, corrupt));
    r.end();
    at = start + body;
  }
  return ops;
}

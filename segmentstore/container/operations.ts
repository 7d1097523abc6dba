/**
 * Container operations as they are written to Tier-1. A log entry is a sequence of operations,
 * each `u8 kind | u32 bodyLength | body`; event data is carried as the trailing slice of an Append
 * body and handed to the journal as its own piece (never copied into the entry).
 *
 *   CreateSegment: u32 segmentId | u16 nameLength | name
 *   Append:        u32 segmentId | uuid writerId | i64 lastEventNumber | u32 eventCount | data
 */
import { assert, unreachable, DataCorruptionError } from "../../common/index.js";

export type Operation =
  | { kind: "CreateSegment"; segmentId: number; name: string }
  | { kind: "Append"; segmentId: number; writerId: Buffer; lastEventNumber: number; eventCount: number; data: Buffer };

const kindCreateSegment = 1;
const kindAppend = 2;
const opHeaderBytes = 5;
const appendFixedBytes = 4 + 16 + 8 + 4;

function writeI64(buf: Buffer, value: number, at: number): void {
  buf.writeInt32BE(Math.floor(value / 4294967296), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

function readI64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

/** Encodes `op` as pieces for a writev: a header buffer and, for appends, the data as is. */
export function encodeOperation(op: Operation): Buffer[] {
  switch (op.kind) {
    case "CreateSegment": {
      const name = Buffer.from(op.name, "utf8");
      const body = 4 + 2 + name.length;
      const buf = Buffer.allocUnsafe(opHeaderBytes + body);
      buf.writeUInt8(kindCreateSegment, 0);
      buf.writeUInt32BE(body, 1);
      buf.writeUInt32BE(op.segmentId, 5);
      buf.writeUInt16BE(name.length, 9);
      name.copy(buf, 11);
      return [buf];
    }
    case "Append": {
      assert(op.writerId.length === 16, "writer id is 16 bytes");
      const buf = Buffer.allocUnsafe(opHeaderBytes + appendFixedBytes);
      buf.writeUInt8(kindAppend, 0);
      buf.writeUInt32BE(appendFixedBytes + op.data.length, 1);
      buf.writeUInt32BE(op.segmentId, 5);
      op.writerId.copy(buf, 9);
      writeI64(buf, op.lastEventNumber, 25);
      buf.writeUInt32BE(op.eventCount, 33);
      return [buf, op.data];
    }
    default:
      return unreachable(op, "operation");
  }
}

export function operationBytes(op: Operation): number {
  switch (op.kind) {
    case "CreateSegment":
      return opHeaderBytes + 6 + Buffer.byteLength(op.name);
    case "Append":
      return opHeaderBytes + appendFixedBytes + op.data.length;
    default:
      return unreachable(op, "operation");
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
    const b = entry.subarray(start, start + body);
    switch (kind) {
      case kindCreateSegment: {
        if (b.length < 6 || b.length !== 6 + b.readUInt16BE(4)) throw corrupt("CreateSegment length");
        ops.push({ kind: "CreateSegment", segmentId: b.readUInt32BE(0), name: b.toString("utf8", 6) });
        break;
      }
      case kindAppend: {
        if (b.length < appendFixedBytes) throw corrupt("Append length");
        ops.push({
          kind: "Append",
          segmentId: b.readUInt32BE(0),
          writerId: b.subarray(4, 20),
          lastEventNumber: readI64(b, 20),
          eventCount: b.readUInt32BE(28),
          data: b.subarray(appendFixedBytes),
        });
        break;
      }
      default:
        throw corrupt(`unknown kind ${kind}`);
    }
    at = start + body;
  }
  return ops;
}

/**
 * The record format of record files (see record-log.ts for the layout): constants, the encoder,
 * and the marker that closes every batch.
 */
import { crc32 } from "node:zlib";
import { assert } from "./assert.js";
import { InvalidArgumentError } from "./errors.js";
import { journalBatchBytesMax, journalRecordHeaderBytes, logEntryBytesMax } from "./limits.js";

/**
 * Longest tail of a file that a crash can have torn: one whole batch, which is at most
 * journalBatchBytesMax of records, or a single record larger than that going alone.
 */
export const tornWindowBytes = journalBatchBytesMax + logEntryBytesMax + 2 * journalRecordHeaderBytes;

/**
 * Every batch ends with a marker: an empty record with this flag. Recovery uses the markers to
 * tell a torn last batch (cut it) from a damaged batch that a later batch follows (it was synced
 * before the later one was written, so the damage is corruption: report it).
 */
export const batchEndFlag = 1;

/** Field offsets inside the record header. */
export const crcOffset = 0;
export const lengthOffset = 4;
export const tagOffset = 8;
export const flagsOffset = 12;
export const seqHighOffset = 16;
export const seqLowOffset = 20;
const u32Max = 0xffff_ffff;
export const seqHighMax = Math.floor(Number.MAX_SAFE_INTEGER / 2 ** 32);

assert(journalRecordHeaderBytes === seqLowOffset + 4, "the record header layout matches its limit");

/**
 * Encodes one record as a header buffer followed by the payload pieces, which are not copied. The
 * crc is chained over the pieces. Throws INVALID_ARGUMENT for a tag that is not a u32, a seq that
 * is not a safe integer >= 0, or a payload above logEntryBytesMax.
 */
export function encodeRecord(tag: number, seq: number, payload: Buffer | readonly Buffer[]): Buffer[] {
  return encodeRecordWithFlags(tag, seq, payload, 0);
}

/** The marker closing every batch (see batchEndFlag). Its bytes never change. */
export const batchEndMarker = encodeRecordWithFlags(0, 0, [], batchEndFlag)[0]!;

function encodeRecordWithFlags(tag: number, seq: number, payload: Buffer | readonly Buffer[], flags: number): Buffer[] {
  if (!Number.isInteger(tag) || tag < 0 || tag > u32Max) {
    throw new InvalidArgumentError(`record tag ${tag} is not an integer in [0, ${u32Max}]`);
  }
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidArgumentError(`record seq ${seq} is not a safe integer >= 0`);
  }
  const pieces: readonly Buffer[] = Buffer.isBuffer(payload) ? [payload] : payload;
  let payloadLength = 0;
  for (const piece of pieces) payloadLength += piece.length;
  if (payloadLength > logEntryBytesMax) {
    throw new InvalidArgumentError(`record payload of ${payloadLength} bytes is above the limit of ${logEntryBytesMax}`);
  }
  const header = Buffer.allocUnsafe(journalRecordHeaderBytes);
  header.writeUInt32BE(payloadLength, lengthOffset);
  header.writeUInt32BE(tag, tagOffset);
  header.writeUInt32BE(flags, flagsOffset);
  header.writeInt32BE(Math.floor(seq / 2 ** 32), seqHighOffset);
  header.writeUInt32BE(seq % 2 ** 32, seqLowOffset);
  let crc = crc32(header.subarray(lengthOffset));
  for (const piece of pieces) crc = crc32(piece, crc);
  header.writeUInt32BE(crc, crcOffset);
  return [header, ...pieces];
}

/** A record read back whole from its known position (see verifyRecord). */
export interface VerifiedRecord {
  tag: number;
  seq: number;
  /** The payload, a view into the buffer read (not a copy). */
  payload: Buffer;
}

/**
 * Checks one whole record read back from where it was written, as the recovery scan checks it:
 * the length field matches the buffer, the crc over header and payload matches, flags are 0 and
 * the seq is in range. Answers the record, or why it is bad. The caller compares tag and seq with
 * what it expected there.
 */
export function verifyRecord(record: Buffer): VerifiedRecord | { bad: string } {
  if (record.length < journalRecordHeaderBytes) return { bad: `${record.length} bytes is shorter than a record header` };
  const payloadLength = record.readUInt32BE(lengthOffset);
  if (payloadLength !== record.length - journalRecordHeaderBytes) {
    return { bad: `payload length ${payloadLength} where ${record.length - journalRecordHeaderBytes} was written` };
  }
  const storedCrc = record.readUInt32BE(crcOffset);
  const crc = crc32(record.subarray(lengthOffset));
  if (crc !== storedCrc) return { bad: `crc ${crc} does not match the stored ${storedCrc}` };
  const flags = record.readUInt32BE(flagsOffset);
  if (flags !== 0) return { bad: `flags ${flags} where a record has 0` };
  const seqHigh = record.readInt32BE(seqHighOffset);
  if (seqHigh < 0 || seqHigh > seqHighMax) return { bad: `seq high word ${seqHigh} is out of range` };
  return {
    tag: record.readUInt32BE(tagOffset),
    seq: seqHigh * 2 ** 32 + record.readUInt32BE(seqLowOffset),
    payload: record.subarray(journalRecordHeaderBytes),
  };
}

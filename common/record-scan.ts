/**
 * Recovery reads of record files: the sequential scan that replays good records and stops at the
 * first bad one, and the look past a bad record for proof that a later batch was written.
 */
import type { FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { InternalError } from "./errors.js";
import { journalRecordHeaderBytes, logEntryBytesMax, recordReadChunkBytes } from "./limits.js";
import {
  batchEndFlag,
  crcOffset,
  flagsOffset,
  lengthOffset,
  seqHighMax,
  seqHighOffset,
  seqLowOffset,
  tagOffset,
  tornWindowBytes,
} from "./record-format.js";
import type { RecordFileRecord } from "./record-log.js";

export interface ScanResult {
  records: number;
  validBytes: number;
  /** End of the last batch whose closing marker was read. */
  lastBatchEnd: number;
  bad?: { position: number; reason: string };
}

/**
 * Reads records from `start` (a record boundary: 0, or where a scan resumes past a damaged record)
 * through one reused chunk buffer, allocating only each record's payload, and stops at the first
 * bad or incomplete record. `lastBatchEnd` starts at `start`.
 */
export async function scanRecords(
  handle: FileHandle,
  path: string,
  fileBytes: number,
  onRecord: (rec: RecordFileRecord) => void,
  start = 0,
): Promise<ScanResult> {
  const chunk = Buffer.allocUnsafe(Math.min(recordReadChunkBytes, Math.max(fileBytes - start, journalRecordHeaderBytes)));
  let chunkStart = start; // file position of chunk[0]
  let chunkEnd = start; // file position just past the last byte held in chunk
  let position = start;
  let records = 0;
  let lastBatchEnd = start;
  const bad = (reason: string): ScanResult => ({ records, validBytes: position, lastBatchEnd, bad: { position, reason } });

  while (position < fileBytes) {
    if (fileBytes - position < journalRecordHeaderBytes) return bad("incomplete header");
    if (position + journalRecordHeaderBytes > chunkEnd) {
      // Refill from the record's start; re-reading the few header bytes left in the chunk is
      // cheaper to reason about than shifting them.
      const want = Math.min(chunk.length, fileBytes - position);
      await readFully(handle, path, chunk, 0, want, position);
      chunkStart = position;
      chunkEnd = position + want;
    }
    const h = position - chunkStart;
    const payloadLength = chunk.readUInt32BE(h + lengthOffset);
    // The length is checked against its limit and against the file before anything is allocated.
    if (payloadLength > logEntryBytesMax) return bad(`payload length ${payloadLength} is above ${logEntryBytesMax}`);
    const payloadStart = position + journalRecordHeaderBytes;
    const recordEnd = payloadStart + payloadLength;
    if (recordEnd > fileBytes) return bad("incomplete payload");

    const storedCrc = chunk.readUInt32BE(h + crcOffset);
    const tag = chunk.readUInt32BE(h + tagOffset);
    const flags = chunk.readUInt32BE(h + flagsOffset);
    const seqHigh = chunk.readInt32BE(h + seqHighOffset);
    const seqLow = chunk.readUInt32BE(h + seqLowOffset);
    let crc = crc32(chunk.subarray(h + lengthOffset, h + journalRecordHeaderBytes));

    const payload = Buffer.allocUnsafe(payloadLength);
    const inChunk = Math.min(payloadLength, chunkEnd - payloadStart);
    chunk.copy(payload, 0, h + journalRecordHeaderBytes, h + journalRecordHeaderBytes + inChunk);
    if (inChunk < payloadLength) {
      // The rest of a payload longer than what is buffered goes straight into its own buffer.
      await readFully(handle, path, payload, inChunk, payloadLength - inChunk, payloadStart + inChunk);
      chunkStart = recordEnd;
      chunkEnd = recordEnd;
    }
    crc = crc32(payload, crc);
    if (crc !== storedCrc) return bad(`crc ${crc} does not match the stored ${storedCrc}`);
    if (flags === batchEndFlag && payloadLength === 0) {
      position = recordEnd;
      lastBatchEnd = position;
      continue;
    }
    if (flags !== 0) return bad(`unknown flags ${flags}`);
    if (seqHigh < 0 || seqHigh > seqHighMax) return bad(`seq high word ${seqHigh} is out of range`);

    onRecord({ tag, seq: seqHigh * 2 ** 32 + seqLow, payload, position });
    records++;
    position = recordEnd;
  }
  return { records, validBytes: position, lastBatchEnd };
}

/** Where a later batch was found past a bad record (see laterBatchAfter). */
export interface LaterBatch {
  /** End of the bad record: every record from here to `laterBatch` and one past it passed its crc. */
  resumeAt: number;
  /** Position of the later batch's first record. */
  laterBatch: number;
}

/**
 * Looks past a bad record at `badPosition` for proof that a later batch was written: the marker
 * ending the bad record's batch, then any good record after it. A later batch is written only
 * after the earlier one was synced, so such proof makes the bad record corruption, not a torn
 * tail. Needs the bad record's length field to be sound to step over it (the chain of good records
 * after it shows it was); answers where the bad record ends and where the later batch begins, or
 * undefined when there is no proof.
 */
export async function laterBatchAfter(handle: FileHandle, path: string, fileBytes: number, badPosition: number): Promise<LaterBatch | undefined> {
  const header = Buffer.allocUnsafe(journalRecordHeaderBytes);
  const readRecord = async (at: number): Promise<{ end: number; marker: boolean } | undefined> => {
    if (at + journalRecordHeaderBytes > fileBytes) return undefined;
    await readFully(handle, path, header, 0, journalRecordHeaderBytes, at);
    const length = header.readUInt32BE(lengthOffset);
    if (length > logEntryBytesMax || at + journalRecordHeaderBytes + length > fileBytes) return undefined;
    return { end: at + journalRecordHeaderBytes + length, marker: header.readUInt32BE(flagsOffset) === batchEndFlag && length === 0 };
  };
  const bad = await readRecord(badPosition);
  if (bad === undefined) return undefined;
  let at = bad.end;
  let batchEnded = false;
  while (at - badPosition <= 2 * tornWindowBytes) {
    const next = await readRecord(at);
    if (next === undefined) return undefined;
    const payload = Buffer.allocUnsafe(next.end - at - journalRecordHeaderBytes);
    await readFully(handle, path, payload, 0, payload.length, at + journalRecordHeaderBytes);
    const crc = crc32(payload, crc32(header.subarray(lengthOffset)));
    if (crc !== header.readUInt32BE(crcOffset)) return undefined;
    if (batchEnded) return { resumeAt: bad.end, laterBatch: at };
    batchEnded = next.marker;
    at = next.end;
  }
  return undefined;
}

async function readFully(
  handle: FileHandle,
  path: string,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done);
    if (bytesRead === 0) {
      throw new InternalError(`${path}: file ended at byte ${position + done} while being replayed; it shrank under us`);
    }
    done += bytesRead;
  }
}

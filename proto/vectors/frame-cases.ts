/**
 * The frames of the shared wire vectors (frames.json): several of every type, with fields at their
 * edges (empty and largest strings, unicode, -1 and 2^53-1 for i64, 0 and 2^32-1 for u32, empty
 * and non-empty data), and payloads that must fail to decode with the code each one names. The
 * Java client decodes and re-encodes every one of them byte for byte (WireVectorsTest).
 */
import { encodeEvents, type Frame } from "../wire/index.js";

const i64Max = Number.MAX_SAFE_INTEGER;
const u32Max = 0xffff_ffff;
const uuidZero = Buffer.alloc(16);
const uuidOnes = Buffer.alloc(16, 0xff);
const uuidMixed = Buffer.from("0123456789abcdeffedcba9876543210", "hex");
const segment = "scope-1/stream_A/0.#epoch.0";
const segmentUnicode = "sc\u00f6pe/str\u00e9am/4294967295.#epoch.7#txn.0123456789abcdef0123456789abcdef \u65e5\u672c \u{1f642}";
/** The longest segment name a frame may carry: 1024 UTF-8 bytes, ending in a 4-byte character. */
const segmentMax = "s".repeat(1020) + "\u{1f30a}";
const events = encodeEvents([Buffer.from("hello"), Buffer.alloc(0), Buffer.from("\u00e9v\u00e9nement \u{1f642}")]);

/** Every frame type, several times where fields vary. */
export function validFrames(): Frame[] {
  return [
    { type: "Hello", highVersion: 1, lowVersion: 1 },
    { type: "Hello", highVersion: u32Max, lowVersion: 0 },
    { type: "Error", requestId: 0, errorId: 30, segment: "", message: "" },
    { type: "Error", requestId: 7, errorId: 21, segment, message: "segment scope-1/stream_A/0.#epoch.0 is sealed" },
    { type: "Error", requestId: u32Max, errorId: 0xffff, segment: segmentMax, message: "\u00fcnicode \u{1f642} ".repeat(292) + "max 4096" },
    { type: "KeepAlive" },
    { type: "SetupAppend", requestId: 1, writerId: uuidMixed, segment },
    { type: "SetupAppend", requestId: u32Max, writerId: uuidOnes, segment: segmentMax },
    { type: "AppendSetup", requestId: 2, writerId: uuidMixed, segment, lastEventNumber: -1 },
    { type: "AppendSetup", requestId: 3, writerId: uuidZero, segment: segmentUnicode, lastEventNumber: i64Max },
    { type: "AppendBlock", requestId: 4, writerId: uuidMixed, segment, lastEventNumber: 2, eventCount: 3, data: events },
    { type: "AppendBlock", requestId: 5, writerId: uuidOnes, segment: "", lastEventNumber: -1, eventCount: 0, data: Buffer.alloc(0) },
    { type: "AppendBlock", requestId: u32Max, writerId: uuidZero, segment: segmentUnicode, lastEventNumber: 2 ** 32, eventCount: u32Max, data: Buffer.from([0, 0, 0, 1, 0xff]) },
    { type: "DataAppended", requestId: 6, writerId: uuidMixed, segment, eventNumber: 2, segmentLength: 37 },
    { type: "DataAppended", requestId: 0, writerId: uuidOnes, segment: segmentMax, eventNumber: -1, segmentLength: i64Max },
    { type: "ConditionalAppend", requestId: 8, writerId: uuidMixed, segment, expectedOffset: 0, lastEventNumber: 2, eventCount: 3, data: events },
    { type: "ConditionalAppend", requestId: 9, writerId: uuidZero, segment: segmentUnicode, expectedOffset: i64Max, lastEventNumber: -1, eventCount: 0, data: Buffer.alloc(0) },
    { type: "ReadSegment", requestId: 10, segment, offset: 0, maxBytes: 1048576, waitMs: 1000 },
    { type: "ReadSegment", requestId: u32Max, segment: segmentMax, offset: i64Max, maxBytes: u32Max, waitMs: 0 },
    { type: "SegmentRead", requestId: 11, segment, offset: 0, atTail: false, endOfSegment: false, data: events },
    { type: "SegmentRead", requestId: 12, segment, offset: 4294967297, atTail: true, endOfSegment: false, data: Buffer.alloc(0) },
    { type: "SegmentRead", requestId: 13, segment: segmentUnicode, offset: i64Max, atTail: true, endOfSegment: true, data: Buffer.from([0, 0, 0]) },
    { type: "SegmentRead", requestId: 14, segment, offset: 5, atTail: false, endOfSegment: true, data: Buffer.from("x") },
    { type: "CreateSegment", requestId: 15, segment },
    { type: "CreateSegment", requestId: u32Max, segment: segmentMax },
    { type: "SegmentCreated", requestId: 16, segment: segmentUnicode },
    { type: "GetSegmentInfo", requestId: 17, segment },
    { type: "SegmentInfo", requestId: 18, segment, startOffset: 0, length: 0, sealed: false, lastModifiedMs: 1765152000000 },
    { type: "SegmentInfo", requestId: 19, segment: segmentUnicode, startOffset: i64Max, length: i64Max, sealed: true, lastModifiedMs: -1 },
    { type: "SealSegment", requestId: 20, segment },
    { type: "SegmentSealed", requestId: 21, segment, length: 0 },
    { type: "SegmentSealed", requestId: 22, segment: segmentMax, length: i64Max },
    { type: "TruncateSegment", requestId: 23, segment, startOffset: 4294967296 },
    { type: "SegmentTruncated", requestId: 24, segment: segmentUnicode, startOffset: 0 },
    { type: "MergeSegments", requestId: 25, target: segment, source: `${segment}#txn.0123456789abcdef0123456789abcdef` },
    { type: "MergeSegments", requestId: 26, target: "", source: segmentMax },
    { type: "SegmentsMerged", requestId: 27, target: segmentUnicode, source: segment, targetLength: i64Max },
    { type: "DeleteSegment", requestId: 28, segment },
    { type: "SegmentDeleted", requestId: 29, segment: segmentMax },
    {
      type: "UpdateAttributes",
      requestId: 30,
      segment,
      updates: [
        { id: uuidMixed, value: 5, compare: false, expected: -1 },
        { id: uuidOnes, value: -1, compare: true, expected: i64Max },
        { id: uuidZero, value: i64Max, compare: true, expected: -1 },
      ],
    },
    { type: "UpdateAttributes", requestId: 31, segment: "", updates: [{ id: uuidZero, value: 0, compare: false, expected: 0 }] },
    { type: "AttributesUpdated", requestId: 32, segment },
    { type: "GetAttributes", requestId: 33, segment, ids: [uuidMixed] },
    { type: "GetAttributes", requestId: 34, segment: segmentUnicode, ids: [uuidZero, uuidOnes, uuidMixed] },
    { type: "AttributesRead", requestId: 35, segment, values: [] },
    { type: "AttributesRead", requestId: 36, segment, values: [{ id: uuidMixed, value: -1 }, { id: uuidOnes, value: i64Max }] },
    { type: "GetChunks", requestId: 37, segment, offset: 0, maxCount: 1 },
    { type: "GetChunks", requestId: 38, segment: segmentUnicode, offset: i64Max, maxCount: 0xffff },
    { type: "ChunksListed", requestId: 39, segment, chunks: [] },
    {
      type: "ChunksListed",
      requestId: 40,
      segment,
      chunks: [
        { name: "", offset: 0, length: 0 },
        { name: "c/7/scope-1/stream_A/0.#epoch.0/00000001-\u00e9", offset: 4294967296, length: i64Max },
      ],
    },
    { type: "AddEntry", requestId: 41, ledger: 1, entryId: 0, lac: -1, recovery: false, data: [] },
    { type: "AddEntry", requestId: 42, ledger: u32Max, entryId: i64Max, lac: i64Max, recovery: true, data: [Buffer.from("entry bytes \u00e9")] },
    { type: "EntryAdded", requestId: 43, ledger: 2, entryId: 0 },
    { type: "EntryAdded", requestId: u32Max, ledger: u32Max, entryId: i64Max },
    { type: "ReadEntries", requestId: 44, ledger: 3, firstEntryId: 0, maxBytes: u32Max },
    { type: "EntriesRead", requestId: 45, ledger: 3, firstEntryId: 0, entries: [] },
    { type: "EntriesRead", requestId: 46, ledger: u32Max, firstEntryId: i64Max, entries: [Buffer.from("one"), Buffer.alloc(0), Buffer.from([0, 1, 2, 255])] },
    { type: "ReadLedgerState", requestId: 47, ledger: 4 },
    { type: "LedgerStateRead", requestId: 48, ledger: 4, lac: -1, lastEntryId: -1, fenced: false },
    { type: "LedgerStateRead", requestId: 49, ledger: u32Max, lac: i64Max, lastEntryId: i64Max, fenced: true },
    { type: "FenceLedger", requestId: 50, ledger: 5 },
    { type: "LedgerFenced", requestId: 51, ledger: 5, lac: 10, lastEntryId: 11, fenced: true },
    { type: "DeleteLedger", requestId: 52, ledger: 0 },
    { type: "LedgerDeleted", requestId: 53, ledger: u32Max },
    { type: "ReadNodeIdentity", requestId: 54 },
    { type: "ReadNodeIdentity", requestId: u32Max },
    { type: "NodeIdentity", requestId: 55, instanceId: "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b" },
    { type: "NodeIdentity", requestId: 56, instanceId: "" },
    { type: "NodeIdentity", requestId: 57, instanceId: "\u00e9".repeat(64) },
  ];
}

/** A payload that must not decode, and the code decodePayload raises for it. */
export interface InvalidPayload {
  why: string;
  type: number;
  payload: Buffer;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const i64Raw = (high: number, low: number) => Buffer.concat([u32(high >>> 0), u32(low >>> 0)]);
const str = (bytes: Buffer) => Buffer.concat([u16(bytes.length), bytes]);
const s = (text: string) => str(Buffer.from(text, "utf8"));

/** Malformed payloads and unknown types; the generator records the code the TypeScript decoder raises. */
export function invalidPayloads(): InvalidPayload[] {
  const reqSeg = Buffer.concat([u32(1), s(segment)]);
  return [
    { why: "unknown type 0", type: 0, payload: Buffer.alloc(0) },
    { why: "unknown type 4", type: 4, payload: Buffer.alloc(0) },
    { why: "unknown type 62", type: 62, payload: u32(1) },
    { why: "unknown type 2^32-1", type: u32Max, payload: Buffer.alloc(0) },
    { why: "Hello too short", type: 1, payload: Buffer.from([0, 0, 0, 1, 0, 0, 0]) },
    { why: "Hello trailing byte", type: 1, payload: Buffer.concat([u32(1), u32(1), Buffer.from([0])]) },
    { why: "KeepAlive with a byte", type: 3, payload: Buffer.from([0]) },
    { why: "Error message over 4096 bytes", type: 2, payload: Buffer.concat([u32(1), u16(30), s(""), str(Buffer.alloc(4097, 0x61))]) },
    { why: "Error segment over 1024 bytes", type: 2, payload: Buffer.concat([u32(1), u16(30), str(Buffer.alloc(1025, 0x61)), s("")]) },
    { why: "string length past the end", type: 30, payload: Buffer.concat([u32(1), u16(10), Buffer.from("abc")]) },
    { why: "invalid UTF-8 (lone continuation byte)", type: 30, payload: Buffer.concat([u32(1), str(Buffer.from([0x61, 0x80]))]) },
    { why: "invalid UTF-8 (encoded surrogate)", type: 30, payload: Buffer.concat([u32(1), str(Buffer.from([0xed, 0xa0, 0x80]))]) },
    { why: "invalid UTF-8 (overlong)", type: 30, payload: Buffer.concat([u32(1), str(Buffer.from([0xc0, 0xaf]))]) },
    { why: "invalid UTF-8 (truncated sequence)", type: 30, payload: Buffer.concat([u32(1), str(Buffer.from([0xe6, 0x97]))]) },
    { why: "i64 of 2^53", type: 35, payload: Buffer.concat([reqSeg, i64Raw(0x0020_0000, 0)]) },
    { why: "i64 of 2^63-1", type: 35, payload: Buffer.concat([reqSeg, i64Raw(0x7fff_ffff, u32Max)]) },
    { why: "i64 of -1 where >= 0", type: 35, payload: Buffer.concat([reqSeg, i64Raw(u32Max, u32Max)]) },
    { why: "i64 of -2 where -1 allowed", type: 11, payload: Buffer.concat([u32(1), uuidMixed, s(segment), i64Raw(u32Max, 0xffff_fffe)]) },
    { why: "i64 of -2^63", type: 13, payload: Buffer.concat([u32(1), uuidMixed, s(segment), i64Raw(0x8000_0000, 0), i64Raw(0, 0)]) },
    { why: "uuid cut short", type: 10, payload: Buffer.concat([u32(1), uuidMixed.subarray(0, 15)]) },
    { why: "SegmentRead unknown flag bit", type: 21, payload: Buffer.concat([reqSeg, i64Raw(0, 0), Buffer.from([0b100])]) },
    { why: "SegmentInfo unknown flag bit", type: 33, payload: Buffer.concat([reqSeg, i64Raw(0, 0), i64Raw(0, 0), Buffer.from([0b10]), i64Raw(0, 0)]) },
    { why: "SegmentInfo trailing byte", type: 33, payload: Buffer.concat([reqSeg, i64Raw(0, 0), i64Raw(0, 0), Buffer.from([1]), i64Raw(0, 0), Buffer.from([0])]) },
    { why: "UpdateAttributes count 0", type: 42, payload: Buffer.concat([reqSeg, u16(0)]) },
    { why: "UpdateAttributes count 1001", type: 42, payload: Buffer.concat([reqSeg, u16(1001)]) },
    { why: "UpdateAttributes count beyond the bytes", type: 42, payload: Buffer.concat([reqSeg, u16(2), uuidMixed, i64Raw(0, 1), Buffer.from([0]), i64Raw(0, 0)]) },
    { why: "UpdateAttributes count below the bytes", type: 42, payload: Buffer.concat([reqSeg, u16(1), uuidMixed, i64Raw(0, 1), Buffer.from([0]), i64Raw(0, 0), Buffer.alloc(33)]) },
    { why: "UpdateAttributes unknown flag bit", type: 42, payload: Buffer.concat([reqSeg, u16(1), uuidMixed, i64Raw(0, 1), Buffer.from([2]), i64Raw(0, 0)]) },
    { why: "GetAttributes count 0", type: 44, payload: Buffer.concat([reqSeg, u16(0)]) },
    { why: "AttributesRead count 1001", type: 45, payload: Buffer.concat([reqSeg, u16(1001)]) },
    { why: "ChunksListed count 51", type: 47, payload: Buffer.concat([reqSeg, u16(51)]) },
    { why: "ChunksListed name over 1024 bytes", type: 47, payload: Buffer.concat([reqSeg, u16(1), str(Buffer.alloc(1025, 0x61)), i64Raw(0, 0), i64Raw(0, 0)]) },
    { why: "GetChunks missing maxCount", type: 46, payload: Buffer.concat([reqSeg, i64Raw(0, 0)]) },
    { why: "AddEntry unknown flag bit", type: 50, payload: Buffer.concat([u32(1), u32(1), i64Raw(0, 0), i64Raw(u32Max, u32Max), Buffer.from([0x80])]) },
    { why: "EntriesRead count cannot fit", type: 53, payload: Buffer.concat([u32(1), u32(1), i64Raw(0, 0), u32(2), u32(0)]) },
    { why: "EntriesRead count 2^32-1", type: 53, payload: Buffer.concat([u32(1), u32(1), i64Raw(0, 0), u32(u32Max)]) },
    { why: "EntriesRead entry longer than the rest", type: 53, payload: Buffer.concat([u32(1), u32(1), i64Raw(0, 0), u32(1), u32(5), Buffer.from("abcd")]) },
    { why: "EntriesRead bytes after the entries", type: 53, payload: Buffer.concat([u32(1), u32(1), i64Raw(0, 0), u32(1), u32(1), Buffer.from("ab")]) },
    { why: "NodeIdentity instanceId over 128 bytes", type: 61, payload: Buffer.concat([u32(1), str(Buffer.alloc(129, 0x61))]) },
    { why: "ReadNodeIdentity empty", type: 60, payload: Buffer.alloc(0) },
  ];
}

/** A frame header (8 bytes) and what the stream decoder makes of it: null for a sound header. */
export interface HeaderCase {
  why: string;
  type: number;
  payloadLength: number;
}

export function headerCases(): HeaderCase[] {
  return [
    { why: "largest frame", type: 12, payloadLength: 16 * 1024 * 1024 - 8 },
    { why: "one byte over", type: 12, payloadLength: 16 * 1024 * 1024 - 7 },
    { why: "u32 max length", type: 3, payloadLength: u32Max },
    { why: "u32 max length, unknown type (length checked first)", type: 999, payloadLength: u32Max },
    { why: "unknown type", type: 999, payloadLength: 0 },
    { why: "empty KeepAlive", type: 3, payloadLength: 0 },
  ];
}

// Proves the codec round-trips every frame type (segment store and log node frames), passes data and entries through as
// views, and rejects each malformed payload with the right typed error, by encoding sample frames and hand-building bad payloads.
import t from "tap";
import { SluiceError, attributeUpdatesMax, chunkNameBytesMax, chunksListedMax, frameFieldsBytesMax } from "../../common/index.js";
import { decodePayload, encodeFrame } from "./codec.js";
import { frameTypeIds, type Frame, type FrameType } from "./frames.js";

const writerId = Buffer.from("00112233445566778899aabbccddeeff", "hex");
const attributeA = Buffer.from("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", "hex");
const attributeB = Buffer.from("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf", "hex");

const samples: { [T in FrameType]: Extract<Frame, { type: T }> } = {
  Hello: { type: "Hello", highVersion: 3, lowVersion: 1 },
  Error: { type: "Error", requestId: 7, errorId: 12, segment: "scope/stream/0", message: "no such segment: ünïcödé ✓" },
  KeepAlive: { type: "KeepAlive" },
  SetupAppend: { type: "SetupAppend", requestId: 1, writerId, segment: "s/t/1" },
  AppendSetup: { type: "AppendSetup", requestId: 2, writerId, segment: "s/t/1", lastEventNumber: -1 },
  AppendBlock: {
    type: "AppendBlock",
    requestId: 0xffff_ffff,
    writerId,
    segment: "s/t/1",
    lastEventNumber: 2 ** 53 - 1,
    eventCount: 2,
    data: Buffer.from([0, 0, 0, 1, 65, 0, 0, 0, 0]),
  },
  DataAppended: { type: "DataAppended", requestId: 4, writerId, segment: "s/t/1", eventNumber: 2 ** 40 + 5, segmentLength: 123456789012 },
  ConditionalAppend: {
    type: "ConditionalAppend",
    requestId: 22,
    writerId,
    segment: "s/t/4",
    expectedOffset: 2 ** 53 - 1,
    lastEventNumber: -1,
    eventCount: 1,
    data: Buffer.from([0, 0, 0, 2, 66, 67]),
  },
  ReadSegment: { type: "ReadSegment", requestId: 5, segment: "s/t/2", offset: 4096, maxBytes: 8 * 1024 * 1024, waitMs: 60_000 },
  SegmentRead: { type: "SegmentRead", requestId: 6, segment: "s/t/2", offset: 0, atTail: true, endOfSegment: false, data: Buffer.from("raw bytes") },
  CreateSegment: { type: "CreateSegment", requestId: 8, segment: "" },
  SegmentCreated: { type: "SegmentCreated", requestId: 9, segment: "x".repeat(1024) },
  GetSegmentInfo: { type: "GetSegmentInfo", requestId: 10, segment: "\ufeffbom-first" },
  SegmentInfo: { type: "SegmentInfo", requestId: 11, segment: "s/t/3", startOffset: 10, length: 2 ** 33, sealed: true, lastModifiedMs: 1_700_000_000_123 },
  SealSegment: { type: "SealSegment", requestId: 23, segment: "s/t/5" },
  SegmentSealed: { type: "SegmentSealed", requestId: 24, segment: "s/t/5", length: 2 ** 53 - 1 },
  TruncateSegment: { type: "TruncateSegment", requestId: 25, segment: "s/t/6", startOffset: 0 },
  SegmentTruncated: { type: "SegmentTruncated", requestId: 26, segment: "s/t/6", startOffset: 2 ** 35 + 3 },
  MergeSegments: { type: "MergeSegments", requestId: 27, target: "s/t/7", source: "s/t/7#transaction.ü" },
  SegmentsMerged: { type: "SegmentsMerged", requestId: 28, target: "s/t/7", source: "x".repeat(1024), targetLength: 0 },
  DeleteSegment: { type: "DeleteSegment", requestId: 29, segment: "s/t/8" },
  SegmentDeleted: { type: "SegmentDeleted", requestId: 0xffff_ffff, segment: "" },
  UpdateAttributes: {
    type: "UpdateAttributes",
    requestId: 30,
    segment: "s/t/9",
    updates: [
      { id: attributeA, value: 2 ** 53 - 1, compare: true, expected: -1 },
      { id: attributeB, value: -1, compare: false, expected: 17 },
    ],
  },
  AttributesUpdated: { type: "AttributesUpdated", requestId: 31, segment: "s/t/9" },
  GetAttributes: { type: "GetAttributes", requestId: 32, segment: "s/t/9", ids: [attributeA, attributeB, attributeA] },
  AttributesRead: {
    type: "AttributesRead",
    requestId: 33,
    segment: "s/t/9",
    values: [
      { id: attributeA, value: 0 },
      { id: attributeB, value: -1 },
    ],
  },
  GetChunks: { type: "GetChunks", requestId: 34, segment: "s/t/10", offset: 2 ** 53 - 1, maxCount: 0xffff },
  ChunksListed: {
    type: "ChunksListed",
    requestId: 35,
    segment: "s/t/10",
    chunks: [
      { name: "c3/s%2Ft%2F10/0000000000000000-s7-e2", offset: 0, length: 8 * 1024 * 1024 },
      { name: "x".repeat(1024), offset: 2 ** 53 - 2, length: 1 },
    ],
  },
  AddEntry: { type: "AddEntry", requestId: 12, ledger: 0xffff_ffff, entryId: 2 ** 53 - 1, lac: -1, recovery: true, data: [Buffer.from("entry bytes")] },
  EntryAdded: { type: "EntryAdded", requestId: 13, ledger: 1, entryId: 0 },
  ReadEntries: { type: "ReadEntries", requestId: 14, ledger: 2, firstEntryId: 2 ** 40, maxBytes: 0xffff_ffff },
  EntriesRead: { type: "EntriesRead", requestId: 15, ledger: 3, firstEntryId: 7, entries: [Buffer.from("seven"), Buffer.alloc(0), Buffer.from("nine")] },
  ReadLedgerState: { type: "ReadLedgerState", requestId: 16, ledger: 4 },
  LedgerStateRead: { type: "LedgerStateRead", requestId: 17, ledger: 5, lac: -1, lastEntryId: -1, fenced: false },
  FenceLedger: { type: "FenceLedger", requestId: 18, ledger: 6 },
  LedgerFenced: { type: "LedgerFenced", requestId: 19, ledger: 7, lac: 41, lastEntryId: 42, fenced: true },
  DeleteLedger: { type: "DeleteLedger", requestId: 20, ledger: 8 },
  LedgerDeleted: { type: "LedgerDeleted", requestId: 21, ledger: 9 },
  ReadNodeIdentity: { type: "ReadNodeIdentity", requestId: 22 },
  NodeIdentity: { type: "NodeIdentity", requestId: 23, instanceId: "8f1c2a3e-5b6d-4e7f-8a9b-0c1d2e3f4a5b" },
};

/** Bytes of a frame's trailing `data` (one slice, or pieces for AddEntry); 0 for frames without. */
function dataBytes(frame: Frame): number {
  if (!("data" in frame)) return 0;
  return Buffer.isBuffer(frame.data) ? frame.data.length : frame.data.reduce((n, piece) => n + piece.length, 0);
}

/** Encodes, joins, checks the header and decodes the payload back. */
function roundTrip(frame: Frame): Frame {
  const bytes = Buffer.concat(encodeFrame(frame));
  const typeId = bytes.readUInt32BE(0);
  const payloadLength = bytes.readUInt32BE(4);
  t.equal(typeId, frameTypeIds[frame.type], `${frame.type} header type id`);
  t.equal(payloadLength, bytes.length - 8, `${frame.type} header payload length`);
  return decodePayload(typeId, bytes.subarray(8));
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SluiceError) return err.code;
    return `not a SluiceError: ${String(err)}`;
  }
  return "no error";
}

void t.test("every frame type round-trips", (t) => {
  for (const frame of Object.values(samples)) {
    t.strictSame(roundTrip(frame), frame, frame.type);
  }
  t.strictSame(roundTrip({ ...samples.SegmentRead, atTail: false, endOfSegment: true, data: Buffer.alloc(0) }), {
    ...samples.SegmentRead,
    atTail: false,
    endOfSegment: true,
    data: Buffer.alloc(0),
  });
  t.strictSame(roundTrip({ ...samples.SegmentInfo, sealed: false }), { ...samples.SegmentInfo, sealed: false });
  t.end();
});

void t.test("data is passed through on encode and viewed on decode", (t) => {
  const frame = samples.AppendBlock;
  const buffers = encodeFrame(frame);
  t.equal(buffers.length, 2);
  t.equal(buffers[1], frame.data, "encode hands on the very same data buffer");
  const payload = Buffer.concat(buffers).subarray(8);
  const decoded = decodePayload(frameTypeIds.AppendBlock, payload);
  if (decoded.type !== "AppendBlock") throw new Error("wrong type");
  t.equal(decoded.data.buffer, payload.buffer, "decoded data shares the payload's ArrayBuffer");
  t.equal(decoded.data.byteOffset, payload.byteOffset + payload.length - frame.data.length);
  t.equal(encodeFrame(samples.Hello).length, 1, "frames without data are one buffer");
  t.end();
});

void t.test("a payload cut short anywhere is MALFORMED_FRAME for every type", (t) => {
  for (const frame of Object.values(samples)) {
    const payload = Buffer.concat(encodeFrame(frame)).subarray(8);
    const hasData = "data" in frame;
    // For data frames only the fixed fields can be cut short; cutting the data is a shorter data.
    const fixedBytes = hasData ? payload.length - dataBytes(frame) : payload.length;
    for (let cut = 0; cut < fixedBytes; cut++) {
      t.equal(code(() => decodePayload(frameTypeIds[frame.type], payload.subarray(0, cut))), "MALFORMED_FRAME", `${frame.type} cut at ${cut}`);
    }
  }
  t.end();
});

void t.test("trailing bytes are MALFORMED_FRAME where the frame has no data", (t) => {
  for (const frame of Object.values(samples)) {
    if ("data" in frame) continue;
    const payload = Buffer.concat([...encodeFrame(frame), Buffer.from([0])]).subarray(8);
    t.equal(code(() => decodePayload(frameTypeIds[frame.type], payload)), "MALFORMED_FRAME", frame.type);
  }
  t.end();
});

void t.test("strings: invalid UTF-8 and over-long lengths are MALFORMED_FRAME", (t) => {
  const bad = Buffer.from([0, 0, 0, 1, 0, 2, 0xc3, 0x28]); // requestId 1, string of 2 bytes, bad sequence
  t.equal(code(() => decodePayload(frameTypeIds.CreateSegment, bad)), "MALFORMED_FRAME");
  let message = "";
  try {
    decodePayload(frameTypeIds.CreateSegment, bad);
  } catch (err) {
    message = err instanceof Error ? err.message : "";
  }
  t.match(message, /CreateSegment.*segment/, "message names the frame and field");

  const huge = Buffer.alloc(4 + 2 + 0xffff);
  huge.writeUInt16BE(0xffff, 4);
  huge.fill(0x61, 6);
  t.equal(code(() => decodePayload(frameTypeIds.CreateSegment, huge)), "MALFORMED_FRAME", "65535-byte segment name");
  const justOver = Buffer.alloc(4 + 2 + 1025, 0x61);
  justOver.writeUInt32BE(1, 0);
  justOver.writeUInt16BE(1025, 4);
  t.equal(code(() => decodePayload(frameTypeIds.CreateSegment, justOver)), "MALFORMED_FRAME", "1025-byte segment name");
  t.end();
});

void t.test("i64 outside [-1, 2^53-1] is MALFORMED_FRAME", (t) => {
  const good = Buffer.concat(encodeFrame(samples.AppendSetup)).subarray(8);
  const at = good.length - 8;
  const cases: [string, number, number][] = [
    ["-2", -1, 0xffff_fffe],
    ["2^53", 0x0020_0000, 0],
    ["2^63-1", 0x7fff_ffff, 0xffff_ffff],
    ["-2^63", -0x8000_0000, 0],
  ];
  for (const [name, high, low] of cases) {
    const payload = Buffer.from(good);
    payload.writeInt32BE(high, at);
    payload.writeUInt32BE(low, at + 4);
    t.equal(code(() => decodePayload(frameTypeIds.AppendSetup, payload)), "MALFORMED_FRAME", name);
  }
  const edge = Buffer.from(good);
  edge.writeInt32BE(0x001f_ffff, at);
  edge.writeUInt32BE(0xffff_ffff, at + 4);
  const decoded = decodePayload(frameTypeIds.AppendSetup, edge);
  t.equal(decoded.type === "AppendSetup" ? decoded.lastEventNumber : NaN, 2 ** 53 - 1, "2^53-1 is accepted");
  t.end();
});

void t.test("unknown flag bits are MALFORMED_FRAME", (t) => {
  const read = Buffer.concat(encodeFrame({ ...samples.SegmentRead, data: Buffer.alloc(0) })).subarray(8);
  read.writeUInt8(0b100, read.length - 1);
  t.equal(code(() => decodePayload(frameTypeIds.SegmentRead, read)), "MALFORMED_FRAME", "SegmentRead bit 2");
  const info = Buffer.concat(encodeFrame(samples.SegmentInfo)).subarray(8);
  info.writeUInt8(0b10, info.length - 9);
  t.equal(code(() => decodePayload(frameTypeIds.SegmentInfo, info)), "MALFORMED_FRAME", "SegmentInfo bit 1");
  t.end();
});

void t.test("unknown type ids are UNKNOWN_FRAME_TYPE", (t) => {
  for (const id of [0, 4, 15, 48, 99, 0xffff_ffff]) {
    t.equal(code(() => decodePayload(id, Buffer.alloc(0))), "UNKNOWN_FRAME_TYPE", `id ${id}`);
  }
  t.end();
});

void t.test("encoding invalid values is a programming error", (t) => {
  const bad: Frame[] = [
    { ...samples.CreateSegment, segment: "x".repeat(1025) },
    { ...samples.Error, message: "é".repeat(2049) },
    { ...samples.AppendSetup, lastEventNumber: -2 },
    { ...samples.AppendSetup, lastEventNumber: 2 ** 53 },
    { ...samples.AppendSetup, lastEventNumber: 1.5 },
    { ...samples.SetupAppend, writerId: Buffer.alloc(15) },
    { ...samples.CreateSegment, requestId: 2 ** 32 },
    { ...samples.CreateSegment, requestId: -1 },
    { ...samples.Error, errorId: 0x10000 },
  ];
  for (const frame of bad) {
    t.match(code(() => encodeFrame(frame)), /^not a SluiceError: Error: /, frame.type);
  }
  t.throws(() => encodeFrame({ ...samples.AppendBlock, data: Buffer.alloc(16 * 1024 * 1024) }), /frameBytesMax/);
  t.end();
});

void t.test("log node frames: flags, empty and pieced data, entries as views", (t) => {
  t.strictSame(roundTrip({ ...samples.AddEntry, recovery: false, lac: 5, data: [] }), { ...samples.AddEntry, recovery: false, lac: 5, data: [] });
  t.strictSame(roundTrip({ ...samples.AddEntry, data: [Buffer.alloc(0)] }), { ...samples.AddEntry, data: [] }, "empty data decodes as no pieces");
  t.strictSame(roundTrip({ ...samples.LedgerStateRead, fenced: true }), { ...samples.LedgerStateRead, fenced: true });
  t.strictSame(roundTrip({ ...samples.EntriesRead, entries: [] }), { ...samples.EntriesRead, entries: [] });

  const pieces = [Buffer.from("ab"), Buffer.alloc(0), Buffer.from("cde")];
  const buffers = encodeFrame({ ...samples.AddEntry, data: pieces });
  t.equal(buffers.length, 3, "header buffer, then the two non-empty pieces");
  t.equal(buffers[1], pieces[0], "pieces are handed on, not copied");
  t.equal(buffers[2], pieces[2]);
  const payload = Buffer.concat(buffers).subarray(8);
  const added = decodePayload(frameTypeIds.AddEntry, payload);
  if (added.type !== "AddEntry") throw new Error("wrong type");
  t.equal(added.data.length, 1, "decoded as one slice");
  t.equal(added.data[0]?.toString(), "abcde");
  t.equal(added.data[0]?.buffer, payload.buffer, "a view of the payload");

  const entries = samples.EntriesRead.entries;
  const readBuffers = encodeFrame(samples.EntriesRead);
  t.ok(entries.every((e) => e.length === 0 || readBuffers.includes(e)), "entries are handed on, not copied");
  const readPayload = Buffer.concat(readBuffers).subarray(8);
  const read = decodePayload(frameTypeIds.EntriesRead, readPayload);
  if (read.type !== "EntriesRead") throw new Error("wrong type");
  t.ok(read.entries.every((e) => e.buffer === readPayload.buffer), "decoded entries are views of the payload");
  t.end();
});

void t.test("EntriesRead lengths must add up exactly", (t) => {
  const good = Buffer.concat(encodeFrame(samples.EntriesRead)).subarray(8);
  const countAt = 16;
  t.equal(good.readUInt32BE(countAt), 3, "count follows requestId, ledger, firstEntryId");
  const withCount = (count: number): Buffer => {
    const b = Buffer.from(good);
    b.writeUInt32BE(count, countAt);
    return b;
  };
  t.equal(code(() => decodePayload(frameTypeIds.EntriesRead, withCount(2))), "MALFORMED_FRAME", "count too small leaves trailing bytes");
  t.equal(code(() => decodePayload(frameTypeIds.EntriesRead, withCount(4))), "MALFORMED_FRAME", "count too large runs past the end");
  t.equal(code(() => decodePayload(frameTypeIds.EntriesRead, withCount(0xffff_ffff))), "MALFORMED_FRAME", "a hostile count is refused before allocating");
  const longer = Buffer.from(good);
  longer.writeUInt32BE(6, countAt + 4); // "seven" claims 6 bytes
  t.equal(code(() => decodePayload(frameTypeIds.EntriesRead, longer)), "MALFORMED_FRAME", "an entry length off by one");
  const huge = Buffer.from(good);
  huge.writeUInt32BE(0xffff_ffff, countAt + 4);
  t.equal(code(() => decodePayload(frameTypeIds.EntriesRead, huge)), "MALFORMED_FRAME", "an entry length of 2^32-1");
  t.equal(code(() => decodePayload(frameTypeIds.EntriesRead, Buffer.concat([good, Buffer.from([0])]))), "MALFORMED_FRAME", "a trailing byte");
  t.end();
});

void t.test("log node frames: entry ids are not -1, unknown flag bits are refused", (t) => {
  for (const [type, at] of [
    ["AddEntry", 8],
    ["EntryAdded", 8],
    ["ReadEntries", 8],
    ["EntriesRead", 8],
  ] as const) {
    const payload = Buffer.concat(encodeFrame(samples[type])).subarray(8);
    payload.writeInt32BE(-1, at);
    payload.writeUInt32BE(0xffff_ffff, at + 4);
    t.equal(code(() => decodePayload(frameTypeIds[type], payload)), "MALFORMED_FRAME", `${type} entry id -1`);
  }
  const add = Buffer.concat(encodeFrame(samples.AddEntry)).subarray(8);
  add.writeUInt8(0b10, 24);
  t.equal(code(() => decodePayload(frameTypeIds.AddEntry, add)), "MALFORMED_FRAME", "AddEntry bit 1");
  const state = Buffer.concat(encodeFrame(samples.LedgerFenced)).subarray(8);
  state.writeUInt8(0b10, state.length - 1);
  t.equal(code(() => decodePayload(frameTypeIds.LedgerFenced, state)), "MALFORMED_FRAME", "LedgerFenced bit 1");

  const bad: Frame[] = [
    { ...samples.AddEntry, entryId: -1 },
    { ...samples.AddEntry, lac: -2 },
    { ...samples.AddEntry, ledger: 2 ** 32 },
    { ...samples.ReadEntries, maxBytes: -1 },
    { ...samples.LedgerStateRead, lastEntryId: 2 ** 53 },
  ];
  for (const frame of bad) {
    t.match(code(() => encodeFrame(frame)), /^not a SluiceError: Error: /, frame.type);
  }
  t.throws(() => encodeFrame({ ...samples.AddEntry, data: [Buffer.alloc(8 * 1024 * 1024), Buffer.alloc(8 * 1024 * 1024)] }), /frameBytesMax/);
  // Header 8, fields 20, one entry length 4: an entry of 16 MiB - 32 bytes fills the frame exactly.
  t.equal(encodeFrame({ ...samples.EntriesRead, entries: [Buffer.alloc(16 * 1024 * 1024 - 32)] }).length, 3, "an entry that fills the frame exactly");
  t.throws(() => encodeFrame({ ...samples.EntriesRead, entries: [Buffer.alloc(16 * 1024 * 1024 - 31)] }), /frameBytesMax/);
  t.end();
});

// Segment store data-plane frames: conditional appends, seal, truncate, merge, delete and attributes.

/** A writable copy of a frame's payload (header removed). */
function payloadOf(frame: Frame): Buffer {
  return Buffer.concat(encodeFrame(frame)).subarray(8);
}

/** The message of the error `fn` throws, or "no error". */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return "no error";
}

/** requestId (4), then the segment string (2 + its bytes): where a segment frame's next field starts. */
function afterSegment(segment: string): number {
  return 4 + 2 + Buffer.byteLength(segment);
}

void t.test("ConditionalAppend: data passed through and viewed, expectedOffset must be >= 0", (t) => {
  const frame = samples.ConditionalAppend;
  const buffers = encodeFrame(frame);
  t.equal(buffers.length, 2);
  t.equal(buffers[1], frame.data, "encode hands on the very same data buffer");
  const payload = Buffer.concat(buffers).subarray(8);
  const decoded = decodePayload(frameTypeIds.ConditionalAppend, payload);
  if (decoded.type !== "ConditionalAppend") throw new Error("wrong type");
  t.equal(decoded.data.buffer, payload.buffer, "decoded data shares the payload's ArrayBuffer");
  t.strictSame(roundTrip({ ...frame, expectedOffset: 0, lastEventNumber: 41, eventCount: 0, data: Buffer.alloc(0) }), {
    ...frame,
    expectedOffset: 0,
    lastEventNumber: 41,
    eventCount: 0,
    data: Buffer.alloc(0),
  });

  const at = 4 + 16 + 2 + Buffer.byteLength(frame.segment);
  t.equal(payload.readUInt32BE(at), 2 ** 21 - 1, "expectedOffset (2^53-1) follows requestId, writerId, segment");
  const minusOne = Buffer.from(payload);
  minusOne.writeInt32BE(-1, at);
  minusOne.writeUInt32BE(0xffff_ffff, at + 4);
  t.equal(code(() => decodePayload(frameTypeIds.ConditionalAppend, minusOne)), "MALFORMED_FRAME", "expectedOffset -1");
  t.match(messageOf(() => decodePayload(frameTypeIds.ConditionalAppend, minusOne)), /ConditionalAppend.*expectedOffset/);
  const lastEvent = Buffer.from(payload);
  lastEvent.writeInt32BE(-1, at + 8);
  lastEvent.writeUInt32BE(0xffff_fffe, at + 12);
  t.equal(code(() => decodePayload(frameTypeIds.ConditionalAppend, lastEvent)), "MALFORMED_FRAME", "lastEventNumber -2");
  t.end();
});

void t.test("segment management frames: variants round-trip", (t) => {
  const updates = Array.from({ length: attributeUpdatesMax }, (_, i) => {
    const id = Buffer.alloc(16);
    id.writeUInt16BE(i, 14);
    return { id, value: i * 2 ** 30, compare: i % 2 === 0, expected: i % 3 === 0 ? -1 : i };
  });
  const full = { ...samples.UpdateAttributes, updates };
  t.strictSame(roundTrip(full), full, "attributeUpdatesMax updates");
  const ids = updates.map((u) => u.id);
  t.strictSame(roundTrip({ ...samples.GetAttributes, ids }), { ...samples.GetAttributes, ids }, "attributeUpdatesMax ids");
  const values = updates.map((u) => ({ id: u.id, value: u.value }));
  t.strictSame(roundTrip({ ...samples.AttributesRead, values }), { ...samples.AttributesRead, values }, "attributeUpdatesMax values");
  t.strictSame(roundTrip({ ...samples.AttributesRead, values: [] }), { ...samples.AttributesRead, values: [] }, "no values");
  t.strictSame(roundTrip({ ...samples.MergeSegments, target: "", source: "" }), { ...samples.MergeSegments, target: "", source: "" });
  t.strictSame(roundTrip({ ...samples.SegmentsMerged, targetLength: 2 ** 53 - 1 }), { ...samples.SegmentsMerged, targetLength: 2 ** 53 - 1 });

  const payload = payloadOf(samples.UpdateAttributes);
  const at = afterSegment(samples.UpdateAttributes.segment);
  t.equal(payload.readUInt16BE(at), 2, "count follows requestId and segment");
  t.equal(payload.readUInt8(at + 2 + 16 + 8), 1, "update 0 flags: compare");
  t.equal(payload.readUInt8(at + 2 + 33 + 16 + 8), 0, "update 1 flags: none");
  t.equal(payload.length, at + 2 + 2 * 33, "each update is 33 bytes");
  t.end();
});

void t.test("attribute lists: count mismatches and counts out of range are MALFORMED_FRAME", (t) => {
  const cases: [FrameType & ("UpdateAttributes" | "GetAttributes" | "AttributesRead"), Frame, number, number][] = [
    ["UpdateAttributes", samples.UpdateAttributes, 2, 33],
    ["GetAttributes", samples.GetAttributes, 3, 16],
    ["AttributesRead", samples.AttributesRead, 2, 24],
  ];
  for (const [type, frame, count, itemBytes] of cases) {
    const good = payloadOf(frame);
    const at = good.length - count * itemBytes - 2;
    t.equal(good.readUInt16BE(at), count, `${type} count at ${at}`);
    const withCount = (n: number, payload = good): Buffer => {
      const b = Buffer.from(payload);
      b.writeUInt16BE(n, at);
      return b;
    };
    t.equal(code(() => decodePayload(frameTypeIds[type], withCount(count - 1))), "MALFORMED_FRAME", `${type} count too small leaves trailing bytes`);
    t.equal(code(() => decodePayload(frameTypeIds[type], withCount(count + 1))), "MALFORMED_FRAME", `${type} count too large runs past the end`);
    t.match(messageOf(() => decodePayload(frameTypeIds[type], withCount(count + 1))), new RegExp(`${type}.*count`), `${type} message names the field`);
    t.equal(code(() => decodePayload(frameTypeIds[type], withCount(0xffff))), "MALFORMED_FRAME", `${type} count 65535`);
    t.equal(code(() => decodePayload(frameTypeIds[type], Buffer.concat([good, Buffer.from([0])]))), "MALFORMED_FRAME", `${type} a trailing byte`);
    t.equal(code(() => decodePayload(frameTypeIds[type], good.subarray(0, good.length - 1))), "MALFORMED_FRAME", `${type} last item cut short`);
    // A count above the limit is refused even when the bytes are there for it.
    const over = Buffer.concat([good.subarray(0, at + 2), Buffer.alloc((attributeUpdatesMax + 1) * itemBytes)]);
    t.equal(code(() => decodePayload(frameTypeIds[type], withCount(attributeUpdatesMax + 1, over))), "MALFORMED_FRAME", `${type} attributeUpdatesMax + 1`);
    t.match(messageOf(() => decodePayload(frameTypeIds[type], withCount(attributeUpdatesMax + 1, over))), /outside \[/);
    const max = Buffer.concat([good.subarray(0, at + 2), Buffer.alloc(attributeUpdatesMax * itemBytes)]);
    t.equal(code(() => decodePayload(frameTypeIds[type], withCount(attributeUpdatesMax, max))), "no error", `${type} attributeUpdatesMax is accepted`);
  }
  for (const type of ["UpdateAttributes", "GetAttributes"] as const) {
    const empty = Buffer.from(payloadOf(samples[type]).subarray(0, afterSegment(samples[type].segment) + 2));
    empty.writeUInt16BE(0, empty.length - 2);
    t.equal(code(() => decodePayload(frameTypeIds[type], empty)), "MALFORMED_FRAME", `${type} with no items`);
  }
  t.end();
});

void t.test("segment management frames: out-of-range i64 and unknown flag bits are MALFORMED_FRAME", (t) => {
  const i64At = (frame: Frame, at: number, high: number, low: number): Buffer => {
    const payload = payloadOf(frame);
    payload.writeInt32BE(high, at);
    payload.writeUInt32BE(low, at + 4);
    return payload;
  };
  const update = afterSegment(samples.UpdateAttributes.segment) + 2;
  const read = afterSegment(samples.AttributesRead.segment) + 2;
  const mergedAt = payloadOf(samples.SegmentsMerged).length - 8;
  const cases: [string, Frame, number, number, number, RegExp][] = [
    ["SegmentSealed length -1", samples.SegmentSealed, afterSegment(samples.SegmentSealed.segment), -1, 0xffff_ffff, /SegmentSealed.*length/],
    ["TruncateSegment startOffset -1", samples.TruncateSegment, afterSegment(samples.TruncateSegment.segment), -1, 0xffff_ffff, /TruncateSegment.*startOffset/],
    ["SegmentTruncated startOffset 2^53", samples.SegmentTruncated, afterSegment(samples.SegmentTruncated.segment), 0x0020_0000, 0, /SegmentTruncated.*startOffset/],
    ["SegmentsMerged targetLength -1", samples.SegmentsMerged, mergedAt, -1, 0xffff_ffff, /SegmentsMerged.*targetLength/],
    ["UpdateAttributes value -2", samples.UpdateAttributes, update + 16, -1, 0xffff_fffe, /UpdateAttributes.*updates\[0\]\.value/],
    ["UpdateAttributes expected 2^63-1", samples.UpdateAttributes, update + 33 + 25, 0x7fff_ffff, 0xffff_ffff, /UpdateAttributes.*updates\[1\]\.expected/],
    ["AttributesRead value -2^63", samples.AttributesRead, read + 24 + 16, -0x8000_0000, 0, /AttributesRead.*values\[1\]\.value/],
  ];
  for (const [name, frame, at, high, low, message] of cases) {
    const payload = i64At(frame, at, high, low);
    t.equal(code(() => decodePayload(frameTypeIds[frame.type], payload)), "MALFORMED_FRAME", name);
    t.match(messageOf(() => decodePayload(frameTypeIds[frame.type], payload)), message, `${name} names the frame and field`);
  }
  t.equal(code(() => decodePayload(frameTypeIds.SegmentTruncated, i64At(samples.SegmentTruncated, afterSegment("s/t/6"), 0x001f_ffff, 0xffff_ffff))), "no error", "2^53-1 is accepted");

  const flags = payloadOf(samples.UpdateAttributes);
  flags.writeUInt8(0b10, update + 33 + 24);
  t.equal(code(() => decodePayload(frameTypeIds.UpdateAttributes, flags)), "MALFORMED_FRAME", "UpdateAttributes flags bit 1");
  t.match(messageOf(() => decodePayload(frameTypeIds.UpdateAttributes, flags)), /UpdateAttributes.*updates\[1\]\.flags/);
  t.end();
});

void t.test("segment management frames: strings over their limit or not UTF-8 are MALFORMED_FRAME", (t) => {
  // MergeSegments: requestId, then target, then source.
  const target = "s/t/7";
  const build = (targetBytes: Buffer, sourceBytes: Buffer): Buffer => {
    const head = Buffer.alloc(4 + 2);
    head.writeUInt32BE(1, 0);
    head.writeUInt16BE(targetBytes.length, 4);
    const sourceLength = Buffer.alloc(2);
    sourceLength.writeUInt16BE(sourceBytes.length, 0);
    return Buffer.concat([head, targetBytes, sourceLength, sourceBytes]);
  };
  const ok = Buffer.from(target);
  t.equal(code(() => decodePayload(frameTypeIds.MergeSegments, build(ok, Buffer.alloc(1024, 0x61)))), "no error", "1024-byte source");
  const overSource = build(ok, Buffer.alloc(1025, 0x61));
  t.equal(code(() => decodePayload(frameTypeIds.MergeSegments, overSource)), "MALFORMED_FRAME", "1025-byte source");
  t.match(messageOf(() => decodePayload(frameTypeIds.MergeSegments, overSource)), /MergeSegments.*source.*1025/);
  const overTarget = build(Buffer.alloc(1025, 0x61), ok);
  t.equal(code(() => decodePayload(frameTypeIds.MergeSegments, overTarget)), "MALFORMED_FRAME", "1025-byte target");
  t.match(messageOf(() => decodePayload(frameTypeIds.MergeSegments, overTarget)), /MergeSegments.*target/);
  t.equal(code(() => decodePayload(frameTypeIds.MergeSegments, build(ok, Buffer.from([0xc3, 0x28])))), "MALFORMED_FRAME", "source not UTF-8");

  for (const frame of [samples.SealSegment, samples.DeleteSegment, samples.TruncateSegment, samples.UpdateAttributes, samples.GetAttributes]) {
    const good = payloadOf(frame);
    const rest = good.subarray(afterSegment("segment" in frame ? frame.segment : ""));
    const head = Buffer.alloc(6);
    head.writeUInt32BE(1, 0);
    head.writeUInt16BE(1025, 4);
    const payload = Buffer.concat([head, Buffer.alloc(1025, 0x61), rest]);
    t.equal(code(() => decodePayload(frameTypeIds[frame.type], payload)), "MALFORMED_FRAME", `${frame.type} 1025-byte segment`);
    t.match(messageOf(() => decodePayload(frameTypeIds[frame.type], payload)), new RegExp(`${frame.type}.*segment`));
  }
  t.end();
});

void t.test("segment management frames: encoding invalid values is a programming error", (t) => {
  const tooMany = Array.from({ length: attributeUpdatesMax + 1 }, () => attributeA);
  const bad: Frame[] = [
    { ...samples.ConditionalAppend, expectedOffset: -1 },
    { ...samples.ConditionalAppend, writerId: Buffer.alloc(17) },
    { ...samples.SealSegment, segment: "x".repeat(1025) },
    { ...samples.SegmentSealed, length: -1 },
    { ...samples.TruncateSegment, startOffset: -1 },
    { ...samples.SegmentTruncated, startOffset: 2 ** 53 },
    { ...samples.MergeSegments, source: "é".repeat(513) },
    { ...samples.SegmentsMerged, targetLength: 0.5 },
    { ...samples.DeleteSegment, requestId: -1 },
    { ...samples.UpdateAttributes, updates: [] },
    { ...samples.UpdateAttributes, updates: tooMany.map((id) => ({ id, value: 1, compare: false, expected: -1 })) },
    { ...samples.UpdateAttributes, updates: [{ id: Buffer.alloc(15), value: 1, compare: false, expected: -1 }] },
    { ...samples.UpdateAttributes, updates: [{ id: attributeA, value: -2, compare: false, expected: -1 }] },
    { ...samples.UpdateAttributes, updates: [{ id: attributeA, value: 1, compare: true, expected: -2 }] },
    { ...samples.GetAttributes, ids: [] },
    { ...samples.GetAttributes, ids: tooMany },
    { ...samples.AttributesRead, values: tooMany.map((id) => ({ id, value: 1 })) },
    { ...samples.AttributesRead, values: [{ id: attributeA, value: -2 }] },
  ];
  for (const frame of bad) {
    t.match(code(() => encodeFrame(frame)), /^not a SluiceError: Error: /, frame.type);
  }
  t.end();
});

void t.test("chunk listing: the fullest list round-trips; bad counts, names and offsets are MALFORMED_FRAME", (t) => {
  const name = (i: number) => `c0/${String(i).padStart(4, "0")}`.padEnd(chunkNameBytesMax, "x");
  const full: Frame = {
    ...samples.ChunksListed,
    segment: "s".repeat(1024),
    chunks: Array.from({ length: chunksListedMax }, (_, i) => ({ name: name(i), offset: i * 1000, length: 1000 })),
  };
  const fullBytes = Buffer.concat(encodeFrame(full));
  t.ok(fullBytes.length - 8 <= frameFieldsBytesMax, `the fullest ChunksListed is ${fullBytes.length - 8} bytes of fields`);
  t.strictSame(roundTrip(full), full, "chunksListedMax chunks with the longest names");
  t.strictSame(roundTrip({ ...samples.ChunksListed, chunks: [] }), { ...samples.ChunksListed, chunks: [] }, "no chunks");

  const good = payloadOf(samples.ChunksListed);
  const at = afterSegment(samples.ChunksListed.segment);
  t.equal(good.readUInt16BE(at), 2, "count follows requestId and segment");
  const withCount = (n: number, payload = good) => {
    const b = Buffer.from(payload);
    b.writeUInt16BE(n, at);
    return b;
  };
  const id = frameTypeIds.ChunksListed;
  t.equal(code(() => decodePayload(id, withCount(1))), "MALFORMED_FRAME", "count too small leaves trailing bytes");
  t.equal(code(() => decodePayload(id, withCount(3))), "MALFORMED_FRAME", "count too large runs past the end");
  t.equal(code(() => decodePayload(id, withCount(0xffff))), "MALFORMED_FRAME", "count 65535");
  const over = Buffer.concat([good.subarray(0, at + 2), Buffer.alloc((chunksListedMax + 1) * 18)]);
  t.match(messageOf(() => decodePayload(id, withCount(chunksListedMax + 1, over))), /ChunksListed.*count.*outside \[0, 50\]/, "a count above the bound, bytes there");
  const longName = Buffer.from(good);
  longName.writeUInt16BE(chunkNameBytesMax + 1, at + 2);
  t.match(messageOf(() => decodePayload(id, longName)), /ChunksListed.*chunks\[0\]\.name/, "a name above its limit");
  const firstOffset = at + 2 + 2 + Buffer.byteLength(samples.ChunksListed.chunks[0]!.name);
  for (const [field, where] of [["offset", firstOffset], ["length", firstOffset + 8]] as const) {
    const b = Buffer.from(good);
    b.writeInt32BE(-1, where);
    b.writeUInt32BE(0xffff_ffff, where + 4);
    t.match(messageOf(() => decodePayload(id, b)), new RegExp(`ChunksListed.*chunks\\[0\\]\\.${field}`), `chunk ${field} -1`);
  }
  const get = payloadOf(samples.GetChunks);
  const offsetAt = afterSegment(samples.GetChunks.segment);
  get.writeInt32BE(-1, offsetAt);
  get.writeUInt32BE(0xffff_ffff, offsetAt + 4);
  t.match(messageOf(() => decodePayload(frameTypeIds.GetChunks, get)), /GetChunks.*offset/, "GetChunks offset -1");

  const bad: Frame[] = [
    { ...samples.GetChunks, offset: -1 },
    { ...samples.GetChunks, maxCount: 0x10000 },
    { ...samples.ChunksListed, chunks: Array.from({ length: chunksListedMax + 1 }, (_, i) => ({ name: "c", offset: i, length: 1 })) },
    { ...samples.ChunksListed, chunks: [{ name: "x".repeat(chunkNameBytesMax + 1), offset: 0, length: 1 }] },
    { ...samples.ChunksListed, chunks: [{ name: "c", offset: -1, length: 1 }] },
    { ...samples.ChunksListed, chunks: [{ name: "c", offset: 0, length: 0.5 }] },
  ];
  for (const frame of bad) t.match(code(() => encodeFrame(frame)), /^not a SluiceError: Error: /, `encoding ${frame.type} with a bad value`);
  t.end();
});

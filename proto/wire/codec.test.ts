// Proves the codec round-trips every frame type (segment store and log node frames), passes data and entries through as
// views, and rejects each malformed payload with the right typed error, by encoding sample frames and hand-building bad payloads.
import t from "tap";
import { SluiceError } from "../../common/index.js";
import { decodePayload, encodeFrame } from "./codec.js";
import { frameTypeIds, type Frame, type FrameType } from "./frames.js";

const writerId = Buffer.from("00112233445566778899aabbccddeeff", "hex");

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
  ReadSegment: { type: "ReadSegment", requestId: 5, segment: "s/t/2", offset: 4096, maxBytes: 8 * 1024 * 1024, waitMs: 60_000 },
  SegmentRead: { type: "SegmentRead", requestId: 6, segment: "s/t/2", offset: 0, atTail: true, endOfSegment: false, data: Buffer.from("raw bytes") },
  CreateSegment: { type: "CreateSegment", requestId: 8, segment: "" },
  SegmentCreated: { type: "SegmentCreated", requestId: 9, segment: "x".repeat(1024) },
  GetSegmentInfo: { type: "GetSegmentInfo", requestId: 10, segment: "\ufeffbom-first" },
  SegmentInfo: { type: "SegmentInfo", requestId: 11, segment: "s/t/3", startOffset: 10, length: 2 ** 33, sealed: true, lastModifiedMs: 1_700_000_000_123 },
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
  for (const id of [0, 4, 14, 99, 0xffff_ffff]) {
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

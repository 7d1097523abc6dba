/**
 * Frames to bytes and back (wire.md). Encoding builds the header and fixed fields into one buffer
 * of exactly their size and hands a frame's `data` (or entries) on untouched, so event and entry
 * bytes are never copied or re-encoded. Decoding checks every field against the spec and returns
 * `data` and entries as views of the payload. Field primitives live in fields.ts; the segment
 * management frames beyond create and info are in segment-frames-codec.ts.
 */
import { UnknownFrameTypeError, segmentNameBytesMax, unreachable } from "../../common/index.js";
import { FieldReader, FieldWriter, entryLengthBytes, i64Bytes, stringBytes, u16Bytes, u32Bytes, u8Bytes } from "./fields.js";
import { errorMessageBytesMax, frameTypeName, writerIdBytes, type EntriesReadFrame, type Frame } from "./frames.js";
import { decodeSegmentFrame, encodeSegmentFrame } from "./segment-frames-codec.js";

const segmentReadAtTail = 0b01;
const segmentReadEndOfSegment = 0b10;
const segmentInfoSealed = 0b01;
const addEntryRecovery = 0b01;
const ledgerStateFenced = 0b01;
/** Fixed fields of the log node frames (wire.md, "Log node frames"). */
const ledgerRequestBytes = u32Bytes + u32Bytes;
const entryRequestBytes = ledgerRequestBytes + i64Bytes;
const ledgerStateBytes = ledgerRequestBytes + 2 * i64Bytes + u8Bytes;
/** Longest instance id a log node may answer (a UUID is 36 bytes). */
const instanceIdBytesMax = 128;

/**
 * Encodes `frame` as [header + fields] or, for frames that carry data, [header + fields, data].
 * Invalid field values are programming errors and throw a plain Error.
 */
export function encodeFrame(frame: Frame): Buffer[] {
  const type = frame.type;
  switch (type) {
    case "Hello": {
      const w = new FieldWriter(type, u32Bytes * 2, 0);
      w.u32("highVersion", frame.highVersion);
      w.u32("lowVersion", frame.lowVersion);
      return w.finish();
    }
    case "Error": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const message = stringBytes(type, "message", frame.message, errorMessageBytesMax);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + 2 * u16Bytes + segment + message, 0);
      w.u32("requestId", frame.requestId);
      w.u16("errorId", frame.errorId);
      w.string(frame.segment, segment);
      w.string(frame.message, message);
      return w.finish();
    }
    case "KeepAlive":
      return new FieldWriter(type, 0, 0).finish();
    case "SetupAppend": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + writerIdBytes + u16Bytes + segment, 0);
      w.u32("requestId", frame.requestId);
      w.uuid("writerId", frame.writerId);
      w.string(frame.segment, segment);
      return w.finish();
    }
    case "AppendSetup": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + writerIdBytes + u16Bytes + segment + i64Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.uuid("writerId", frame.writerId);
      w.string(frame.segment, segment);
      w.i64("lastEventNumber", frame.lastEventNumber);
      return w.finish();
    }
    case "AppendBlock": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const fields = u32Bytes + writerIdBytes + u16Bytes + segment + i64Bytes + u32Bytes;
      const w = new FieldWriter(type, fields, frame.data.length);
      w.u32("requestId", frame.requestId);
      w.uuid("writerId", frame.writerId);
      w.string(frame.segment, segment);
      w.i64("lastEventNumber", frame.lastEventNumber);
      w.u32("eventCount", frame.eventCount);
      return w.finish(frame.data);
    }
    case "DataAppended": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + writerIdBytes + u16Bytes + segment + 2 * i64Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.uuid("writerId", frame.writerId);
      w.string(frame.segment, segment);
      w.i64("eventNumber", frame.eventNumber);
      w.i64("segmentLength", frame.segmentLength);
      return w.finish();
    }
    case "ConditionalAppend": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const fields = u32Bytes + writerIdBytes + u16Bytes + segment + 2 * i64Bytes + u32Bytes;
      const w = new FieldWriter(type, fields, frame.data.length);
      w.u32("requestId", frame.requestId);
      w.uuid("writerId", frame.writerId);
      w.string(frame.segment, segment);
      w.i64("expectedOffset", frame.expectedOffset, 0);
      w.i64("lastEventNumber", frame.lastEventNumber);
      w.u32("eventCount", frame.eventCount);
      return w.finish(frame.data);
    }
    case "ReadSegment": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + i64Bytes + 2 * u32Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.i64("offset", frame.offset);
      w.u32("maxBytes", frame.maxBytes);
      w.u32("waitMs", frame.waitMs);
      return w.finish();
    }
    case "SegmentRead": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + i64Bytes + u8Bytes, frame.data.length);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.i64("offset", frame.offset);
      w.u8((frame.atTail ? segmentReadAtTail : 0) | (frame.endOfSegment ? segmentReadEndOfSegment : 0));
      return w.finish(frame.data);
    }
    case "CreateSegment":
    case "SegmentCreated":
    case "GetSegmentInfo": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      return w.finish();
    }
    case "SegmentInfo": {
      const segment = stringBytes(type, "segment", frame.segment, segmentNameBytesMax);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + 3 * i64Bytes + u8Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.i64("startOffset", frame.startOffset);
      w.i64("length", frame.length);
      w.u8(frame.sealed ? segmentInfoSealed : 0);
      w.i64("lastModifiedMs", frame.lastModifiedMs);
      return w.finish();
    }
    case "SealSegment":
    case "SegmentSealed":
    case "TruncateSegment":
    case "SegmentTruncated":
    case "MergeSegments":
    case "SegmentsMerged":
    case "DeleteSegment":
    case "SegmentDeleted":
    case "UpdateAttributes":
    case "AttributesUpdated":
    case "GetAttributes":
    case "AttributesRead":
    case "GetChunks":
    case "ChunksListed":
      return encodeSegmentFrame(frame);
    case "AddEntry": {
      let dataBytes = 0;
      for (const piece of frame.data) dataBytes += piece.length;
      const w = new FieldWriter(type, entryRequestBytes + i64Bytes + u8Bytes, dataBytes);
      w.u32("requestId", frame.requestId);
      w.u32("ledger", frame.ledger);
      w.i64("entryId", frame.entryId, 0);
      w.i64("lac", frame.lac);
      w.u8(frame.recovery ? addEntryRecovery : 0);
      return w.finishPieces(frame.data);
    }
    case "EntryAdded": {
      const w = new FieldWriter(type, entryRequestBytes, 0);
      w.u32("requestId", frame.requestId);
      w.u32("ledger", frame.ledger);
      w.i64("entryId", frame.entryId, 0);
      return w.finish();
    }
    case "ReadEntries": {
      const w = new FieldWriter(type, entryRequestBytes + u32Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.u32("ledger", frame.ledger);
      w.i64("firstEntryId", frame.firstEntryId, 0);
      w.u32("maxBytes", frame.maxBytes);
      return w.finish();
    }
    case "EntriesRead":
      return encodeEntriesRead(frame);
    case "ReadLedgerState":
    case "FenceLedger":
    case "DeleteLedger":
    case "LedgerDeleted": {
      const w = new FieldWriter(type, ledgerRequestBytes, 0);
      w.u32("requestId", frame.requestId);
      w.u32("ledger", frame.ledger);
      return w.finish();
    }
    case "ReadNodeIdentity": {
      const w = new FieldWriter(type, u32Bytes, 0);
      w.u32("requestId", frame.requestId);
      return w.finish();
    }
    case "NodeIdentity": {
      const id = stringBytes(type, "instanceId", frame.instanceId, instanceIdBytesMax);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + id, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.instanceId, id);
      return w.finish();
    }
    case "LedgerStateRead":
    case "LedgerFenced": {
      const w = new FieldWriter(type, ledgerStateBytes, 0);
      w.u32("requestId", frame.requestId);
      w.u32("ledger", frame.ledger);
      w.i64("lac", frame.lac);
      w.i64("lastEntryId", frame.lastEntryId);
      w.u8(frame.fenced ? ledgerStateFenced : 0);
      return w.finish();
    }
    default:
      return unreachable(type, "frame type");
  }
}

/**
 * Decodes the payload of a frame whose header said `typeId`. `data` fields are views of `payload`.
 * Throws UnknownFrameTypeError for an id this version does not know, MalformedFrameError (naming
 * the frame and field) for anything that does not parse.
 */
export function decodePayload(typeId: number, payload: Buffer): Frame {
  const type = frameTypeName(typeId);
  if (type === undefined) throw new UnknownFrameTypeError(`unknown frame type id ${typeId}`);
  const r = new FieldReader(type, payload);
  let frame: Frame;
  switch (type) {
    case "Hello":
      frame = { type, highVersion: r.u32("highVersion"), lowVersion: r.u32("lowVersion") };
      break;
    case "Error":
      frame = {
        type,
        requestId: r.u32("requestId"),
        errorId: r.u16("errorId"),
        segment: r.string("segment", segmentNameBytesMax),
        message: r.string("message", errorMessageBytesMax),
      };
      break;
    case "KeepAlive":
      frame = { type };
      break;
    case "SetupAppend":
      frame = { type, requestId: r.u32("requestId"), writerId: r.uuid("writerId"), segment: r.string("segment", segmentNameBytesMax) };
      break;
    case "AppendSetup":
      frame = {
        type,
        requestId: r.u32("requestId"),
        writerId: r.uuid("writerId"),
        segment: r.string("segment", segmentNameBytesMax),
        lastEventNumber: r.i64("lastEventNumber"),
      };
      break;
    case "AppendBlock":
      frame = {
        type,
        requestId: r.u32("requestId"),
        writerId: r.uuid("writerId"),
        segment: r.string("segment", segmentNameBytesMax),
        lastEventNumber: r.i64("lastEventNumber"),
        eventCount: r.u32("eventCount"),
        data: r.rest(),
      };
      break;
    case "DataAppended":
      frame = {
        type,
        requestId: r.u32("requestId"),
        writerId: r.uuid("writerId"),
        segment: r.string("segment", segmentNameBytesMax),
        eventNumber: r.i64("eventNumber"),
        segmentLength: r.i64("segmentLength"),
      };
      break;
    case "ConditionalAppend":
      frame = {
        type,
        requestId: r.u32("requestId"),
        writerId: r.uuid("writerId"),
        segment: r.string("segment", segmentNameBytesMax),
        expectedOffset: r.i64("expectedOffset", 0),
        lastEventNumber: r.i64("lastEventNumber"),
        eventCount: r.u32("eventCount"),
        data: r.rest(),
      };
      break;
    case "ReadSegment":
      frame = {
        type,
        requestId: r.u32("requestId"),
        segment: r.string("segment", segmentNameBytesMax),
        offset: r.i64("offset"),
        maxBytes: r.u32("maxBytes"),
        waitMs: r.u32("waitMs"),
      };
      break;
    case "SegmentRead": {
      const requestId = r.u32("requestId");
      const segment = r.string("segment", segmentNameBytesMax);
      const offset = r.i64("offset");
      const flags = r.flags("flags", segmentReadAtTail | segmentReadEndOfSegment);
      frame = {
        type,
        requestId,
        segment,
        offset,
        atTail: (flags & segmentReadAtTail) !== 0,
        endOfSegment: (flags & segmentReadEndOfSegment) !== 0,
        data: r.rest(),
      };
      break;
    }
    case "CreateSegment":
    case "SegmentCreated":
    case "GetSegmentInfo":
      frame = { type, requestId: r.u32("requestId"), segment: r.string("segment", segmentNameBytesMax) };
      break;
    case "SegmentInfo": {
      const requestId = r.u32("requestId");
      const segment = r.string("segment", segmentNameBytesMax);
      const startOffset = r.i64("startOffset");
      const length = r.i64("length");
      const flags = r.flags("flags", segmentInfoSealed);
      const lastModifiedMs = r.i64("lastModifiedMs");
      frame = { type, requestId, segment, startOffset, length, sealed: (flags & segmentInfoSealed) !== 0, lastModifiedMs };
      break;
    }
    case "SealSegment":
    case "SegmentSealed":
    case "TruncateSegment":
    case "SegmentTruncated":
    case "MergeSegments":
    case "SegmentsMerged":
    case "DeleteSegment":
    case "SegmentDeleted":
    case "UpdateAttributes":
    case "AttributesUpdated":
    case "GetAttributes":
    case "AttributesRead":
    case "GetChunks":
    case "ChunksListed":
      frame = decodeSegmentFrame(type, r);
      break;
    case "AddEntry": {
      const requestId = r.u32("requestId");
      const ledger = r.u32("ledger");
      const entryId = r.i64("entryId", 0);
      const lac = r.i64("lac");
      const flags = r.flags("flags", addEntryRecovery);
      const data = r.rest();
      frame = { type, requestId, ledger, entryId, lac, recovery: (flags & addEntryRecovery) !== 0, data: data.length === 0 ? [] : [data] };
      break;
    }
    case "EntryAdded":
      frame = { type, requestId: r.u32("requestId"), ledger: r.u32("ledger"), entryId: r.i64("entryId", 0) };
      break;
    case "ReadEntries":
      frame = { type, requestId: r.u32("requestId"), ledger: r.u32("ledger"), firstEntryId: r.i64("firstEntryId", 0), maxBytes: r.u32("maxBytes") };
      break;
    case "EntriesRead":
      frame = { type, requestId: r.u32("requestId"), ledger: r.u32("ledger"), firstEntryId: r.i64("firstEntryId", 0), entries: r.entries("entries") };
      break;
    case "ReadLedgerState":
    case "FenceLedger":
    case "DeleteLedger":
    case "LedgerDeleted":
      frame = { type, requestId: r.u32("requestId"), ledger: r.u32("ledger") };
      break;
    case "ReadNodeIdentity":
      frame = { type, requestId: r.u32("requestId") };
      break;
    case "NodeIdentity":
      frame = { type, requestId: r.u32("requestId"), instanceId: r.string("instanceId", instanceIdBytesMax) };
      break;
    case "LedgerStateRead":
    case "LedgerFenced": {
      const requestId = r.u32("requestId");
      const ledger = r.u32("ledger");
      const lac = r.i64("lac");
      const lastEntryId = r.i64("lastEntryId");
      const flags = r.flags("flags", ledgerStateFenced);
      frame = { type, requestId, ledger, lac, lastEntryId, fenced: (flags & ledgerStateFenced) !== 0 };
      break;
    }
    default:
      return unreachable(type, "frame type");
  }
  r.end();
  return frame;
}

/**
 * EntriesRead: the fixed fields and entry count in one buffer, then each entry's u32 length (views
 * of one shared buffer) followed by the entry itself, which is handed on uncopied.
 */
function encodeEntriesRead(frame: EntriesReadFrame): Buffer[] {
  const entries = frame.entries;
  let entryBytes = 0;
  for (const entry of entries) entryBytes += entryLengthBytes + entry.length;
  const w = new FieldWriter(frame.type, entryRequestBytes + u32Bytes, entryBytes);
  w.u32("requestId", frame.requestId);
  w.u32("ledger", frame.ledger);
  w.i64("firstEntryId", frame.firstEntryId, 0);
  w.u32("count", entries.length);
  const lengths = Buffer.allocUnsafe(entries.length * entryLengthBytes);
  const pieces: Buffer[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = lengths.writeUInt32BE(entry.length, i * entryLengthBytes);
    pieces.push(lengths.subarray(at - entryLengthBytes, at), entry);
  }
  return w.finishPieces(pieces);
}

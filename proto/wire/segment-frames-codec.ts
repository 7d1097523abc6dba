/**
 * The segment management frames beyond create and info (wire.md, "Segment management"): seal,
 * truncate, merge, delete and attributes, to bytes and back. codec.ts hands these frame types here
 * so that its own switch stays readable; the rules are the same as there: the header and fields go
 * into one buffer of exactly their size, and every field is checked on decode, naming the frame and
 * field. codec.ts checks that no bytes are left after the fields.
 */
import { assert, attributeUpdatesMax, chunkNameBytesMax, chunksListedMax, frameFieldsBytesMax, segmentNameBytesMax, unreachable } from "../../common/index.js";
import { FieldReader, FieldWriter, i64Bytes, stringBytes, u16Bytes, u32Bytes, u8Bytes } from "./fields.js";
import { attributeIdBytes, type AttributeUpdate, type FrameOf, type FrameType, type ListedChunk } from "./frames.js";

export type SegmentManagementFrameType =
  | "SealSegment"
  | "SegmentSealed"
  | "TruncateSegment"
  | "SegmentTruncated"
  | "MergeSegments"
  | "SegmentsMerged"
  | "DeleteSegment"
  | "SegmentDeleted"
  | "UpdateAttributes"
  | "AttributesUpdated"
  | "GetAttributes"
  | "AttributesRead"
  | "GetChunks"
  | "ChunksListed";
export type SegmentManagementFrame = FrameOf<SegmentManagementFrameType>;

/** UpdateAttributes: bit 0 of an update's flags asks for the compare. */
const attributeUpdateCompare = 0b01;
/** UpdateAttributes, each update: uuid id, i64 value, u8 flags, i64 expected. */
const attributeUpdateBytes = attributeIdBytes + i64Bytes + u8Bytes + i64Bytes;
/** AttributesRead, each value: uuid id, i64 value. */
const attributeValueBytes = attributeIdBytes + i64Bytes;
/** requestId and a segment name of the longest length: the fields every frame here starts with. */
const requestFieldsBytesMax = u32Bytes + u16Bytes + segmentNameBytesMax;

/** ChunksListed, each chunk at least: an empty name's length, i64 offset, i64 length. */
const listedChunkBytesMin = u16Bytes + 2 * i64Bytes;

// The largest attribute frame must fit the room a frame has for fields, and its count a u16.
assert(requestFieldsBytesMax + u16Bytes + attributeUpdatesMax * attributeUpdateBytes <= frameFieldsBytesMax, "a full UpdateAttributes fits one frame");
assert(attributeUpdatesMax <= 0xffff, "an attribute count fits a u16");
// So must the fullest chunk list, with every name at its longest.
assert(requestFieldsBytesMax + u16Bytes + chunksListedMax * (listedChunkBytesMin + chunkNameBytesMax) <= frameFieldsBytesMax, "a full ChunksListed fits one frame");
assert(chunksListedMax <= 0xffff, "a chunk count fits a u16");

/** Encodes one segment management frame as [header + fields]. Invalid values throw a plain Error. */
export function encodeSegmentFrame(frame: SegmentManagementFrame): Buffer[] {
  const type = frame.type;
  const segmentBytes = (field: string, value: string): number => stringBytes(type, field, value, segmentNameBytesMax);
  switch (type) {
    case "SealSegment":
    case "DeleteSegment":
    case "SegmentDeleted":
    case "AttributesUpdated": {
      const segment = segmentBytes("segment", frame.segment);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      return w.finish();
    }
    case "SegmentSealed": {
      const segment = segmentBytes("segment", frame.segment);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + i64Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.i64("length", frame.length, 0);
      return w.finish();
    }
    case "TruncateSegment":
    case "SegmentTruncated": {
      const segment = segmentBytes("segment", frame.segment);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + i64Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.i64("startOffset", frame.startOffset, 0);
      return w.finish();
    }
    case "MergeSegments": {
      const target = segmentBytes("target", frame.target);
      const source = segmentBytes("source", frame.source);
      const w = new FieldWriter(type, u32Bytes + 2 * u16Bytes + target + source, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.target, target);
      w.string(frame.source, source);
      return w.finish();
    }
    case "SegmentsMerged": {
      const target = segmentBytes("target", frame.target);
      const source = segmentBytes("source", frame.source);
      const w = new FieldWriter(type, u32Bytes + 2 * u16Bytes + target + source + i64Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.target, target);
      w.string(frame.source, source);
      w.i64("targetLength", frame.targetLength, 0);
      return w.finish();
    }
    case "UpdateAttributes": {
      const segment = segmentBytes("segment", frame.segment);
      const count = checkCount(type, "updates", frame.updates.length, 1);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + u16Bytes + count * attributeUpdateBytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.u16("count", count);
      for (const update of frame.updates) {
        w.uuid("updates.id", update.id);
        w.i64("updates.value", update.value);
        w.u8(update.compare ? attributeUpdateCompare : 0);
        w.i64("updates.expected", update.expected);
      }
      return w.finish();
    }
    case "GetAttributes": {
      const segment = segmentBytes("segment", frame.segment);
      const count = checkCount(type, "ids", frame.ids.length, 1);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + u16Bytes + count * attributeIdBytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.u16("count", count);
      for (const id of frame.ids) w.uuid("ids", id);
      return w.finish();
    }
    case "AttributesRead": {
      const segment = segmentBytes("segment", frame.segment);
      const count = checkCount(type, "values", frame.values.length, 0);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + u16Bytes + count * attributeValueBytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.u16("count", count);
      for (const v of frame.values) {
        w.uuid("values.id", v.id);
        w.i64("values.value", v.value);
      }
      return w.finish();
    }
    case "GetChunks": {
      const segment = segmentBytes("segment", frame.segment);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + i64Bytes + u16Bytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.i64("offset", frame.offset, 0);
      w.u16("maxCount", frame.maxCount);
      return w.finish();
    }
    case "ChunksListed": {
      const segment = segmentBytes("segment", frame.segment);
      if (frame.chunks.length > chunksListedMax) throw new Error(`${type}.chunks: ${frame.chunks.length} items, more than ${chunksListedMax}`);
      const names = frame.chunks.map((c) => stringBytes(type, "chunks.name", c.name, chunkNameBytesMax));
      const nameBytes = names.reduce((n, b) => n + b, 0);
      const w = new FieldWriter(type, u32Bytes + u16Bytes + segment + u16Bytes + frame.chunks.length * listedChunkBytesMin + nameBytes, 0);
      w.u32("requestId", frame.requestId);
      w.string(frame.segment, segment);
      w.u16("count", frame.chunks.length);
      frame.chunks.forEach((c, i) => {
        w.string(c.name, names[i]!);
        w.i64("chunks.offset", c.offset, 0);
        w.i64("chunks.length", c.length, 0);
      });
      return w.finish();
    }
    default:
      return unreachable(type, "segment management frame type");
  }
}

/**
 * Reads the fields of one segment management frame from `r`, which is at the start of the payload.
 * Throws MalformedFrameError (naming the frame and field) for anything that does not parse.
 */
export function decodeSegmentFrame(type: SegmentManagementFrameType, r: FieldReader): SegmentManagementFrame {
  switch (type) {
    case "SealSegment":
    case "DeleteSegment":
    case "SegmentDeleted":
    case "AttributesUpdated":
      return { type, requestId: r.u32("requestId"), segment: r.string("segment", segmentNameBytesMax) };
    case "SegmentSealed":
      return { type, requestId: r.u32("requestId"), segment: r.string("segment", segmentNameBytesMax), length: r.i64("length", 0) };
    case "TruncateSegment":
    case "SegmentTruncated":
      return { type, requestId: r.u32("requestId"), segment: r.string("segment", segmentNameBytesMax), startOffset: r.i64("startOffset", 0) };
    case "MergeSegments":
      return { type, requestId: r.u32("requestId"), target: r.string("target", segmentNameBytesMax), source: r.string("source", segmentNameBytesMax) };
    case "SegmentsMerged":
      return {
        type,
        requestId: r.u32("requestId"),
        target: r.string("target", segmentNameBytesMax),
        source: r.string("source", segmentNameBytesMax),
        targetLength: r.i64("targetLength", 0),
      };
    case "UpdateAttributes": {
      const requestId = r.u32("requestId");
      const segment = r.string("segment", segmentNameBytesMax);
      const count = r.count("count", 1, attributeUpdatesMax, attributeUpdateBytes);
      const updates: AttributeUpdate[] = [];
      for (let i = 0; i < count; i++) {
        const id = r.uuid(`updates[${i}].id`);
        const value = r.i64(`updates[${i}].value`);
        const flags = r.flags(`updates[${i}].flags`, attributeUpdateCompare);
        const expected = r.i64(`updates[${i}].expected`);
        updates.push({ id, value, compare: (flags & attributeUpdateCompare) !== 0, expected });
      }
      return { type, requestId, segment, updates };
    }
    case "GetAttributes": {
      const requestId = r.u32("requestId");
      const segment = r.string("segment", segmentNameBytesMax);
      const count = r.count("count", 1, attributeUpdatesMax, attributeIdBytes);
      const ids: Buffer[] = [];
      for (let i = 0; i < count; i++) ids.push(r.uuid(`ids[${i}]`));
      return { type, requestId, segment, ids };
    }
    case "AttributesRead": {
      const requestId = r.u32("requestId");
      const segment = r.string("segment", segmentNameBytesMax);
      // A reply answers one GetAttributes, so it never holds more values than a request may ask for.
      const count = r.count("count", 0, attributeUpdatesMax, attributeValueBytes);
      const values: { id: Buffer; value: number }[] = [];
      for (let i = 0; i < count; i++) values.push({ id: r.uuid(`values[${i}].id`), value: r.i64(`values[${i}].value`) });
      return { type, requestId, segment, values };
    }
    case "GetChunks":
      return { type, requestId: r.u32("requestId"), segment: r.string("segment", segmentNameBytesMax), offset: r.i64("offset", 0), maxCount: r.u16("maxCount") };
    case "ChunksListed": {
      const requestId = r.u32("requestId");
      const segment = r.string("segment", segmentNameBytesMax);
      const count = r.count("count", 0, chunksListedMax, listedChunkBytesMin);
      const chunks: ListedChunk[] = [];
      for (let i = 0; i < count; i++) {
        chunks.push({ name: r.string(`chunks[${i}].name`, chunkNameBytesMax), offset: r.i64(`chunks[${i}].offset`, 0), length: r.i64(`chunks[${i}].length`, 0) });
      }
      return { type, requestId, segment, chunks };
    }
    default:
      return unreachable(type, "segment management frame type");
  }
}

/** Checks an item count for encoding: a programming error if outside [min, attributeUpdatesMax]. */
function checkCount(type: FrameType, field: string, count: number, min: number): number {
  if (count < min || count > attributeUpdatesMax) throw new Error(`${type}.${field}: ${count} items, outside [${min}, ${attributeUpdatesMax}]`);
  return count;
}

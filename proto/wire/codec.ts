/**
 * Frames to bytes and back (wire.md). Encoding builds the header and fixed fields into one buffer
 * of exactly their size and hands a frame's `data` on untouched, so event bytes are never copied
 * or re-encoded. Decoding checks every field against the spec and returns `data` as a view of the
 * payload.
 */
import { MalformedFrameError, UnknownFrameTypeError, frameBytesMax, frameHeaderBytes, segmentNameBytesMax, unreachable } from "../../common/index.js";
import { errorMessageBytesMax, frameTypeIds, frameTypeName, writerIdBytes, type Frame, type FrameType } from "./frames.js";

const u8Bytes = 1;
const u16Bytes = 2;
const u32Bytes = 4;
const i64Bytes = 8;
const u32Max = 0xffff_ffff;
const u16Max = 0xffff;
const twoPow32 = 2 ** 32;

const segmentReadAtTail = 0b01;
const segmentReadEndOfSegment = 0b10;
const segmentInfoSealed = 0b01;

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
    default:
      return unreachable(type, "frame type");
  }
  r.end();
  return frame;
}

/** Validates a string field for encoding and returns its UTF-8 byte length. */
function stringBytes(type: FrameType, field: string, value: string, bytesMax: number): number {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > bytesMax) throw new Error(`${type}.${field}: ${bytes} bytes exceeds the ${bytesMax}-byte limit`);
  return bytes;
}

/** Writes header and fixed fields into one buffer allocated at exactly their size. */
class FieldWriter {
  private readonly buf: Buffer;
  private pos = frameHeaderBytes;

  constructor(
    private readonly type: FrameType,
    fieldsBytes: number,
    private readonly dataBytes: number,
  ) {
    const payloadBytes = fieldsBytes + dataBytes;
    if (frameHeaderBytes + payloadBytes > frameBytesMax) {
      throw new Error(`${type}: frame of ${frameHeaderBytes + payloadBytes} bytes exceeds frameBytesMax ${frameBytesMax}`);
    }
    // allocUnsafe is safe here: finish() asserts every byte was written.
    this.buf = Buffer.allocUnsafe(frameHeaderBytes + fieldsBytes);
    this.buf.writeUInt32BE(frameTypeIds[type], 0);
    this.buf.writeUInt32BE(payloadBytes, u32Bytes);
  }

  u8(value: number): void {
    this.pos = this.buf.writeUInt8(value, this.pos);
  }

  u16(field: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > u16Max) throw new Error(`${this.type}.${field}: ${value} is not a u16`);
    this.pos = this.buf.writeUInt16BE(value, this.pos);
  }

  u32(field: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > u32Max) throw new Error(`${this.type}.${field}: ${value} is not a u32`);
    this.pos = this.buf.writeUInt32BE(value, this.pos);
  }

  i64(field: string, value: number): void {
    if (!Number.isSafeInteger(value) || value < -1) throw new Error(`${this.type}.${field}: ${value} is outside [-1, 2^53-1]`);
    const high = Math.floor(value / twoPow32);
    this.pos = this.buf.writeInt32BE(high, this.pos);
    this.pos = this.buf.writeUInt32BE(value - high * twoPow32, this.pos);
  }

  uuid(field: string, value: Buffer): void {
    if (value.length !== writerIdBytes) throw new Error(`${this.type}.${field}: ${value.length} bytes, expected ${writerIdBytes}`);
    this.pos += value.copy(this.buf, this.pos);
  }

  /** `bytes` is the UTF-8 length already checked by stringBytes. */
  string(value: string, bytes: number): void {
    this.pos = this.buf.writeUInt16BE(bytes, this.pos);
    const written = this.buf.write(value, this.pos, "utf8");
    if (written !== bytes) throw new Error(`invariant violated: ${this.type} string wrote ${written} of ${bytes} bytes`);
    this.pos += written;
  }

  finish(data?: Buffer): Buffer[] {
    if (this.pos !== this.buf.length) throw new Error(`invariant violated: ${this.type} fields wrote ${this.pos} of ${this.buf.length} bytes`);
    if (data === undefined) {
      if (this.dataBytes !== 0) throw new Error(`invariant violated: ${this.type} declared data but gave none`);
      return [this.buf];
    }
    // A frame with empty data is still one write; an empty second buffer would only cost a syscall slot.
    return data.length === 0 ? [this.buf] : [this.buf, data];
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Reads fields in order, naming the frame and field in every error. */
class FieldReader {
  private pos = 0;

  constructor(
    private readonly type: FrameType,
    private readonly payload: Buffer,
  ) {}

  private need(field: string, bytes: number): void {
    if (this.payload.length - this.pos < bytes) {
      throw new MalformedFrameError(
        `${this.type} frame too short: field ${field} needs ${bytes} bytes at ${this.pos}, payload has ${this.payload.length}`,
      );
    }
  }

  u16(field: string): number {
    this.need(field, u16Bytes);
    const value = this.payload.readUInt16BE(this.pos);
    this.pos += u16Bytes;
    return value;
  }

  u32(field: string): number {
    this.need(field, u32Bytes);
    const value = this.payload.readUInt32BE(this.pos);
    this.pos += u32Bytes;
    return value;
  }

  /** A u8 bit set; bits outside `allowed` are malformed (a later version may give them meaning). */
  flags(field: string, allowed: number): number {
    this.need(field, u8Bytes);
    const value = this.payload.readUInt8(this.pos);
    this.pos += u8Bytes;
    if ((value & ~allowed) !== 0) throw new MalformedFrameError(`${this.type} frame: field ${field} has unknown bits 0x${value.toString(16)}`);
    return value;
  }

  i64(field: string): number {
    this.need(field, i64Bytes);
    const value = this.payload.readInt32BE(this.pos) * twoPow32 + this.payload.readUInt32BE(this.pos + u32Bytes);
    if (!Number.isSafeInteger(value) || value < -1) {
      throw new MalformedFrameError(`${this.type} frame: field ${field} is outside [-1, 2^53-1]`);
    }
    this.pos += i64Bytes;
    return value;
  }

  /** A copy, not a view: writer ids outlive the frame (maps keyed by writer) and must not pin it. */
  uuid(field: string): Buffer {
    this.need(field, writerIdBytes);
    const value = Buffer.from(this.payload.subarray(this.pos, this.pos + writerIdBytes));
    this.pos += writerIdBytes;
    return value;
  }

  string(field: string, bytesMax: number): string {
    const bytes = this.u16(field);
    if (bytes > bytesMax) throw new MalformedFrameError(`${this.type} frame: field ${field} is ${bytes} bytes, limit ${bytesMax}`);
    this.need(field, bytes);
    let value: string;
    try {
      value = utf8.decode(this.payload.subarray(this.pos, this.pos + bytes));
    } catch (err) {
      throw new MalformedFrameError(`${this.type} frame: field ${field} is not valid UTF-8`, { cause: err });
    }
    this.pos += bytes;
    return value;
  }

  /** Every byte to the end of the payload, as a view. */
  rest(): Buffer {
    const value = this.payload.subarray(this.pos);
    this.pos = this.payload.length;
    return value;
  }

  end(): void {
    if (this.pos !== this.payload.length) {
      throw new MalformedFrameError(`${this.type} frame has ${this.payload.length - this.pos} trailing bytes`);
    }
  }
}

/**
 * The field-level half of the codec (wire.md, "Field types"): FieldWriter builds a frame's header
 * and fixed fields into one buffer of exactly their size, FieldReader reads fields back in order
 * and names the frame and field in every MalformedFrameError. codec.ts says which fields each
 * frame has.
 */
import { MalformedFrameError, frameBytesMax, frameHeaderBytes } from "../../common/index.js";
import { frameTypeIds, writerIdBytes, type FrameType } from "./frames.js";

export const u8Bytes = 1;
export const u16Bytes = 2;
export const u32Bytes = 4;
export const i64Bytes = 8;
const u32Max = 0xffff_ffff;
const u16Max = 0xffff;
const twoPow32 = 2 ** 32;
/** Each entry of EntriesRead is `u32 length | bytes`. */
export const entryLengthBytes = u32Bytes;

/** Validates a string field for encoding and returns its UTF-8 byte length. */
export function stringBytes(type: FrameType, field: string, value: string, bytesMax: number): number {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > bytesMax) throw new Error(`${type}.${field}: ${bytes} bytes exceeds the ${bytesMax}-byte limit`);
  return bytes;
}

/** Writes header and fixed fields into one buffer allocated at exactly their size. */
export class FieldWriter {
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

  /** `min` is -1 where the field may say "none", 0 where it may not. */
  i64(field: string, value: number, min = -1): void {
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`${this.type}.${field}: ${value} is outside [${min}, 2^53-1]`);
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

  /** Like finish, for data given as pieces; each piece is handed on as is, empty ones left out. */
  finishPieces(pieces: readonly Buffer[]): Buffer[] {
    if (this.pos !== this.buf.length) throw new Error(`invariant violated: ${this.type} fields wrote ${this.pos} of ${this.buf.length} bytes`);
    const out = [this.buf];
    let bytes = 0;
    for (const piece of pieces) {
      bytes += piece.length;
      if (piece.length > 0) out.push(piece);
    }
    if (bytes !== this.dataBytes) throw new Error(`invariant violated: ${this.type} declared ${this.dataBytes} data bytes, pieces hold ${bytes}`);
    return out;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Reads fields in order, naming the frame and field in every error. */
export class FieldReader {
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

  /**
   * A u16 item count in [min, max]. Each item takes `itemBytes`, so a count the bytes left cannot
   * hold is refused before anything is allocated for it; one too small leaves bytes that end()
   * rejects.
   */
  count(field: string, min: number, max: number, itemBytes: number): number {
    const count = this.u16(field);
    if (count < min || count > max) throw new MalformedFrameError(`${this.type} frame: field ${field} is ${count}, outside [${min}, ${max}]`);
    if (count * itemBytes > this.payload.length - this.pos) {
      throw new MalformedFrameError(`${this.type} frame: ${field} ${count} items of ${itemBytes} bytes cannot fit the ${this.payload.length - this.pos} bytes left`);
    }
    return count;
  }

  /** A u8 bit set; bits outside `allowed` are malformed (a later version may give them meaning). */
  flags(field: string, allowed: number): number {
    this.need(field, u8Bytes);
    const value = this.payload.readUInt8(this.pos);
    this.pos += u8Bytes;
    if ((value & ~allowed) !== 0) throw new MalformedFrameError(`${this.type} frame: field ${field} has unknown bits 0x${value.toString(16)}`);
    return value;
  }

  /** `min` is -1 where the field may say "none", 0 where it may not. */
  i64(field: string, min = -1): number {
    this.need(field, i64Bytes);
    const value = this.payload.readInt32BE(this.pos) * twoPow32 + this.payload.readUInt32BE(this.pos + u32Bytes);
    if (!Number.isSafeInteger(value) || value < min) {
      throw new MalformedFrameError(`${this.type} frame: field ${field} is outside [${min}, 2^53-1]`);
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

  /**
   * `u32 count`, then `count` times `u32 length | bytes`, each entry a view. The count is checked
   * against the bytes left before anything is allocated for it, and the lengths must add up exactly
   * to the rest of the payload (end() rejects bytes left over).
   */
  entries(field: string): Buffer[] {
    const count = this.u32(`${field} count`);
    if (count > (this.payload.length - this.pos) / entryLengthBytes) {
      throw new MalformedFrameError(`${this.type} frame: ${count} ${field} cannot fit the ${this.payload.length - this.pos} bytes left`);
    }
    const entries: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const bytes = this.u32(`${field}[${i}] length`);
      this.need(`${field}[${i}]`, bytes);
      entries.push(this.payload.subarray(this.pos, this.pos + bytes));
      this.pos += bytes;
    }
    return entries;
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

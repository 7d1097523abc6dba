/**
 * Events inside frame data and segments: each is `u32 length | payload` (big-endian), stored in a
 * segment exactly as it travels. Validation walks the lengths without copying; the parser joins the
 * raw byte ranges of consecutive reads back into events.
 */
import { DataCorruptionError, EventTooLargeError, InvalidEventsError, eventBytesMax, eventHeaderBytes } from "../../common/index.js";

/**
 * Checks that `data` holds exactly `eventCount` well-formed events (wire.md, "Events inside
 * data"). Throws EventTooLargeError for a length above eventBytesMax, InvalidEventsError when the
 * lengths do not add up to the data's size, the count differs, or `eventCount < 1`.
 */
export function validateEvents(data: Buffer, eventCount: number): void {
  if (!Number.isInteger(eventCount) || eventCount < 1) throw new InvalidEventsError(`event count ${eventCount} is not a whole number of at least 1`);
  let pos = 0;
  let count = 0;
  while (pos < data.length) {
    if (data.length - pos < eventHeaderBytes) {
      throw new InvalidEventsError(`event ${count} at byte ${pos}: ${data.length - pos} bytes left, too few for a length prefix`);
    }
    const length = data.readUInt32BE(pos);
    if (length > eventBytesMax) throw new EventTooLargeError(`event ${count} at byte ${pos} is ${length} bytes, limit ${eventBytesMax}`);
    pos += eventHeaderBytes + length;
    if (pos > data.length) {
      throw new InvalidEventsError(`event ${count} of ${length} bytes runs ${pos - data.length} bytes past the end of the data`);
    }
    count++;
    // Stop early rather than walk a long tail of events that can only fail.
    if (count > eventCount) throw new InvalidEventsError(`data holds more than the ${eventCount} events declared`);
  }
  if (count !== eventCount) throw new InvalidEventsError(`data holds ${count} events, ${eventCount} declared`);
}

/** The part of already-validated `data` after its first `count` events, as a view. */
export function skipEvents(data: Buffer, count: number): Buffer {
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (data.length - pos < eventHeaderBytes) throw new Error(`invariant violated: skipEvents(${count}) past the end at event ${i}`);
    pos += eventHeaderBytes + data.readUInt32BE(pos);
  }
  if (pos > data.length) throw new Error(`invariant violated: skipEvents(${count}) past the end of the data`);
  return data.subarray(pos);
}

/** Frames payloads as events in one buffer allocated at its exact size. */
export function encodeEvents(payloads: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const payload of payloads) {
    if (payload.length > eventBytesMax) throw new EventTooLargeError(`event of ${payload.length} bytes exceeds the ${eventBytesMax}-byte limit`);
    total += eventHeaderBytes + payload.length;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const payload of payloads) {
    pos = out.writeUInt32BE(payload.length, pos);
    out.set(payload, pos);
    pos += payload.length;
  }
  return out;
}

export interface ParsedEvent {
  /** Segment offset of the event's length prefix (where a reader resumes to read it again). */
  offset: number;
  /** The event payload, without its length prefix. */
  data: Buffer;
}

interface PartialEvent {
  offset: number;
  data: Buffer;
  filledBytes: number;
}

/**
 * Joins consecutive raw segment byte ranges (reads may end mid-event) into events. Events wholly
 * inside one range are returned as views of it; an event split across ranges gets one buffer of
 * exactly its size. At most one partial event is held, and its size is bounded by eventBytesMax.
 */
export class EventParser {
  private expectedOffset: number | null;
  /** Holds a length prefix split across ranges. */
  private readonly header = Buffer.alloc(eventHeaderBytes);
  private headerBytes = 0;
  private headerOffset = 0;
  private partial: PartialEvent | null = null;
  private failure: DataCorruptionError | null = null;

  /** `offsetStart` is where the first range must begin; without it the first push sets it. */
  constructor(offsetStart?: number) {
    this.expectedOffset = offsetStart ?? null;
  }

  /** Bytes held for an event not yet complete. */
  get pendingBytes(): number {
    return this.headerBytes + (this.partial === null ? 0 : eventHeaderBytes + this.partial.filledBytes);
  }

  /** The offset the next push must start at (end of the bytes pushed so far), or null before any. */
  get nextOffset(): number | null {
    return this.expectedOffset;
  }

  /**
   * Consumes the segment bytes at `offset` and returns the events they complete. Throws
   * DataCorruptionError (and stays failed) for a length prefix above eventBytesMax; a range that does
   * not start where the last one ended is a programming error.
   */
  push(offset: number, bytes: Buffer): ParsedEvent[] {
    if (this.failure !== null) throw this.failure;
    if (this.expectedOffset !== null && offset !== this.expectedOffset) {
      throw new Error(`invariant violated: EventParser expected offset ${this.expectedOffset}, got ${offset}`);
    }
    this.expectedOffset = offset + bytes.length;
    const events: ParsedEvent[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      if (this.partial === null) {
        let length: number;
        let eventOffset: number;
        if (this.headerBytes === 0 && bytes.length - pos >= eventHeaderBytes) {
          eventOffset = offset + pos;
          length = bytes.readUInt32BE(pos);
          pos += eventHeaderBytes;
        } else {
          if (this.headerBytes === 0) this.headerOffset = offset + pos;
          const copied = bytes.copy(this.header, this.headerBytes, pos, pos + eventHeaderBytes - this.headerBytes);
          this.headerBytes += copied;
          pos += copied;
          if (this.headerBytes < eventHeaderBytes) break;
          eventOffset = this.headerOffset;
          length = this.header.readUInt32BE(0);
          this.headerBytes = 0;
        }
        if (length > eventBytesMax) {
          this.failure = new DataCorruptionError(`event at segment offset ${eventOffset} declares ${length} bytes, limit ${eventBytesMax}`);
          throw this.failure;
        }
        if (bytes.length - pos >= length) {
          events.push({ offset: eventOffset, data: bytes.subarray(pos, pos + length) });
          pos += length;
          continue;
        }
        this.partial = { offset: eventOffset, data: Buffer.allocUnsafe(length), filledBytes: 0 };
      }
      const partial = this.partial;
      const copied = bytes.copy(partial.data, partial.filledBytes, pos, pos + partial.data.length - partial.filledBytes);
      partial.filledBytes += copied;
      pos += copied;
      if (partial.filledBytes < partial.data.length) break;
      this.partial = null;
      events.push({ offset: partial.offset, data: partial.data });
    }
    return events;
  }
}

/**
 * Turns a byte stream (socket chunks of any size) into frames. The declared length is checked
 * against frameBytesMax as soon as the 8 header bytes are in, before anything is buffered or
 * allocated for the payload, so a hostile length costs nothing. A frame that lies wholly inside one
 * chunk is decoded from a view of that chunk; a frame spread over chunks gets one buffer of exactly
 * its payload size, filled as chunks arrive.
 */
import { FrameTooLargeError, UnknownFrameTypeError, toSluiceError, type SluiceError, frameBytesMax, frameHeaderBytes } from "../../common/index.js";
import { decodePayload } from "./codec.js";
import { frameTypeName, type Frame } from "./frames.js";

interface PartialPayload {
  typeId: number;
  payload: Buffer;
  filledBytes: number;
}

export class FrameDecoder {
  /** Holds a header split across chunks; only ever 8 bytes. */
  private readonly header = Buffer.alloc(frameHeaderBytes);
  private headerBytes = 0;
  private partial: PartialPayload | null = null;
  private failure: SluiceError | null = null;

  /**
   * `onFrame` is called synchronously from `push`, in stream order. If it throws, the decoder is
   * poisoned too: the rest of that chunk was not consumed, so the stream position is lost.
   */
  constructor(private readonly onFrame: (frame: Frame) => void) {}

  /** Bytes held for a frame not yet complete (header bytes plus payload bytes so far). */
  get bufferedBytes(): number {
    return this.headerBytes + (this.partial === null ? 0 : this.partial.filledBytes);
  }

  /**
   * Consumes `chunk`, delivering every frame it completes. Throws FrameTooLargeError,
   * UnknownFrameTypeError or MalformedFrameError for a bad stream; after any throw every later
   * push throws the same error, since the stream cannot be trusted past it.
   */
  push(chunk: Buffer): void {
    if (this.failure !== null) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = toSluiceError(err);
      this.headerBytes = 0;
      this.partial = null;
      throw this.failure;
    }
  }

  private consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.partial === null) {
        let typeId: number;
        let payloadBytes: number;
        if (this.headerBytes === 0 && chunk.length - pos >= frameHeaderBytes) {
          typeId = chunk.readUInt32BE(pos);
          payloadBytes = chunk.readUInt32BE(pos + 4);
          pos += frameHeaderBytes;
        } else {
          const copied = chunk.copy(this.header, this.headerBytes, pos, pos + frameHeaderBytes - this.headerBytes);
          this.headerBytes += copied;
          pos += copied;
          if (this.headerBytes < frameHeaderBytes) return;
          typeId = this.header.readUInt32BE(0);
          payloadBytes = this.header.readUInt32BE(4);
          this.headerBytes = 0;
        }
        checkHeader(typeId, payloadBytes);
        if (chunk.length - pos >= payloadBytes) {
          const frame = decodePayload(typeId, chunk.subarray(pos, pos + payloadBytes));
          pos += payloadBytes;
          this.onFrame(frame);
          continue;
        }
        // The length was checked above, so this allocation is bounded by frameBytesMax.
        this.partial = { typeId, payload: Buffer.allocUnsafe(payloadBytes), filledBytes: 0 };
      }
      const partial = this.partial;
      const copied = chunk.copy(partial.payload, partial.filledBytes, pos, pos + partial.payload.length - partial.filledBytes);
      partial.filledBytes += copied;
      pos += copied;
      if (partial.filledBytes < partial.payload.length) return;
      this.partial = null;
      this.onFrame(decodePayload(partial.typeId, partial.payload));
    }
  }
}

/** Rejects a frame by its header alone, before its payload is buffered. */
function checkHeader(typeId: number, payloadBytes: number): void {
  if (frameHeaderBytes + payloadBytes > frameBytesMax) {
    throw new FrameTooLargeError(`frame of ${frameHeaderBytes + payloadBytes} bytes exceeds the ${frameBytesMax}-byte limit`);
  }
  // An unknown type is fatal anyway; failing now avoids buffering up to 16 MiB for nothing.
  if (frameTypeName(typeId) === undefined) throw new UnknownFrameTypeError(`unknown frame type id ${typeId}`);
}

package io.sluice.client.wire;

import io.sluice.client.Utf8;
import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * Builds one whole frame (header, fields, data) into a buffer allocated at exactly its size, like
 * {@code FieldWriter} of proto/wire/fields.ts. Values outside their field's range are programming
 * errors: {@link IllegalArgumentException} naming the frame and field.
 */
final class FieldWriter {
  static final int U8_BYTES = 1;
  static final int U16_BYTES = 2;
  static final int U32_BYTES = 4;
  static final int I64_BYTES = 8;
  static final int UUID_BYTES = 16;
  static final long I64_MAX = (1L << 53) - 1;

  private final String frame;
  private final ByteBuffer buf;

  /** Starts a frame of type `typeId` whose fields take `fieldsBytes` and data `dataBytes`. */
  FieldWriter(int typeId, long fieldsBytes, long dataBytes) {
    this.frame = FrameCodec.frameName(typeId);
    long payloadBytes = fieldsBytes + dataBytes;
    if (FrameCodec.HEADER_BYTES + payloadBytes > FrameCodec.FRAME_BYTES_MAX) {
      throw new IllegalArgumentException(frame + ": frame of " + (FrameCodec.HEADER_BYTES + payloadBytes)
          + " bytes exceeds frameBytesMax " + FrameCodec.FRAME_BYTES_MAX);
    }
    buf = ByteBuffer.allocate(FrameCodec.HEADER_BYTES + (int) payloadBytes);
    buf.putInt(typeId);
    buf.putInt((int) payloadBytes);
  }

  /** The UTF-8 bytes of a string field, checked against its limit. */
  static byte[] stringBytes(int typeId, String field, String value, int bytesMax) {
    if (value == null) throw new IllegalArgumentException(FrameCodec.frameName(typeId) + "." + field + ": null");
    byte[] bytes = Utf8.encode(value);
    if (bytes.length > bytesMax) {
      throw new IllegalArgumentException(FrameCodec.frameName(typeId) + "." + field + ": " + bytes.length
          + " bytes exceeds the " + bytesMax + "-byte limit");
    }
    return bytes;
  }

  /** Bytes a string field takes: its u16 length and its UTF-8 bytes. */
  static int stringFieldBytes(byte[] utf8) {
    return U16_BYTES + utf8.length;
  }

  void u8(int value) {
    buf.put((byte) value);
  }

  void u16(String field, int value) {
    if (value < 0 || value > 0xffff) throw new IllegalArgumentException(frame + "." + field + ": " + value + " is not a u16");
    buf.putShort((short) value);
  }

  /** Any int is a u32 (read unsigned). */
  void u32(int value) {
    buf.putInt(value);
  }

  /** `min` is -1 where the field may say "none", 0 where it may not. */
  void i64(String field, long value, long min) {
    if (value < min || value > I64_MAX) {
      throw new IllegalArgumentException(frame + "." + field + ": " + value + " is outside [" + min + ", 2^53-1]");
    }
    buf.putLong(value);
  }

  void uuid(String field, UUID value) {
    if (value == null) throw new IllegalArgumentException(frame + "." + field + ": null");
    buf.putLong(value.getMostSignificantBits());
    buf.putLong(value.getLeastSignificantBits());
  }

  /** `utf8` comes from {@link #stringBytes}, already checked. */
  void string(byte[] utf8) {
    buf.putShort((short) utf8.length);
    buf.put(utf8);
  }

  /** Copies the remaining bytes of `data` without moving its position. */
  void data(ByteBuffer data) {
    buf.put(data.duplicate());
  }

  /** The whole frame, ready to write (position 0); asserts every byte was written. */
  ByteBuffer finish() {
    if (buf.hasRemaining()) {
      throw new IllegalStateException("invariant violated: " + frame + " wrote " + buf.position() + " of " + buf.capacity() + " bytes");
    }
    return buf.flip();
  }
}

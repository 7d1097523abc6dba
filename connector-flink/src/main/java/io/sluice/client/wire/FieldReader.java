package io.sluice.client.wire;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.Utf8;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Reads a payload's fields in order, naming the frame and field in every MALFORMED_FRAME error,
 * with the same checks and messages as {@code FieldReader} of proto/wire/fields.ts. Counts and
 * lengths are checked against the bytes left before anything is allocated for them.
 */
final class FieldReader {
  private final String frame;
  private final ByteBuffer payload;
  private final int base;
  private final int length;
  private int pos;

  /** Reads the bytes between `payload`'s position and limit; does not move them. */
  FieldReader(String frame, ByteBuffer payload) {
    this.frame = frame;
    this.payload = payload;
    this.base = payload.position();
    this.length = payload.remaining();
  }

  private SluiceException malformed(String message) {
    return new SluiceException(ErrorCode.MALFORMED_FRAME, message);
  }

  private void need(String field, long bytes) {
    if (length - pos < bytes) {
      throw malformed(frame + " frame too short: field " + field + " needs " + bytes + " bytes at " + pos + ", payload has " + length);
    }
  }

  int u16(String field) {
    need(field, FieldWriter.U16_BYTES);
    int value = Short.toUnsignedInt(payload.getShort(base + pos));
    pos += FieldWriter.U16_BYTES;
    return value;
  }

  /** A u32 in an int (read it unsigned). */
  int u32(String field) {
    need(field, FieldWriter.U32_BYTES);
    int value = payload.getInt(base + pos);
    pos += FieldWriter.U32_BYTES;
    return value;
  }

  /** A u16 item count in [min, max] whose items (`itemBytes` each at least) fit the bytes left. */
  int count(String field, int min, int max, int itemBytes) {
    int count = u16(field);
    if (count < min || count > max) throw malformed(frame + " frame: field " + field + " is " + count + ", outside [" + min + ", " + max + "]");
    if ((long) count * itemBytes > length - pos) {
      throw malformed(frame + " frame: " + field + " " + count + " items of " + itemBytes + " bytes cannot fit the " + (length - pos) + " bytes left");
    }
    return count;
  }

  /** A u8 bit set; bits outside `allowed` are malformed (a later version may give them meaning). */
  int flags(String field, int allowed) {
    need(field, FieldWriter.U8_BYTES);
    int value = Byte.toUnsignedInt(payload.get(base + pos));
    pos += FieldWriter.U8_BYTES;
    if ((value & ~allowed) != 0) throw malformed(frame + " frame: field " + field + " has unknown bits 0x" + Integer.toHexString(value));
    return value;
  }

  /** `min` is -1 where the field may say "none", 0 where it may not; the maximum is 2^53-1. */
  long i64(String field, long min) {
    need(field, FieldWriter.I64_BYTES);
    long value = payload.getLong(base + pos);
    if (value < min || value > FieldWriter.I64_MAX) throw malformed(frame + " frame: field " + field + " is outside [" + min + ", 2^53-1]");
    pos += FieldWriter.I64_BYTES;
    return value;
  }

  UUID uuid(String field) {
    need(field, FieldWriter.UUID_BYTES);
    UUID value = new UUID(payload.getLong(base + pos), payload.getLong(base + pos + 8));
    pos += FieldWriter.UUID_BYTES;
    return value;
  }

  String string(String field, int bytesMax) {
    int bytes = u16(field);
    if (bytes > bytesMax) throw malformed(frame + " frame: field " + field + " is " + bytes + " bytes, limit " + bytesMax);
    need(field, bytes);
    String value;
    try {
      value = Utf8.decodeStrict(payload, base + pos, bytes);
    } catch (CharacterCodingException e) {
      throw new SluiceException(ErrorCode.MALFORMED_FRAME, frame + " frame: field " + field + " is not valid UTF-8", e);
    }
    pos += bytes;
    return value;
  }

  /**
   * {@code u32 count}, then count times {@code u32 length | bytes}, each a read-only view. The count
   * is checked against the bytes left before the list is allocated.
   */
  List<ByteBuffer> entries(String field) {
    long count = Integer.toUnsignedLong(u32(field + " count"));
    if (count * FieldWriter.U32_BYTES > length - pos) {
      throw malformed(frame + " frame: " + count + " " + field + " cannot fit the " + (length - pos) + " bytes left");
    }
    List<ByteBuffer> entries = new ArrayList<>((int) count);
    for (int i = 0; i < count; i++) {
      long bytes = Integer.toUnsignedLong(u32(field + "[" + i + "] length"));
      need(field + "[" + i + "]", bytes);
      entries.add(payload.slice(base + pos, (int) bytes).asReadOnlyBuffer());
      pos += (int) bytes;
    }
    return entries;
  }

  /** Every byte to the end of the payload, as a read-only view. */
  ByteBuffer rest() {
    ByteBuffer value = payload.slice(base + pos, length - pos).asReadOnlyBuffer();
    pos = length;
    return value;
  }

  void end() {
    if (pos != length) throw malformed(frame + " frame has " + (length - pos) + " trailing bytes");
  }
}

package io.sluice.client.wire;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Events inside frame data and segments (wire.md, "Events inside data"): each is
 * {@code u32 length | payload}, big-endian, stored in a segment exactly as it travels. The rules and
 * error codes are those of proto/wire/events.ts.
 */
public final class Events {
  private Events() {}

  /**
   * Frames `payloads` as events in one buffer of exactly their size (positioned at 0). Throws
   * EVENT_TOO_LARGE for a payload above {@link FrameCodec#EVENT_BYTES_MAX}, and
   * IllegalArgumentException if the whole would not fit one AppendBlock.
   */
  public static ByteBuffer frame(List<byte[]> payloads) {
    long total = 0;
    for (byte[] payload : payloads) {
      if (payload.length > FrameCodec.EVENT_BYTES_MAX) {
        throw new SluiceException(ErrorCode.EVENT_TOO_LARGE,
            "event of " + payload.length + " bytes exceeds the " + FrameCodec.EVENT_BYTES_MAX + "-byte limit");
      }
      total += FrameCodec.EVENT_HEADER_BYTES + payload.length;
    }
    if (total > FrameCodec.APPEND_BLOCK_BYTES_MAX) {
      throw new IllegalArgumentException("events of " + total + " bytes exceed one append block (" + FrameCodec.APPEND_BLOCK_BYTES_MAX + ")");
    }
    ByteBuffer out = ByteBuffer.allocate((int) total);
    for (byte[] payload : payloads) out.putInt(payload.length).put(payload);
    return out.flip();
  }

  /**
   * The number of events in `data` (its remaining bytes; its position is not moved), walking the
   * length prefixes without copying. Throws EVENT_TOO_LARGE for a length above EVENT_BYTES_MAX and
   * INVALID_EVENTS when the lengths do not add up exactly to the data's size.
   */
  public static int count(ByteBuffer data) {
    return walk(data, Integer.MAX_VALUE);
  }

  /**
   * Checks that `data` holds exactly `eventCount` (a u32, at least 1) well-formed events, as
   * validateEvents of events.ts: EVENT_TOO_LARGE for a length above EVENT_BYTES_MAX, INVALID_EVENTS
   * when the lengths do not add up, the count differs, or eventCount is below 1.
   */
  public static void validate(ByteBuffer data, int eventCount) {
    long declared = Integer.toUnsignedLong(eventCount);
    if (declared < 1) throw invalid("event count " + declared + " is not a whole number of at least 1");
    int count = walk(data, declared);
    if (count != declared) throw invalid("data holds " + count + " events, " + declared + " declared");
  }

  private static int walk(ByteBuffer data, long declared) {
    int base = data.position();
    int size = data.remaining();
    long pos = 0;
    int count = 0;
    while (pos < size) {
      if (size - pos < FrameCodec.EVENT_HEADER_BYTES) {
        throw invalid("event " + count + " at byte " + pos + ": " + (size - pos) + " bytes left, too few for a length prefix");
      }
      long length = Integer.toUnsignedLong(data.getInt(base + (int) pos));
      if (length > FrameCodec.EVENT_BYTES_MAX) {
        throw new SluiceException(ErrorCode.EVENT_TOO_LARGE,
            "event " + count + " at byte " + pos + " is " + length + " bytes, limit " + FrameCodec.EVENT_BYTES_MAX);
      }
      pos += FrameCodec.EVENT_HEADER_BYTES + length;
      if (pos > size) throw invalid("event " + count + " of " + length + " bytes runs " + (pos - size) + " bytes past the end of the data");
      count++;
      // Stop early rather than walk a long tail of events that can only fail.
      if (count > declared) throw invalid("data holds more than the " + declared + " events declared");
    }
    return count;
  }

  private static SluiceException invalid(String message) {
    return new SluiceException(ErrorCode.INVALID_EVENTS, message);
  }
}

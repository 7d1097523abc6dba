package io.sluice.client;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits raw segment bytes ({@code u32 length | payload} per event) into whole events, joining an
 * event split across reads. An event wholly inside one read is a slice of that read's buffer (no
 * copy); a split one is copied into a buffer allocated once its length is known and checked against
 * {@link ClientConfig#EVENT_BYTES_MAX} (DATA_CORRUPTION beyond it), so memory stays bounded.
 */
final class EventParser {
  private final String segment;
  /** Offset of the next byte to be pushed. */
  private long offset;
  /** Offset of the first byte of the event being joined; valid while pendingBytes() > 0. */
  private long pendingStart;
  private final byte[] header = new byte[4];
  private int headerFilled = 0;
  private ByteBuffer body;

  EventParser(String segment, long offset) {
    this.segment = segment;
    this.offset = offset;
  }

  /** Bytes of an incomplete event held. */
  int pendingBytes() {
    return headerFilled + (body == null ? 0 : body.position());
  }

  /** Offset of the first byte not part of a returned event. */
  long boundary() {
    return pendingBytes() > 0 ? pendingStart : offset;
  }

  List<ReadEvent> push(ByteBuffer data) {
    List<ReadEvent> out = new ArrayList<>();
    ByteBuffer d = data.slice();
    while (d.hasRemaining()) {
      if (body == null) {
        if (headerFilled == 0 && d.remaining() >= 4) {
          int len = checkLength(Integer.toUnsignedLong(d.getInt(d.position())));
          if (d.remaining() >= 4 + len) {
            ByteBuffer payload = d.slice(d.position() + 4, len).asReadOnlyBuffer();
            out.add(new ReadEvent(payload, offset, offset + 4 + len));
            d.position(d.position() + 4 + len);
            offset += 4 + len;
            continue;
          }
        }
        if (headerFilled == 0) pendingStart = offset;
        int n = Math.min(4 - headerFilled, d.remaining());
        d.get(header, headerFilled, n);
        headerFilled += n;
        offset += n;
        if (headerFilled < 4) continue;
        int len = checkLength(Integer.toUnsignedLong(ByteBuffer.wrap(header).getInt()));
        body = ByteBuffer.allocate(len);
      }
      int n = Math.min(body.remaining(), d.remaining());
      body.put(d.slice(d.position(), n));
      d.position(d.position() + n);
      offset += n;
      if (!body.hasRemaining()) {
        body.flip();
        out.add(new ReadEvent(body.asReadOnlyBuffer(), pendingStart, offset));
        body = null;
        headerFilled = 0;
      }
    }
    return out;
  }

  private int checkLength(long len) {
    if (len > ClientConfig.EVENT_BYTES_MAX) {
      throw new SluiceException(ErrorCode.DATA_CORRUPTION,
          segment + " has an event length " + len + " at offset " + offset + " above the " + ClientConfig.EVENT_BYTES_MAX + "-byte limit");
    }
    return (int) len;
  }
}

package io.sluice.client.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.wire.Frame.AppendBlock;
import io.sluice.client.wire.Frame.ErrorFrame;
import io.sluice.client.wire.Frame.Hello;
import io.sluice.client.wire.Frame.KeepAlive;
import io.sluice.client.wire.Frame.ReadSegment;
import io.sluice.client.wire.Frame.SegmentRead;
import io.sluice.client.wire.Frame.SetupAppend;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Proves the codec's refusals and its no-copy contract, beyond the shared vectors: a header whose
 * length is over frameBytesMax fails FRAME_TOO_LARGE from the header alone; unknown types,
 * truncated and over-long payloads, bad UTF-8 and out-of-range i64 fail with the codes of the TS
 * codec; event data whose lengths do not add up fails INVALID_EVENTS; decoded data is a read-only
 * view of the payload; and the encoder refuses values its fields cannot carry.
 */
class FrameCodecTest {
  private static final UUID WRITER = UUID.fromString("01234567-89ab-cdef-fedc-ba9876543210");

  private static ErrorCode codeOf(Runnable r) {
    return assertThrows(SluiceException.class, r::run).code();
  }

  private static ByteBuffer payloadOf(Frame f) {
    ByteBuffer whole = FrameCodec.encode(f);
    return whole.slice(FrameCodec.HEADER_BYTES, whole.remaining() - FrameCodec.HEADER_BYTES);
  }

  @Test
  void frameLengthOverTheLimitIsRefusedFromTheHeaderAlone() {
    // Nothing of 4 GiB is allocated: the check needs only the declared length.
    SluiceException e = assertThrows(SluiceException.class, () -> FrameCodec.checkHeader(AppendBlock.TYPE, 0xffff_ffffL));
    assertEquals(ErrorCode.FRAME_TOO_LARGE, e.code());
    assertEquals("frame of 4294967303 bytes exceeds the 16777216-byte limit", e.getMessage());
    assertEquals(ErrorCode.FRAME_TOO_LARGE, codeOf(() -> FrameCodec.checkHeader(12, FrameCodec.FRAME_BYTES_MAX - 7)));
    assertEquals(FrameCodec.FRAME_BYTES_MAX - 8, FrameCodec.checkHeader(12, FrameCodec.FRAME_BYTES_MAX - 8));
    assertEquals(ErrorCode.FRAME_TOO_LARGE, codeOf(() -> FrameCodec.checkHeader(12, -1)));
  }

  @Test
  void unknownTypesAreRefused() {
    for (int type : new int[] {0, 4, 9, 15, 22, 48, 49, 62, 1000, -1}) {
      assertEquals(ErrorCode.UNKNOWN_FRAME_TYPE, codeOf(() -> FrameCodec.checkHeader(type, 0)), "type " + type);
      assertEquals(ErrorCode.UNKNOWN_FRAME_TYPE, codeOf(() -> FrameCodec.decode(type, ByteBuffer.allocate(0))), "type " + type);
    }
  }

  @Test
  void truncatedPayloadsOfEveryKnownFrameAreMalformed() {
    Frame[] frames = {
      new Hello(1, 1), new SetupAppend(1, WRITER, "sc/st/0.#epoch.0"), new ReadSegment(2, "sc/st/0.#epoch.0", 0, 1024, 0),
      new ErrorFrame(3, 21, "sc/st/0.#epoch.0", "sealed"), new SegmentFrames.SegmentSealed(4, "s", 10),
      new LogNodeFrames.LedgerStateRead(5, 6, -1, -1, true), new LogNodeFrames.NodeIdentity(7, "id"),
    };
    for (Frame f : frames) {
      ByteBuffer payload = payloadOf(f);
      assertEquals(f, FrameCodec.decode(f.type(), payload.duplicate()));
      for (int cut = 0; cut < payload.remaining(); cut++) {
        ByteBuffer shorter = payload.slice(0, cut);
        assertEquals(ErrorCode.MALFORMED_FRAME, codeOf(() -> FrameCodec.decode(f.type(), shorter)), f.name() + " cut to " + cut);
      }
      ByteBuffer longer = ByteBuffer.allocate(payload.remaining() + 1).put(payload.duplicate()).put((byte) 0).flip();
      SluiceException e = assertThrows(SluiceException.class, () -> FrameCodec.decode(f.type(), longer));
      assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
      assertEquals(f.name() + " frame has 1 trailing bytes", e.getMessage());
    }
    assertEquals(ErrorCode.MALFORMED_FRAME, codeOf(() -> FrameCodec.decode(KeepAlive.TYPE, ByteBuffer.wrap(new byte[] {0}))));
  }

  @Test
  void badUtf8AndOutOfRangeIntegersAreMalformed() {
    ByteBuffer badUtf8 = ByteBuffer.allocate(4 + 2 + 2).putInt(1).putShort((short) 2).put((byte) 0xc3).put((byte) 0x28).flip();
    SluiceException e = assertThrows(SluiceException.class, () -> FrameCodec.decode(Frame.CreateSegment.TYPE, badUtf8));
    assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
    assertEquals("CreateSegment frame: field segment is not valid UTF-8", e.getMessage());
    for (long offset : new long[] {-2, 1L << 53, Long.MAX_VALUE, Long.MIN_VALUE}) {
      ByteBuffer p = ByteBuffer.allocate(4 + 2 + 8 + 8).putInt(1).putShort((short) 0).putLong(offset).putInt(1).putInt(0).flip();
      SluiceException r = assertThrows(SluiceException.class, () -> FrameCodec.decode(ReadSegment.TYPE, p), "offset " + offset);
      assertEquals("ReadSegment frame: field offset is outside [-1, 2^53-1]", r.getMessage());
    }
    ByteBuffer minusOne = ByteBuffer.allocate(4 + 2 + 8).putInt(1).putShort((short) 0).putLong(-1).flip();
    assertEquals(ErrorCode.MALFORMED_FRAME, codeOf(() -> FrameCodec.decode(SegmentFrames.SegmentSealed.TYPE, minusOne)), "length must be >= 0");
  }

  @Test
  void eventLengthsThatDoNotAddUpAreInvalidEvents() {
    ByteBuffer two = Events.frame(List.of(new byte[] {1, 2}, new byte[0]));
    Events.validate(two, 2);
    assertEquals(2, Events.count(two));
    assertEquals(ErrorCode.INVALID_EVENTS, codeOf(() -> Events.validate(two, 3)));
    assertEquals(ErrorCode.INVALID_EVENTS, codeOf(() -> Events.validate(two, 1)));
    assertEquals(ErrorCode.INVALID_EVENTS, codeOf(() -> Events.validate(two, 0)));
    ByteBuffer shortBy1 = two.slice(0, two.remaining() - 1);
    assertEquals(ErrorCode.INVALID_EVENTS, codeOf(() -> Events.count(shortBy1)));
    ByteBuffer overLong = ByteBuffer.allocate(8).putInt(3).putInt(0).flip();
    assertEquals(ErrorCode.INVALID_EVENTS, codeOf(() -> Events.count(overLong)));
    ByteBuffer huge = ByteBuffer.allocate(4).putInt(FrameCodec.EVENT_BYTES_MAX + 1).flip();
    assertEquals(ErrorCode.EVENT_TOO_LARGE, codeOf(() -> Events.count(huge)));
    assertEquals(ErrorCode.EVENT_TOO_LARGE, codeOf(() -> Events.frame(List.of(new byte[FrameCodec.EVENT_BYTES_MAX + 1]))));
  }

  @Test
  void decodedDataIsAReadOnlyViewOfThePayload() {
    byte[] events = Events.frame(List.of("abc".getBytes(java.nio.charset.StandardCharsets.UTF_8))).array();
    ByteBuffer whole = FrameCodec.encode(new SegmentRead(9, "s", 0, true, false, ByteBuffer.wrap(events)));
    byte[] backing = whole.array();
    SegmentRead read = (SegmentRead) FrameCodec.decode(SegmentRead.TYPE, whole.slice(8, whole.remaining() - 8));
    assertTrue(read.atTail());
    assertFalse(read.endOfSegment());
    assertTrue(read.data().isReadOnly());
    assertEquals(events.length, read.data().remaining());
    backing[backing.length - 1] = 'z';
    assertEquals('z', read.data().get(read.data().limit() - 1), "a view, not a copy");
    assertThrows(ReadOnlyBufferException.class, () -> read.data().put(0, (byte) 1));
  }

  @Test
  void encoderRefusesValuesItsFieldsCannotCarry() {
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new Frame.AppendSetup(1, WRITER, "s", -2)));
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new Frame.AppendSetup(1, WRITER, "s", 1L << 53)));
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new SegmentFrames.SegmentSealed(1, "s", -1)));
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new ErrorFrame(1, 0x10000, "", "")));
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new Frame.CreateSegment(1, "x".repeat(1025))));
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new SetupAppend(1, null, "s")));
    assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(new SegmentFrames.GetAttributes(1, "s", List.of())));
    assertThrows(IllegalArgumentException.class,
        () -> FrameCodec.encode(new AppendBlock(1, WRITER, "s", 0, 1, ByteBuffer.allocate(FrameCodec.FRAME_BYTES_MAX))));
    // The largest data that fits one frame is accepted.
    int dataMax = FrameCodec.FRAME_BYTES_MAX - FrameCodec.HEADER_BYTES - (4 + 16 + 2 + 1 + 8 + 4);
    assertEquals(FrameCodec.FRAME_BYTES_MAX, FrameCodec.encode(new AppendBlock(1, WRITER, "s", 0, 1, ByteBuffer.allocate(dataMax))).remaining());
  }

  @Test
  void requestIdsAreUnsignedAndHelloHasNone() {
    Frame f = FrameCodec.decode(SetupAppend.TYPE, payloadOf(new SetupAppend(0xffff_ffff, WRITER, "s")));
    assertEquals(4294967295L, Integer.toUnsignedLong(f.requestId()));
    assertTrue(f.hasRequestId());
    assertFalse(new Hello(1, 1).hasRequestId());
    assertFalse(new KeepAlive().hasRequestId());
    assertEquals(WRITER, ((SetupAppend) f).writerId());
  }
}

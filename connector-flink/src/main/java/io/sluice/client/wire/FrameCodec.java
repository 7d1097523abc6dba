package io.sluice.client.wire;

import static io.sluice.client.wire.FieldWriter.I64_BYTES;
import static io.sluice.client.wire.FieldWriter.U16_BYTES;
import static io.sluice.client.wire.FieldWriter.U32_BYTES;
import static io.sluice.client.wire.FieldWriter.U8_BYTES;
import static io.sluice.client.wire.FieldWriter.UUID_BYTES;
import static io.sluice.client.wire.FieldWriter.stringBytes;
import static io.sluice.client.wire.FieldWriter.stringFieldBytes;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.wire.Frame.AppendBlock;
import io.sluice.client.wire.Frame.AppendSetup;
import io.sluice.client.wire.Frame.ConditionalAppend;
import io.sluice.client.wire.Frame.CreateSegment;
import io.sluice.client.wire.Frame.DataAppended;
import io.sluice.client.wire.Frame.ErrorFrame;
import io.sluice.client.wire.Frame.GetSegmentInfo;
import io.sluice.client.wire.Frame.Hello;
import io.sluice.client.wire.Frame.KeepAlive;
import io.sluice.client.wire.Frame.ReadSegment;
import io.sluice.client.wire.Frame.SegmentCreated;
import io.sluice.client.wire.Frame.SegmentInfo;
import io.sluice.client.wire.Frame.SegmentRead;
import io.sluice.client.wire.Frame.SetupAppend;
import java.nio.ByteBuffer;

/**
 * Frames to bytes and back, byte-compatible with proto/wire/codec.ts (proved by the shared vectors in
 * proto/vectors/frames.json). A frame on the wire is {@code u32 type | u32 payloadLength | payload},
 * big-endian. Decoding checks every field against wire.md and hands {@code data} out as read-only
 * views of the payload; encoding builds the whole frame into one buffer of exactly its size.
 *
 * <p>Errors: {@link #checkHeader} throws FRAME_TOO_LARGE or UNKNOWN_FRAME_TYPE; {@link #decode}
 * throws UNKNOWN_FRAME_TYPE or MALFORMED_FRAME (naming the frame and field). Event data inside
 * append frames is checked separately by {@link Events#count}. {@link #encode} throws
 * {@link IllegalArgumentException} for a field out of range (a programming error).
 */
public final class FrameCodec {
  private FrameCodec() {}

  /** u32 type and u32 payload length. */
  public static final int HEADER_BYTES = 8;
  /** Largest frame, header included (frameBytesMax of common/limits.ts). */
  public static final int FRAME_BYTES_MAX = 16 * 1024 * 1024;
  /** Room a frame has for its fields besides data (frameFieldsBytesMax). */
  public static final int FRAME_FIELDS_BYTES_MAX = 64 * 1024;
  /** Largest event payload (eventBytesMax). */
  public static final int EVENT_BYTES_MAX = 8 * 1024 * 1024;
  /** Each event's u32 length prefix (eventHeaderBytes). */
  public static final int EVENT_HEADER_BYTES = 4;
  /** Largest data of one AppendBlock (appendBlockBytesMax). */
  public static final int APPEND_BLOCK_BYTES_MAX = FRAME_BYTES_MAX - HEADER_BYTES - FRAME_FIELDS_BYTES_MAX;
  /** Longest segment name in UTF-8 bytes (segmentNameBytesMax). */
  public static final int SEGMENT_NAME_BYTES_MAX = 1024;
  /** Longest Error message in UTF-8 bytes. */
  public static final int ERROR_MESSAGE_BYTES_MAX = 4096;
  /** Most updates (or ids) in one attribute frame (attributeUpdatesMax). */
  public static final int ATTRIBUTE_UPDATES_MAX = 1000;
  /** Most chunks in one ChunksListed (chunksListedMax). */
  public static final int CHUNKS_LISTED_MAX = 50;
  /** Longest chunk name (chunkNameBytesMax). */
  public static final int CHUNK_NAME_BYTES_MAX = 1024;
  /** Longest instance id of NodeIdentity. */
  public static final int INSTANCE_ID_BYTES_MAX = 128;
  /** Largest read a ReadSegment may ask for (readBytesMax). */
  public static final int READ_BYTES_MAX = 8 * 1024 * 1024;
  /** Longest long-poll wait of a ReadSegment (readWaitMsMax). */
  public static final int READ_WAIT_MS_MAX = 60_000;

  static final int SEGMENT_READ_AT_TAIL = 0b01;
  static final int SEGMENT_READ_END_OF_SEGMENT = 0b10;
  static final int SEGMENT_INFO_SEALED = 0b01;

  private static final String[] NAMES = new String[62];

  static {
    String[][] table = {
      {"1", "Hello"}, {"2", "Error"}, {"3", "KeepAlive"}, {"10", "SetupAppend"}, {"11", "AppendSetup"},
      {"12", "AppendBlock"}, {"13", "DataAppended"}, {"14", "ConditionalAppend"}, {"20", "ReadSegment"},
      {"21", "SegmentRead"}, {"30", "CreateSegment"}, {"31", "SegmentCreated"}, {"32", "GetSegmentInfo"},
      {"33", "SegmentInfo"}, {"34", "SealSegment"}, {"35", "SegmentSealed"}, {"36", "TruncateSegment"},
      {"37", "SegmentTruncated"}, {"38", "MergeSegments"}, {"39", "SegmentsMerged"}, {"40", "DeleteSegment"},
      {"41", "SegmentDeleted"}, {"42", "UpdateAttributes"}, {"43", "AttributesUpdated"}, {"44", "GetAttributes"},
      {"45", "AttributesRead"}, {"46", "GetChunks"}, {"47", "ChunksListed"}, {"50", "AddEntry"},
      {"51", "EntryAdded"}, {"52", "ReadEntries"}, {"53", "EntriesRead"}, {"54", "ReadLedgerState"},
      {"55", "LedgerStateRead"}, {"56", "FenceLedger"}, {"57", "LedgerFenced"}, {"58", "DeleteLedger"},
      {"59", "LedgerDeleted"}, {"60", "ReadNodeIdentity"}, {"61", "NodeIdentity"},
    };
    for (String[] row : table) NAMES[Integer.parseInt(row[0])] = row[1];
    if (EVENT_BYTES_MAX + EVENT_HEADER_BYTES > APPEND_BLOCK_BYTES_MAX) throw new IllegalStateException("an event fits one AppendBlock");
  }

  /** The wire.md name of a type id, or null for an id this version does not know. */
  public static String frameName(int typeId) {
    return typeId >= 0 && typeId < NAMES.length ? NAMES[typeId] : null;
  }

  /**
   * Checks a frame header as soon as its 8 bytes are in, before anything is allocated for the
   * payload: FRAME_TOO_LARGE if {@code 8 + payloadLength} exceeds {@link #FRAME_BYTES_MAX}, then
   * UNKNOWN_FRAME_TYPE for a type this version does not know. `payloadLength` is the u32 as read
   * (pass {@code Integer.toUnsignedLong}). Returns the payload length as an int.
   */
  public static int checkHeader(int type, long payloadLength) {
    if (payloadLength < 0 || HEADER_BYTES + payloadLength > FRAME_BYTES_MAX) {
      throw new SluiceException(ErrorCode.FRAME_TOO_LARGE,
          "frame of " + (HEADER_BYTES + payloadLength) + " bytes exceeds the " + FRAME_BYTES_MAX + "-byte limit");
    }
    if (frameName(type) == null) throw unknownType(type);
    return (int) payloadLength;
  }

  private static SluiceException unknownType(int type) {
    return new SluiceException(ErrorCode.UNKNOWN_FRAME_TYPE, "unknown frame type id " + Integer.toUnsignedLong(type));
  }

  /** The whole frame (header, fields, data) in one buffer positioned at 0. */
  public static ByteBuffer encode(Frame f) {
    if (f.type() >= SegmentFrames.SealSegment.TYPE && f.type() <= SegmentFrames.ChunksListed.TYPE) return SegmentFramesCodec.encode(f);
    if (f.type() >= LogNodeFrames.AddEntry.TYPE) return LogNodeFramesCodec.encode(f);
    if (f instanceof Hello h) {
      FieldWriter w = new FieldWriter(h.type(), 2 * U32_BYTES, 0);
      w.u32(h.highVersion());
      w.u32(h.lowVersion());
      return w.finish();
    }
    if (f instanceof ErrorFrame e) {
      byte[] segment = stringBytes(e.type(), "segment", e.segment(), SEGMENT_NAME_BYTES_MAX);
      byte[] message = stringBytes(e.type(), "message", e.message(), ERROR_MESSAGE_BYTES_MAX);
      FieldWriter w = new FieldWriter(e.type(), U32_BYTES + U16_BYTES + stringFieldBytes(segment) + stringFieldBytes(message), 0);
      w.u32(e.requestId());
      w.u16("errorId", e.errorId());
      w.string(segment);
      w.string(message);
      return w.finish();
    }
    if (f instanceof KeepAlive k) return new FieldWriter(k.type(), 0, 0).finish();
    if (f instanceof SetupAppend s) {
      byte[] segment = segmentBytes(s.type(), s.segment());
      FieldWriter w = new FieldWriter(s.type(), U32_BYTES + UUID_BYTES + stringFieldBytes(segment), 0);
      w.u32(s.requestId());
      w.uuid("writerId", s.writerId());
      w.string(segment);
      return w.finish();
    }
    if (f instanceof AppendSetup s) {
      byte[] segment = segmentBytes(s.type(), s.segment());
      FieldWriter w = new FieldWriter(s.type(), U32_BYTES + UUID_BYTES + stringFieldBytes(segment) + I64_BYTES, 0);
      w.u32(s.requestId());
      w.uuid("writerId", s.writerId());
      w.string(segment);
      w.i64("lastEventNumber", s.lastEventNumber(), -1);
      return w.finish();
    }
    if (f instanceof AppendBlock a) {
      byte[] segment = segmentBytes(a.type(), a.segment());
      FieldWriter w = new FieldWriter(a.type(), U32_BYTES + UUID_BYTES + stringFieldBytes(segment) + I64_BYTES + U32_BYTES, a.data().remaining());
      w.u32(a.requestId());
      w.uuid("writerId", a.writerId());
      w.string(segment);
      w.i64("lastEventNumber", a.lastEventNumber(), -1);
      w.u32(a.eventCount());
      w.data(a.data());
      return w.finish();
    }
    if (f instanceof DataAppended d) {
      byte[] segment = segmentBytes(d.type(), d.segment());
      FieldWriter w = new FieldWriter(d.type(), U32_BYTES + UUID_BYTES + stringFieldBytes(segment) + 2 * I64_BYTES, 0);
      w.u32(d.requestId());
      w.uuid("writerId", d.writerId());
      w.string(segment);
      w.i64("eventNumber", d.eventNumber(), -1);
      w.i64("segmentLength", d.segmentLength(), -1);
      return w.finish();
    }
    if (f instanceof ConditionalAppend c) {
      byte[] segment = segmentBytes(c.type(), c.segment());
      FieldWriter w = new FieldWriter(c.type(), U32_BYTES + UUID_BYTES + stringFieldBytes(segment) + 2 * I64_BYTES + U32_BYTES, c.data().remaining());
      w.u32(c.requestId());
      w.uuid("writerId", c.writerId());
      w.string(segment);
      w.i64("expectedOffset", c.expectedOffset(), 0);
      w.i64("lastEventNumber", c.lastEventNumber(), -1);
      w.u32(c.eventCount());
      w.data(c.data());
      return w.finish();
    }
    if (f instanceof ReadSegment r) {
      byte[] segment = segmentBytes(r.type(), r.segment());
      FieldWriter w = new FieldWriter(r.type(), U32_BYTES + stringFieldBytes(segment) + I64_BYTES + 2 * U32_BYTES, 0);
      w.u32(r.requestId());
      w.string(segment);
      w.i64("offset", r.offset(), -1);
      w.u32(r.maxBytes());
      w.u32(r.waitMs());
      return w.finish();
    }
    if (f instanceof SegmentRead r) {
      byte[] segment = segmentBytes(r.type(), r.segment());
      FieldWriter w = new FieldWriter(r.type(), U32_BYTES + stringFieldBytes(segment) + I64_BYTES + U8_BYTES, r.data().remaining());
      w.u32(r.requestId());
      w.string(segment);
      w.i64("offset", r.offset(), -1);
      w.u8((r.atTail() ? SEGMENT_READ_AT_TAIL : 0) | (r.endOfSegment() ? SEGMENT_READ_END_OF_SEGMENT : 0));
      w.data(r.data());
      return w.finish();
    }
    if (f instanceof CreateSegment c) return requestAndSegment(c.type(), c.requestId(), c.segment());
    if (f instanceof SegmentCreated c) return requestAndSegment(c.type(), c.requestId(), c.segment());
    if (f instanceof GetSegmentInfo g) return requestAndSegment(g.type(), g.requestId(), g.segment());
    if (f instanceof SegmentInfo i) {
      byte[] segment = segmentBytes(i.type(), i.segment());
      FieldWriter w = new FieldWriter(i.type(), U32_BYTES + stringFieldBytes(segment) + 3 * I64_BYTES + U8_BYTES, 0);
      w.u32(i.requestId());
      w.string(segment);
      w.i64("startOffset", i.startOffset(), -1);
      w.i64("length", i.length(), -1);
      w.u8(i.sealed() ? SEGMENT_INFO_SEALED : 0);
      w.i64("lastModifiedMs", i.lastModifiedMs(), -1);
      return w.finish();
    }
    throw new IllegalStateException("invariant violated: no encoder for frame type " + f.type());
  }

  static byte[] segmentBytes(int type, String segment) {
    return stringBytes(type, "segment", segment, SEGMENT_NAME_BYTES_MAX);
  }

  /** The frames whose payload is {@code u32 requestId, string segment}. */
  static ByteBuffer requestAndSegment(int type, int requestId, String segmentName) {
    byte[] segment = segmentBytes(type, segmentName);
    FieldWriter w = new FieldWriter(type, U32_BYTES + stringFieldBytes(segment), 0);
    w.u32(requestId);
    w.string(segment);
    return w.finish();
  }

  /**
   * Decodes the payload (position to limit) of a frame whose header said `type`. Data fields are
   * read-only views of `payload`, so the caller must not reuse its bytes while the frame is in use.
   * Throws UNKNOWN_FRAME_TYPE or MALFORMED_FRAME, as decodePayload of proto/wire/codec.ts.
   */
  public static Frame decode(int type, ByteBuffer payload) {
    String name = frameName(type);
    if (name == null) throw unknownType(type);
    FieldReader r = new FieldReader(name, payload);
    Frame frame;
    if (type >= SegmentFrames.SealSegment.TYPE && type <= SegmentFrames.ChunksListed.TYPE) {
      frame = SegmentFramesCodec.decode(type, r);
    } else if (type >= LogNodeFrames.AddEntry.TYPE) {
      frame = LogNodeFramesCodec.decode(type, r);
    } else {
      frame = decodeCore(type, r);
    }
    r.end();
    return frame;
  }

  private static Frame decodeCore(int type, FieldReader r) {
    switch (type) {
      case Hello.TYPE:
        return new Hello(r.u32("highVersion"), r.u32("lowVersion"));
      case ErrorFrame.TYPE:
        return new ErrorFrame(r.u32("requestId"), r.u16("errorId"), r.string("segment", SEGMENT_NAME_BYTES_MAX),
            r.string("message", ERROR_MESSAGE_BYTES_MAX));
      case KeepAlive.TYPE:
        return new KeepAlive();
      case SetupAppend.TYPE:
        return new SetupAppend(r.u32("requestId"), r.uuid("writerId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case AppendSetup.TYPE:
        return new AppendSetup(r.u32("requestId"), r.uuid("writerId"), r.string("segment", SEGMENT_NAME_BYTES_MAX),
            r.i64("lastEventNumber", -1));
      case AppendBlock.TYPE:
        return new AppendBlock(r.u32("requestId"), r.uuid("writerId"), r.string("segment", SEGMENT_NAME_BYTES_MAX),
            r.i64("lastEventNumber", -1), r.u32("eventCount"), r.rest());
      case DataAppended.TYPE:
        return new DataAppended(r.u32("requestId"), r.uuid("writerId"), r.string("segment", SEGMENT_NAME_BYTES_MAX),
            r.i64("eventNumber", -1), r.i64("segmentLength", -1));
      case ConditionalAppend.TYPE:
        return new ConditionalAppend(r.u32("requestId"), r.uuid("writerId"), r.string("segment", SEGMENT_NAME_BYTES_MAX),
            r.i64("expectedOffset", 0), r.i64("lastEventNumber", -1), r.u32("eventCount"), r.rest());
      case ReadSegment.TYPE:
        return new ReadSegment(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX), r.i64("offset", -1),
            r.u32("maxBytes"), r.u32("waitMs"));
      case SegmentRead.TYPE: {
        int requestId = r.u32("requestId");
        String segment = r.string("segment", SEGMENT_NAME_BYTES_MAX);
        long offset = r.i64("offset", -1);
        int flags = r.flags("flags", SEGMENT_READ_AT_TAIL | SEGMENT_READ_END_OF_SEGMENT);
        return new SegmentRead(requestId, segment, offset, (flags & SEGMENT_READ_AT_TAIL) != 0,
            (flags & SEGMENT_READ_END_OF_SEGMENT) != 0, r.rest());
      }
      case CreateSegment.TYPE:
        return new CreateSegment(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case SegmentCreated.TYPE:
        return new SegmentCreated(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case GetSegmentInfo.TYPE:
        return new GetSegmentInfo(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case SegmentInfo.TYPE: {
        int requestId = r.u32("requestId");
        String segment = r.string("segment", SEGMENT_NAME_BYTES_MAX);
        long startOffset = r.i64("startOffset", -1);
        long length = r.i64("length", -1);
        int flags = r.flags("flags", SEGMENT_INFO_SEALED);
        long lastModifiedMs = r.i64("lastModifiedMs", -1);
        return new SegmentInfo(requestId, segment, startOffset, length, (flags & SEGMENT_INFO_SEALED) != 0, lastModifiedMs);
      }
      default:
        throw new IllegalStateException("invariant violated: no decoder for frame type " + type);
    }
  }
}

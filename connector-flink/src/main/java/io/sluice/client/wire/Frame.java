package io.sluice.client.wire;

import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * A frame of the Sluice data-plane wire protocol, version 1 ({@code proto/wire/wire.md}): one record
 * per frame type, each knowing its numeric {@link #type()} id. This file holds the handshake, error,
 * append, read, create and info frames; {@link SegmentFrames} the other segment management frames and
 * {@link LogNodeFrames} the log node frames. {@link FrameCodec} turns them into bytes and back.
 *
 * <p>Field conventions: {@code u32} fields (request ids, counts, byte sizes, ledgers) are Java
 * {@code int}s read as unsigned ({@link Integer#toUnsignedLong}); {@code u16} fields are {@code int}s
 * in [0, 65535]; {@code i64} fields are {@code long}s in [-1, 2^53-1] (-1 means "none" where
 * wire.md says so); {@code data} fields are {@link ByteBuffer}s whose remaining bytes are the data
 * (decoded frames hand out read-only views of the payload, never copies). Records do not validate:
 * the encoder refuses out-of-range values with {@link IllegalArgumentException}.
 */
public sealed interface Frame
    permits Frame.Hello, Frame.ErrorFrame, Frame.KeepAlive, Frame.SetupAppend, Frame.AppendSetup,
        Frame.AppendBlock, Frame.DataAppended, Frame.ConditionalAppend, Frame.ReadSegment,
        Frame.SegmentRead, Frame.CreateSegment, Frame.SegmentCreated, Frame.GetSegmentInfo,
        Frame.SegmentInfo, SegmentFrames.SealSegment, SegmentFrames.SegmentSealed,
        SegmentFrames.TruncateSegment, SegmentFrames.SegmentTruncated, SegmentFrames.MergeSegments,
        SegmentFrames.SegmentsMerged, SegmentFrames.DeleteSegment, SegmentFrames.SegmentDeleted,
        SegmentFrames.UpdateAttributes, SegmentFrames.AttributesUpdated, SegmentFrames.GetAttributes,
        SegmentFrames.AttributesRead, SegmentFrames.GetChunks, SegmentFrames.ChunksListed,
        LogNodeFrames.AddEntry, LogNodeFrames.EntryAdded, LogNodeFrames.ReadEntries,
        LogNodeFrames.EntriesRead, LogNodeFrames.ReadLedgerState, LogNodeFrames.LedgerStateRead,
        LogNodeFrames.FenceLedger, LogNodeFrames.LedgerFenced, LogNodeFrames.DeleteLedger,
        LogNodeFrames.LedgerDeleted, LogNodeFrames.ReadNodeIdentity, LogNodeFrames.NodeIdentity {

  /** The one protocol version this client speaks. */
  int PROTOCOL_VERSION = 1;

  /** The numeric type id on the wire (wire.md, "Frames"). */
  int type();

  /** The request id (u32) of a request, reply or Error frame; 0 for Hello and KeepAlive. */
  int requestId();

  /** False only for Hello and KeepAlive, which answer no request. */
  default boolean hasRequestId() {
    return true;
  }

  /** The frame's name as wire.md spells it ("Error" for {@link ErrorFrame}). */
  default String name() {
    return FrameCodec.frameName(type());
  }

  /** Both ways: the first frame of each side; versions overlap or the server answers UNSUPPORTED_VERSION. */
  record Hello(int highVersion, int lowVersion) implements Frame {
    public static final int TYPE = 1;
    public int type() { return TYPE; }
    public int requestId() { return 0; }
    @Override public boolean hasRequestId() { return false; }
  }

  /** Server to client: a failed request (requestId 0: about the connection). errorId is an ErrorCode wire id (u16). */
  record ErrorFrame(int requestId, int errorId, String segment, String message) implements Frame {
    public static final int TYPE = 2;
    public int type() { return TYPE; }
  }

  /** Both ways: carries nothing and is ignored by the receiver. */
  record KeepAlive() implements Frame {
    public static final int TYPE = 3;
    public int type() { return TYPE; }
    public int requestId() { return 0; }
    @Override public boolean hasRequestId() { return false; }
  }

  /** Client to server: sets up appends of a writer to a segment; answered by AppendSetup. */
  record SetupAppend(int requestId, UUID writerId, String segment) implements Frame {
    public static final int TYPE = 10;
    public int type() { return TYPE; }
  }

  /** Server to client: lastEventNumber is the writer's last stored event number, -1 if none. */
  record AppendSetup(int requestId, UUID writerId, String segment, long lastEventNumber) implements Frame {
    public static final int TYPE = 11;
    public int type() { return TYPE; }
  }

  /** Client to server: eventCount events numbered lastEventNumber - eventCount + 1 .. lastEventNumber. */
  record AppendBlock(int requestId, UUID writerId, String segment, long lastEventNumber, int eventCount, ByteBuffer data)
      implements Frame {
    public static final int TYPE = 12;
    public int type() { return TYPE; }
  }

  /** Server to client: cumulative ack; every event of the writer up to eventNumber is durable. */
  record DataAppended(int requestId, UUID writerId, String segment, long eventNumber, long segmentLength)
      implements Frame {
    public static final int TYPE = 13;
    public int type() { return TYPE; }
  }

  /** Client to server: an append applied only at segment length expectedOffset (>= 0); answered by DataAppended. */
  record ConditionalAppend(int requestId, UUID writerId, String segment, long expectedOffset, long lastEventNumber,
      int eventCount, ByteBuffer data) implements Frame {
    public static final int TYPE = 14;
    public int type() { return TYPE; }
  }

  /** Client to server: up to maxBytes from offset, waiting up to waitMs at the tail. */
  record ReadSegment(int requestId, String segment, long offset, int maxBytes, int waitMs) implements Frame {
    public static final int TYPE = 20;
    public int type() { return TYPE; }
  }

  /** Server to client: raw segment bytes from offset; may end mid-event. */
  record SegmentRead(int requestId, String segment, long offset, boolean atTail, boolean endOfSegment, ByteBuffer data)
      implements Frame {
    public static final int TYPE = 21;
    public int type() { return TYPE; }
  }

  /** Client to server: creates an empty segment. */
  record CreateSegment(int requestId, String segment) implements Frame {
    public static final int TYPE = 30;
    public int type() { return TYPE; }
  }

  /** Server to client: the segment was created. */
  record SegmentCreated(int requestId, String segment) implements Frame {
    public static final int TYPE = 31;
    public int type() { return TYPE; }
  }

  /** Client to server: asks for SegmentInfo. */
  record GetSegmentInfo(int requestId, String segment) implements Frame {
    public static final int TYPE = 32;
    public int type() { return TYPE; }
  }

  /** Server to client: a segment's start offset, length, sealed flag and last modification time. */
  record SegmentInfo(int requestId, String segment, long startOffset, long length, boolean sealed, long lastModifiedMs)
      implements Frame {
    public static final int TYPE = 33;
    public int type() { return TYPE; }
  }
}

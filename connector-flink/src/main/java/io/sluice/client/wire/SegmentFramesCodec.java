package io.sluice.client.wire;

import static io.sluice.client.wire.FieldWriter.I64_BYTES;
import static io.sluice.client.wire.FieldWriter.U16_BYTES;
import static io.sluice.client.wire.FieldWriter.U32_BYTES;
import static io.sluice.client.wire.FieldWriter.U8_BYTES;
import static io.sluice.client.wire.FieldWriter.UUID_BYTES;
import static io.sluice.client.wire.FieldWriter.stringBytes;
import static io.sluice.client.wire.FieldWriter.stringFieldBytes;
import static io.sluice.client.wire.FrameCodec.ATTRIBUTE_UPDATES_MAX;
import static io.sluice.client.wire.FrameCodec.CHUNKS_LISTED_MAX;
import static io.sluice.client.wire.FrameCodec.CHUNK_NAME_BYTES_MAX;
import static io.sluice.client.wire.FrameCodec.SEGMENT_NAME_BYTES_MAX;
import static io.sluice.client.wire.FrameCodec.requestAndSegment;
import static io.sluice.client.wire.FrameCodec.segmentBytes;

import io.sluice.client.wire.SegmentFrames.AttributeUpdate;
import io.sluice.client.wire.SegmentFrames.AttributeValue;
import io.sluice.client.wire.SegmentFrames.AttributesRead;
import io.sluice.client.wire.SegmentFrames.AttributesUpdated;
import io.sluice.client.wire.SegmentFrames.ChunksListed;
import io.sluice.client.wire.SegmentFrames.DeleteSegment;
import io.sluice.client.wire.SegmentFrames.GetAttributes;
import io.sluice.client.wire.SegmentFrames.GetChunks;
import io.sluice.client.wire.SegmentFrames.ListedChunk;
import io.sluice.client.wire.SegmentFrames.MergeSegments;
import io.sluice.client.wire.SegmentFrames.SealSegment;
import io.sluice.client.wire.SegmentFrames.SegmentDeleted;
import io.sluice.client.wire.SegmentFrames.SegmentSealed;
import io.sluice.client.wire.SegmentFrames.SegmentTruncated;
import io.sluice.client.wire.SegmentFrames.SegmentsMerged;
import io.sluice.client.wire.SegmentFrames.TruncateSegment;
import io.sluice.client.wire.SegmentFrames.UpdateAttributes;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Codec of {@link SegmentFrames} (ids 34..47), with the rules of proto/wire/segment-frames-codec.ts.
 * {@link FrameCodec} dispatches here and checks that no bytes are left after the fields.
 */
final class SegmentFramesCodec {
  private SegmentFramesCodec() {}

  private static final int ATTRIBUTE_UPDATE_COMPARE = 0b01;
  /** uuid id, i64 value, u8 flags, i64 expected. */
  private static final int ATTRIBUTE_UPDATE_BYTES = UUID_BYTES + I64_BYTES + U8_BYTES + I64_BYTES;
  /** uuid id, i64 value. */
  private static final int ATTRIBUTE_VALUE_BYTES = UUID_BYTES + I64_BYTES;
  /** An empty name's length, i64 offset, i64 length. */
  private static final int LISTED_CHUNK_BYTES_MIN = U16_BYTES + 2 * I64_BYTES;

  static ByteBuffer encode(Frame f) {
    if (f instanceof SealSegment s) return requestAndSegment(s.type(), s.requestId(), s.segment());
    if (f instanceof DeleteSegment s) return requestAndSegment(s.type(), s.requestId(), s.segment());
    if (f instanceof SegmentDeleted s) return requestAndSegment(s.type(), s.requestId(), s.segment());
    if (f instanceof AttributesUpdated s) return requestAndSegment(s.type(), s.requestId(), s.segment());
    if (f instanceof SegmentSealed s) return segmentAndLength(s.type(), s.requestId(), s.segment(), "length", s.length());
    if (f instanceof TruncateSegment s) return segmentAndLength(s.type(), s.requestId(), s.segment(), "startOffset", s.startOffset());
    if (f instanceof SegmentTruncated s) return segmentAndLength(s.type(), s.requestId(), s.segment(), "startOffset", s.startOffset());
    if (f instanceof MergeSegments m) {
      byte[] target = stringBytes(m.type(), "target", m.target(), SEGMENT_NAME_BYTES_MAX);
      byte[] source = stringBytes(m.type(), "source", m.source(), SEGMENT_NAME_BYTES_MAX);
      FieldWriter w = new FieldWriter(m.type(), U32_BYTES + stringFieldBytes(target) + stringFieldBytes(source), 0);
      w.u32(m.requestId());
      w.string(target);
      w.string(source);
      return w.finish();
    }
    if (f instanceof SegmentsMerged m) {
      byte[] target = stringBytes(m.type(), "target", m.target(), SEGMENT_NAME_BYTES_MAX);
      byte[] source = stringBytes(m.type(), "source", m.source(), SEGMENT_NAME_BYTES_MAX);
      FieldWriter w = new FieldWriter(m.type(), U32_BYTES + stringFieldBytes(target) + stringFieldBytes(source) + I64_BYTES, 0);
      w.u32(m.requestId());
      w.string(target);
      w.string(source);
      w.i64("targetLength", m.targetLength(), 0);
      return w.finish();
    }
    if (f instanceof UpdateAttributes u) {
      byte[] segment = segmentBytes(u.type(), u.segment());
      int count = checkCount(u.type(), "updates", u.updates().size(), 1);
      FieldWriter w = new FieldWriter(u.type(), U32_BYTES + stringFieldBytes(segment) + U16_BYTES + (long) count * ATTRIBUTE_UPDATE_BYTES, 0);
      w.u32(u.requestId());
      w.string(segment);
      w.u16("count", count);
      for (AttributeUpdate a : u.updates()) {
        w.uuid("updates.id", a.id());
        w.i64("updates.value", a.value(), -1);
        w.u8(a.compare() ? ATTRIBUTE_UPDATE_COMPARE : 0);
        w.i64("updates.expected", a.expected(), -1);
      }
      return w.finish();
    }
    if (f instanceof GetAttributes g) {
      byte[] segment = segmentBytes(g.type(), g.segment());
      int count = checkCount(g.type(), "ids", g.ids().size(), 1);
      FieldWriter w = new FieldWriter(g.type(), U32_BYTES + stringFieldBytes(segment) + U16_BYTES + (long) count * UUID_BYTES, 0);
      w.u32(g.requestId());
      w.string(segment);
      w.u16("count", count);
      for (UUID id : g.ids()) w.uuid("ids", id);
      return w.finish();
    }
    if (f instanceof AttributesRead a) {
      byte[] segment = segmentBytes(a.type(), a.segment());
      int count = checkCount(a.type(), "values", a.values().size(), 0);
      FieldWriter w = new FieldWriter(a.type(), U32_BYTES + stringFieldBytes(segment) + U16_BYTES + (long) count * ATTRIBUTE_VALUE_BYTES, 0);
      w.u32(a.requestId());
      w.string(segment);
      w.u16("count", count);
      for (AttributeValue v : a.values()) {
        w.uuid("values.id", v.id());
        w.i64("values.value", v.value(), -1);
      }
      return w.finish();
    }
    if (f instanceof GetChunks g) {
      byte[] segment = segmentBytes(g.type(), g.segment());
      FieldWriter w = new FieldWriter(g.type(), U32_BYTES + stringFieldBytes(segment) + I64_BYTES + U16_BYTES, 0);
      w.u32(g.requestId());
      w.string(segment);
      w.i64("offset", g.offset(), 0);
      w.u16("maxCount", g.maxCount());
      return w.finish();
    }
    if (f instanceof ChunksListed c) {
      byte[] segment = segmentBytes(c.type(), c.segment());
      if (c.chunks().size() > CHUNKS_LISTED_MAX) {
        throw new IllegalArgumentException("ChunksListed.chunks: " + c.chunks().size() + " items, more than " + CHUNKS_LISTED_MAX);
      }
      List<byte[]> names = new ArrayList<>(c.chunks().size());
      long fields = U32_BYTES + stringFieldBytes(segment) + U16_BYTES;
      for (ListedChunk chunk : c.chunks()) {
        byte[] name = stringBytes(c.type(), "chunks.name", chunk.name(), CHUNK_NAME_BYTES_MAX);
        names.add(name);
        fields += stringFieldBytes(name) + 2 * I64_BYTES;
      }
      FieldWriter w = new FieldWriter(c.type(), fields, 0);
      w.u32(c.requestId());
      w.string(segment);
      w.u16("count", c.chunks().size());
      for (int i = 0; i < names.size(); i++) {
        w.string(names.get(i));
        w.i64("chunks.offset", c.chunks().get(i).offset(), 0);
        w.i64("chunks.length", c.chunks().get(i).length(), 0);
      }
      return w.finish();
    }
    throw new IllegalStateException("invariant violated: not a segment management frame: " + f.type());
  }

  private static ByteBuffer segmentAndLength(int type, int requestId, String segmentName, String field, long value) {
    byte[] segment = segmentBytes(type, segmentName);
    FieldWriter w = new FieldWriter(type, U32_BYTES + stringFieldBytes(segment) + I64_BYTES, 0);
    w.u32(requestId);
    w.string(segment);
    w.i64(field, value, 0);
    return w.finish();
  }

  private static int checkCount(int type, String field, int count, int min) {
    if (count < min || count > ATTRIBUTE_UPDATES_MAX) {
      throw new IllegalArgumentException(FrameCodec.frameName(type) + "." + field + ": " + count + " items, outside [" + min + ", " + ATTRIBUTE_UPDATES_MAX + "]");
    }
    return count;
  }

  static Frame decode(int type, FieldReader r) {
    switch (type) {
      case SealSegment.TYPE:
        return new SealSegment(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case DeleteSegment.TYPE:
        return new DeleteSegment(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case SegmentDeleted.TYPE:
        return new SegmentDeleted(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case AttributesUpdated.TYPE:
        return new AttributesUpdated(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX));
      case SegmentSealed.TYPE:
        return new SegmentSealed(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX), r.i64("length", 0));
      case TruncateSegment.TYPE:
        return new TruncateSegment(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX), r.i64("startOffset", 0));
      case SegmentTruncated.TYPE:
        return new SegmentTruncated(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX), r.i64("startOffset", 0));
      case MergeSegments.TYPE:
        return new MergeSegments(r.u32("requestId"), r.string("target", SEGMENT_NAME_BYTES_MAX), r.string("source", SEGMENT_NAME_BYTES_MAX));
      case SegmentsMerged.TYPE:
        return new SegmentsMerged(r.u32("requestId"), r.string("target", SEGMENT_NAME_BYTES_MAX),
            r.string("source", SEGMENT_NAME_BYTES_MAX), r.i64("targetLength", 0));
      case UpdateAttributes.TYPE: {
        int requestId = r.u32("requestId");
        String segment = r.string("segment", SEGMENT_NAME_BYTES_MAX);
        int count = r.count("count", 1, ATTRIBUTE_UPDATES_MAX, ATTRIBUTE_UPDATE_BYTES);
        List<AttributeUpdate> updates = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          UUID id = r.uuid("updates[" + i + "].id");
          long value = r.i64("updates[" + i + "].value", -1);
          int flags = r.flags("updates[" + i + "].flags", ATTRIBUTE_UPDATE_COMPARE);
          long expected = r.i64("updates[" + i + "].expected", -1);
          updates.add(new AttributeUpdate(id, value, (flags & ATTRIBUTE_UPDATE_COMPARE) != 0, expected));
        }
        return new UpdateAttributes(requestId, segment, updates);
      }
      case GetAttributes.TYPE: {
        int requestId = r.u32("requestId");
        String segment = r.string("segment", SEGMENT_NAME_BYTES_MAX);
        int count = r.count("count", 1, ATTRIBUTE_UPDATES_MAX, UUID_BYTES);
        List<UUID> ids = new ArrayList<>(count);
        for (int i = 0; i < count; i++) ids.add(r.uuid("ids[" + i + "]"));
        return new GetAttributes(requestId, segment, ids);
      }
      case AttributesRead.TYPE: {
        int requestId = r.u32("requestId");
        String segment = r.string("segment", SEGMENT_NAME_BYTES_MAX);
        int count = r.count("count", 0, ATTRIBUTE_UPDATES_MAX, ATTRIBUTE_VALUE_BYTES);
        List<AttributeValue> values = new ArrayList<>(count);
        for (int i = 0; i < count; i++) values.add(new AttributeValue(r.uuid("values[" + i + "].id"), r.i64("values[" + i + "].value", -1)));
        return new AttributesRead(requestId, segment, values);
      }
      case GetChunks.TYPE:
        return new GetChunks(r.u32("requestId"), r.string("segment", SEGMENT_NAME_BYTES_MAX), r.i64("offset", 0), r.u16("maxCount"));
      case ChunksListed.TYPE: {
        int requestId = r.u32("requestId");
        String segment = r.string("segment", SEGMENT_NAME_BYTES_MAX);
        int count = r.count("count", 0, CHUNKS_LISTED_MAX, LISTED_CHUNK_BYTES_MIN);
        List<ListedChunk> chunks = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          chunks.add(new ListedChunk(r.string("chunks[" + i + "].name", CHUNK_NAME_BYTES_MAX),
              r.i64("chunks[" + i + "].offset", 0), r.i64("chunks[" + i + "].length", 0)));
        }
        return new ChunksListed(requestId, segment, chunks);
      }
      default:
        throw new IllegalStateException("invariant violated: not a segment management frame: " + type);
    }
  }
}

package io.sluice.client.wire;

import java.util.List;
import java.util.UUID;

/**
 * The segment management frames beyond create and info, and the Tier-2 chunk listing (wire.md,
 * "Segment management", "Tier-2 chunks"). Field conventions as in {@link Frame}.
 */
public final class SegmentFrames {
  private SegmentFrames() {}

  /** Client to server: seals the segment; answered by SegmentSealed (idempotent). */
  public record SealSegment(int requestId, String segment) implements Frame {
    public static final int TYPE = 34;
    public int type() { return TYPE; }
  }

  /** Server to client: length is the sealed segment's final length (>= 0). */
  public record SegmentSealed(int requestId, String segment, long length) implements Frame {
    public static final int TYPE = 35;
    public int type() { return TYPE; }
  }

  /** Client to server: moves the start offset to startOffset (>= 0). */
  public record TruncateSegment(int requestId, String segment, long startOffset) implements Frame {
    public static final int TYPE = 36;
    public int type() { return TYPE; }
  }

  /** Server to client: the start offset after the request (>= 0). */
  public record SegmentTruncated(int requestId, String segment, long startOffset) implements Frame {
    public static final int TYPE = 37;
    public int type() { return TYPE; }
  }

  /** Client to server: seals source, appends it to target, deletes source. */
  public record MergeSegments(int requestId, String target, String source) implements Frame {
    public static final int TYPE = 38;
    public int type() { return TYPE; }
  }

  /** Server to client: targetLength (>= 0) is the target's length after the merge. */
  public record SegmentsMerged(int requestId, String target, String source, long targetLength) implements Frame {
    public static final int TYPE = 39;
    public int type() { return TYPE; }
  }

  /** Client to server: deletes the segment. */
  public record DeleteSegment(int requestId, String segment) implements Frame {
    public static final int TYPE = 40;
    public int type() { return TYPE; }
  }

  /** Server to client: the segment was deleted. */
  public record SegmentDeleted(int requestId, String segment) implements Frame {
    public static final int TYPE = 41;
    public int type() { return TYPE; }
  }

  /** One change of UpdateAttributes: value -1 removes; with compare, applies only if the current value is expected (-1: absent). */
  public record AttributeUpdate(UUID id, long value, boolean compare, long expected) {}

  /** Client to server: 1 to {@link FrameCodec#ATTRIBUTE_UPDATES_MAX} updates, applied all or none. */
  public record UpdateAttributes(int requestId, String segment, List<AttributeUpdate> updates) implements Frame {
    public static final int TYPE = 42;
    public UpdateAttributes { updates = List.copyOf(updates); }
    public int type() { return TYPE; }
  }

  /** Server to client: the updates were applied. */
  public record AttributesUpdated(int requestId, String segment) implements Frame {
    public static final int TYPE = 43;
    public int type() { return TYPE; }
  }

  /** Client to server: 1 to {@link FrameCodec#ATTRIBUTE_UPDATES_MAX} attribute ids to read. */
  public record GetAttributes(int requestId, String segment, List<UUID> ids) implements Frame {
    public static final int TYPE = 44;
    public GetAttributes { ids = List.copyOf(ids); }
    public int type() { return TYPE; }
  }

  /** One value of AttributesRead; -1 for an absent attribute. */
  public record AttributeValue(UUID id, long value) {}

  /** Server to client: one value per id asked for (0 to {@link FrameCodec#ATTRIBUTE_UPDATES_MAX}). */
  public record AttributesRead(int requestId, String segment, List<AttributeValue> values) implements Frame {
    public static final int TYPE = 45;
    public AttributesRead { values = List.copyOf(values); }
    public int type() { return TYPE; }
  }

  /** Client to server: chunks holding bytes at or after offset (>= 0), at most maxCount (u16, >= 1). */
  public record GetChunks(int requestId, String segment, long offset, int maxCount) implements Frame {
    public static final int TYPE = 46;
    public int type() { return TYPE; }
  }

  /** A Tier-2 chunk: its object (name below the store's prefix) holds segment bytes [offset, offset + length). */
  public record ListedChunk(String name, long offset, long length) {}

  /** Server to client: 0 to {@link FrameCodec#CHUNKS_LISTED_MAX} chunks in offset order. */
  public record ChunksListed(int requestId, String segment, List<ListedChunk> chunks) implements Frame {
    public static final int TYPE = 47;
    public ChunksListed { chunks = List.copyOf(chunks); }
    public int type() { return TYPE; }
  }
}

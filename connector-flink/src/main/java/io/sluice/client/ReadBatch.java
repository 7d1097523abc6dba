package io.sluice.client;

import java.util.List;

/**
 * The whole events one {@link SegmentReader#read(int)} returned, in segment order. {@code atTail}: the
 * read reached the segment's current end. {@code finished}: the reader reached its end offset, or the
 * end of a sealed segment, and every event before it has been returned; later reads return nothing.
 */
public record ReadBatch(List<ReadEvent> events, boolean atTail, boolean finished) {
  public ReadBatch {
    events = List.copyOf(events);
  }
}

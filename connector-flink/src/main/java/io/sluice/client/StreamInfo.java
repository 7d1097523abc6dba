package io.sluice.client;

import java.io.Serializable;
import java.util.List;

/**
 * A stream as the controller describes it: its epoch, current segments, head (the oldest readable
 * position; null when the controller sent an empty cut) and tail (the current segments at their
 * lengths now), and whether it is sealed.
 */
public record StreamInfo(String scope, String stream, int epoch, List<SegmentRange> segments, StreamCut head, StreamCut tail, boolean sealed)
    implements Serializable {
  public StreamInfo {
    segments = List.copyOf(segments);
  }
}

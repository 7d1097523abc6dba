package io.sluice.client;

import java.io.Serializable;
import java.util.List;

/**
 * A segment that replaced a sealed one, with every predecessor of it (segment names): a reader may
 * start it only once it has read all of them to their ends.
 */
public record Successor(SegmentRange range, List<String> predecessors) implements Serializable {
  public Successor {
    predecessors = List.copyOf(predecessors);
  }
}

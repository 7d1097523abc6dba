package io.sluice.client;

import java.io.Serializable;

/**
 * A segment of a stream with the key range it serves: routing keys hash onto [keyStart, keyEnd) of
 * [0, 1). {@code epoch} is the epoch that created the segment.
 */
public record SegmentRange(String segment, int number, int epoch, double keyStart, double keyEnd) implements Serializable {
  public SegmentRange {
    if (segment == null || segment.isEmpty()) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "segment name is empty");
    if (!(keyStart >= 0 && keyStart < keyEnd && keyEnd <= 1)) {
      throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "key range [" + keyStart + ", " + keyEnd + ") of " + segment + " is not inside [0, 1)");
    }
  }

  /** True when key position {@code position} (in [0, 1)) falls in this segment's range. */
  public boolean holds(double position) {
    return position >= keyStart && position < keyEnd;
  }
}

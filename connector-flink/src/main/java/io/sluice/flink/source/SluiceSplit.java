package io.sluice.flink.source;

import io.sluice.client.SegmentRange;
import java.util.Objects;
import org.apache.flink.api.connector.source.SourceSplit;

/**
 * One segment of a Sluice stream as a Flink split: the segment, where reading resumes, and where it
 * stops. Splits are immutable; the reader's progress lives in {@link SluiceSplitState} and becomes a
 * new split at each checkpoint.
 *
 * <p>A split with {@link #finished()} set is a marker, not work: the reader read the segment to its
 * end and reported it to the enumerator, which has not acknowledged it yet. Markers travel in the
 * reader's checkpointed state, so a restore re-reports them (see {@link SluiceSourceReader}).
 */
public final class SluiceSplit implements SourceSplit {
  /** -1: read to the end of the segment (its sealed length); otherwise stop at this offset. */
  public static final long NO_END = -1;

  private final String stream;
  private final SegmentRange range;
  private final long offset;
  private final long endOffset;
  private final boolean finished;

  public SluiceSplit(String stream, SegmentRange range, long offset, long endOffset, boolean finished) {
    this.stream = Objects.requireNonNull(stream, "stream");
    this.range = Objects.requireNonNull(range, "range");
    if (offset < 0) throw new IllegalArgumentException("split offset must be >= 0, not " + offset);
    if (endOffset != NO_END && endOffset < offset) {
      throw new IllegalArgumentException("split end " + endOffset + " lies before its offset " + offset + " in " + range.segment());
    }
    this.offset = offset;
    this.endOffset = endOffset;
    this.finished = finished;
  }

  /** A split to read from {@code offset}. */
  public static SluiceSplit of(String stream, SegmentRange range, long offset, long endOffset) {
    return new SluiceSplit(stream, range, offset, endOffset, false);
  }

  @Override
  public String splitId() {
    return range.segment();
  }

  /** {@code scope/stream}. */
  public String stream() {
    return stream;
  }

  public SegmentRange range() {
    return range;
  }

  public String segment() {
    return range.segment();
  }

  /** Where reading resumes (an event boundary). */
  public long offset() {
    return offset;
  }

  /** Where reading stops, or {@link #NO_END}. */
  public long endOffset() {
    return endOffset;
  }

  /** Whether this is a finished marker (the segment was read to its end at {@link #offset()}). */
  public boolean finished() {
    return finished;
  }

  public SluiceSplit withOffset(long newOffset) {
    return new SluiceSplit(stream, range, newOffset, endOffset, finished);
  }

  /** The marker of this split read to its end at {@code endAt}. */
  public SluiceSplit asFinished(long endAt) {
    return new SluiceSplit(stream, range, endAt, endOffset == NO_END ? NO_END : Math.max(endOffset, endAt), true);
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) return true;
    if (!(o instanceof SluiceSplit s)) return false;
    return offset == s.offset && endOffset == s.endOffset && finished == s.finished && stream.equals(s.stream) && range.equals(s.range);
  }

  @Override
  public int hashCode() {
    return Objects.hash(stream, range, offset, endOffset, finished);
  }

  @Override
  public String toString() {
    return (finished ? "finished " : "") + range.segment() + "@" + offset + (endOffset == NO_END ? "" : ".." + endOffset);
  }
}

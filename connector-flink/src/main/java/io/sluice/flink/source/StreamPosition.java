package io.sluice.flink.source;

import io.sluice.client.StreamCut;
import java.io.Serial;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Where a source starts or stops in each of its streams: the head (oldest readable event), the tail
 * (the end when the job starts), or given stream cuts (one per stream, as {@code sluice readergroup
 * checkpoint} or {@link StreamCut#toText()} give them).
 */
public final class StreamPosition implements Serializable {
  @Serial
  private static final long serialVersionUID = 1L;

  /** Which position. */
  public enum Kind {
    HEAD,
    TAIL,
    CUTS
  }

  private final Kind kind;
  private final Map<String, StreamCut> cuts;

  private StreamPosition(Kind kind, Map<String, StreamCut> cuts) {
    this.kind = kind;
    this.cuts = cuts;
  }

  /** The oldest readable event of every stream. */
  public static StreamPosition head() {
    return new StreamPosition(Kind.HEAD, Map.of());
  }

  /** The end of every stream when the job starts (resolved once, then kept in the checkpoint). */
  public static StreamPosition tail() {
    return new StreamPosition(Kind.TAIL, Map.of());
  }

  /** These cuts, one per stream the source reads (each cut names its stream). */
  public static StreamPosition cuts(StreamCut... cuts) {
    Map<String, StreamCut> byStream = new LinkedHashMap<>();
    for (StreamCut c : cuts) {
      Objects.requireNonNull(c, "cut");
      String stream = c.scope() + "/" + c.stream();
      if (byStream.put(stream, c) != null) throw new IllegalArgumentException("two cuts of stream " + stream + ": give one cut per stream");
    }
    if (byStream.isEmpty()) throw new IllegalArgumentException("StreamPosition.cuts needs at least one cut");
    return new StreamPosition(Kind.CUTS, Map.copyOf(byStream));
  }

  public Kind kind() {
    return kind;
  }

  /** The cut of {@code stream} ({@code scope/stream}) for {@link Kind#CUTS}, else null. */
  public StreamCut cutOf(String stream) {
    return cuts.get(stream);
  }

  Map<String, StreamCut> cuts() {
    return cuts;
  }

  @Override
  public String toString() {
    return kind == Kind.CUTS ? "cuts " + cuts.values() : kind.name().toLowerCase(java.util.Locale.ROOT);
  }
}

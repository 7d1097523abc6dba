package io.sluice.flink.source;

import io.sluice.client.ClientConfig;
import java.io.Serial;
import java.io.Serializable;
import java.util.List;

/**
 * Everything a source needs to run, validated by {@link SluiceSourceBuilder}, shipped to the
 * enumerator and the readers.
 *
 * @param controllerUri {@code tcp://host:port[,host:port...]}
 * @param streams {@code scope/stream} names, at least one
 * @param stop null: unbounded
 * @param successorPollMs how often the enumerator retries successor lookups that failed or found none yet
 * @param readWaitMs how long a read at a segment's tail waits for data (long poll)
 */
record SluiceSourceSettings(
    String controllerUri,
    List<String> streams,
    StreamPosition start,
    StreamPosition stop,
    OrderingMode ordering,
    ClientConfig client,
    long successorPollMs,
    int readWaitMs)
    implements Serializable {
  @Serial
  private static final long serialVersionUID = 1L;

  SluiceSourceSettings {
    streams = List.copyOf(streams);
  }

  boolean bounded() {
    return stop != null;
  }

  SegmentGraph.Fence fence() {
    return ordering == OrderingMode.CHECKPOINTED ? SegmentGraph.Fence.CHECKPOINT : SegmentGraph.Fence.NONE;
  }
}

package io.sluice.flink.source;

import io.sluice.client.ClientConfig;
import io.sluice.client.ErrorCode;
import io.sluice.client.SegmentNames;
import io.sluice.client.SluiceException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.apache.flink.api.common.serialization.DeserializationSchema;

/**
 * Builds a {@link SluiceSource}. Required: the controller, at least one stream and a deserializer.
 * Defaults: start at the head, never stop, {@link OrderingMode#CHECKPOINTED} (for a bounded source
 * {@link OrderingMode#RELAXED}, since BATCH mode takes no checkpoints), 1 s long polls at the tail.
 * {@link #build()} checks everything and raises {@link SluiceException} (INVALID_ARGUMENT or
 * INVALID_NAME) naming the setting that is wrong.
 */
public final class SluiceSourceBuilder<T> {

  private String controllerUri;
  private final List<String> streams = new ArrayList<>();
  private StreamPosition start = StreamPosition.head();
  private StreamPosition stop;
  private OrderingMode ordering;
  private ClientConfig client = ClientConfig.defaults();
  private long successorPollMs = 1_000;
  private int readWaitMs = 1_000;
  private SluiceDeserializationSchema<T> deserializer;

  SluiceSourceBuilder() {}

  /** The controller: {@code tcp://host:port}, several comma-separated. */
  public SluiceSourceBuilder<T> setControllerUri(String uri) {
    this.controllerUri = uri;
    return this;
  }

  /** The streams to read, each {@code scope/stream}. */
  public SluiceSourceBuilder<T> setStreams(String... streams) {
    this.streams.clear();
    this.streams.addAll(List.of(streams));
    return this;
  }

  /** Where to start: {@link StreamPosition#head()} (default), {@link StreamPosition#tail()} or cuts. */
  public SluiceSourceBuilder<T> setStartingPosition(StreamPosition start) {
    this.start = Objects.requireNonNull(start, "start");
    return this;
  }

  /** Makes the source bounded: it stops at {@code stop} (the tail when the job starts, or cuts) and the job can run in BATCH mode. */
  public SluiceSourceBuilder<T> setBounded(StreamPosition stop) {
    this.stop = Objects.requireNonNull(stop, "stop");
    return this;
  }

  public SluiceSourceBuilder<T> setOrderingMode(OrderingMode ordering) {
    this.ordering = Objects.requireNonNull(ordering, "ordering");
    return this;
  }

  public SluiceSourceBuilder<T> setDeserializer(SluiceDeserializationSchema<T> deserializer) {
    this.deserializer = Objects.requireNonNull(deserializer, "deserializer");
    return this;
  }

  /** Deserializes only the event bytes, with any Flink {@link DeserializationSchema}. */
  public SluiceSourceBuilder<T> setValueOnlyDeserializer(DeserializationSchema<T> schema) {
    return setDeserializer(SluiceDeserializationSchema.valueOnly(Objects.requireNonNull(schema, "schema")));
  }

  /** Connection settings of the Java client (timeouts, read size). */
  public SluiceSourceBuilder<T> setClientConfig(ClientConfig client) {
    this.client = Objects.requireNonNull(client, "client");
    return this;
  }

  /** How long a read at a segment's tail waits for new events before it asks again (0 to 60000 ms). */
  public SluiceSourceBuilder<T> setReadWaitMs(int readWaitMs) {
    this.readWaitMs = readWaitMs;
    return this;
  }

  /** How often the enumerator asks again for successors not known yet (at least 10 ms). */
  public SluiceSourceBuilder<T> setSuccessorPollMs(long successorPollMs) {
    this.successorPollMs = successorPollMs;
    return this;
  }

  public SluiceSource<T> build() {
    if (controllerUri == null || controllerUri.isBlank()) throw invalid("setControllerUri: the controller address is required, e.g. tcp://127.0.0.1:9090");
    if (streams.isEmpty()) throw invalid("setStreams: name at least one stream as scope/stream");
    Set<String> unique = new LinkedHashSet<>();
    for (String s : streams) {
      if (s == null) throw new SluiceException(ErrorCode.INVALID_NAME, "setStreams: a stream name is null; write it as scope/stream");
      try {
        SegmentNames.parseStreamName(s);
      } catch (SluiceException e) {
        throw new SluiceException(ErrorCode.INVALID_NAME, "setStreams: " + e.getMessage(), e);
      }
      if (!unique.add(s)) throw invalid("setStreams: stream " + s + " is named twice");
    }
    if (deserializer == null) throw invalid("setDeserializer (or setValueOnlyDeserializer) is required");
    checkCuts("setStartingPosition", start, unique);
    if (stop != null) {
      if (stop.kind() == StreamPosition.Kind.HEAD) throw invalid("setBounded: a source cannot stop at the head; stop at the tail or at cuts");
      checkCuts("setBounded", stop, unique);
    }
    if (readWaitMs < 0 || readWaitMs > ClientConfig.READ_WAIT_MS_MAX) throw invalid("setReadWaitMs: " + readWaitMs + " is outside 0 to " + ClientConfig.READ_WAIT_MS_MAX + " ms");
    if (successorPollMs < 10) throw invalid("setSuccessorPollMs: " + successorPollMs + " ms is below 10 ms");
    OrderingMode mode = ordering != null ? ordering : (stop != null ? OrderingMode.RELAXED : OrderingMode.CHECKPOINTED);
    return new SluiceSource<>(new SluiceSourceSettings(controllerUri, List.copyOf(unique), start, stop, mode, client, successorPollMs, readWaitMs), deserializer);
  }

  private static void checkCuts(String what, StreamPosition p, Set<String> streams) {
    if (p.kind() != StreamPosition.Kind.CUTS) return;
    for (String s : streams) if (p.cutOf(s) == null) throw invalid(what + ": no cut for stream " + s + "; give one cut per stream read");
    for (String s : p.cuts().keySet()) if (!streams.contains(s)) throw invalid(what + ": a cut of stream " + s + ", which the source does not read");
  }

  private static SluiceException invalid(String message) {
    return new SluiceException(ErrorCode.INVALID_ARGUMENT, message);
  }
}

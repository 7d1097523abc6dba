package io.sluice.flink.source;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.EventWriter;
import io.sluice.client.wire.ConnectionPool;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Shared parts of the source's integration tests: events {@code key:seq} written with the Java
 * client's writer, a keyed operator that checks each key's sequence numbers, and a sink that
 * collects into memory (the MiniCluster runs in this JVM).
 */
public final class SourceItSupport {
  private SourceItSupport() {}

  static final Map<String, Queue<String>> SINKS = new ConcurrentHashMap<>();

  static Queue<String> sink(String name) {
    return SINKS.computeIfAbsent(name, k -> new ConcurrentLinkedQueue<>());
  }

  /** Collects every record into {@link #SINKS}{@code [name]}. Not transactional: a restore repeats records. */
  static final class CollectSink implements Sink<String> {
    private static final long serialVersionUID = 1L;
    private final String name;

    CollectSink(String name) {
      this.name = name;
    }

    @Override
    public SinkWriter<String> createWriter(WriterInitContext context) {
      Queue<String> out = sink(name);
      return new SinkWriter<>() {
        @Override
        public void write(String element, Context ctx) {
          out.add(element);
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public void close() {}
      };
    }
  }

  /**
   * Per key: passes {@code key:seq} on when seq is the next number of that key, and emits
   * {@code VIOLATION ...} when it is not (a repeat, a step back or a gap). Its state is restored
   * with the source's offsets, so it holds even across a restore.
   */
  static final class SequenceCheck extends KeyedProcessFunction<String, String, String> {
    private static final long serialVersionUID = 1L;
    private transient ValueState<Long> last;

    @Override
    public void open(OpenContext ctx) {
      last = getRuntimeContext().getState(new ValueStateDescriptor<>("last", Long.class));
    }

    @Override
    public void processElement(String value, Context ctx, Collector<String> out) throws Exception {
      long seq = seqOf(value);
      Long prev = last.value();
      long expected = prev == null ? 0 : prev + 1;
      if (seq != expected) out.collect("VIOLATION " + value + " after " + prev);
      last.update(Math.max(seq, prev == null ? -1 : prev));
      out.collect(value);
    }
  }

  public static String keyOf(String event) {
    return event.substring(0, event.indexOf(':'));
  }

  public static long seqOf(String event) {
    return Long.parseLong(event.substring(event.indexOf(':') + 1));
  }

  /** An unbounded source of {@code stream} from its head, events as strings, 200 ms long polls. */
  public static SluiceSourceBuilder<String> liveSource(String controllerUri, String stream) {
    return SluiceSource.<String>builder()
        .setControllerUri(controllerUri)
        .setStreams(stream)
        .setValueOnlyDeserializer(new SimpleStringSchema())
        .setReadWaitMs(200);
  }

  /** source -> keyBy(key) -> {@link SequenceCheck} -> {@link CollectSink}({@code sinkName}). */
  static void checkedPipeline(StreamExecutionEnvironment env, SluiceSource<String> source, String sinkName) {
    env.fromSource(source, WatermarkStrategy.noWatermarks(), "sluice")
        .keyBy(SourceItSupport::keyOf)
        .process(new SequenceCheck())
        .sinkTo(new CollectSink(sinkName));
  }

  public static ClientConfig clientConfig() {
    return ClientConfig.defaults();
  }

  /** Creates scope and stream (fixed {@code segments}). */
  public static void createStream(ControllerClient c, String scope, String stream, int segments) throws Exception {
    c.createScope(scope).get(30, TimeUnit.SECONDS);
    c.createStream(scope, stream, segments).get(30, TimeUnit.SECONDS);
  }

  /** Writes {@code perKey} events to each of {@code keys} keys, round robin, numbering each key from {@code firstSeq}; waits until all are durable. */
  public static void writeEvents(String controllerUri, String scope, String stream, int keys, int perKey, long firstSeq) throws Exception {
    try (ControllerClient c = ControllerClient.connect(controllerUri, clientConfig());
        ConnectionPool pool = new ConnectionPool(clientConfig());
        EventWriter w = EventWriter.open(c, pool, clientConfig(), scope, stream).get(30, TimeUnit.SECONDS)) {
      List<CompletableFuture<Void>> acks = new ArrayList<>(keys * perKey);
      for (long s = firstSeq; s < firstSeq + perKey; s++) {
        for (int k = 0; k < keys; k++) {
          String e = "k" + k + ":" + s;
          acks.add(w.writeEvent("k" + k, e.getBytes(StandardCharsets.UTF_8)));
        }
      }
      CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
    }
  }

  /** Every record of a sink, grouped by key in arrival order (violations left out). */
  public static Map<String, List<Long>> byKey(Iterable<String> records) {
    Map<String, List<Long>> out = new HashMap<>();
    for (String r : records) {
      if (r.startsWith("VIOLATION")) continue;
      out.computeIfAbsent(keyOf(r), k -> new ArrayList<>()).add(seqOf(r));
    }
    return out;
  }

  static List<String> violations(Iterable<String> records) {
    List<String> out = new ArrayList<>();
    for (String r : records) if (r.startsWith("VIOLATION")) out.add(r);
    return out;
  }
}

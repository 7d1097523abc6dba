package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.client.ControllerClient;
import io.sluice.client.StreamCut;
import io.sluice.testing.SluiceStandaloneExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Bounded reads on a real Flink MiniCluster against a real `sluice standalone`: a stream of 4
 * segments with 100k events over 1,000 keys, read from the head to the tail cut with parallelism 2,
 * in STREAMING mode (the job finishes; every event once, each key in write order) and in BATCH mode
 * (the same events).
 */
class SourceBoundedReadTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  static final int KEYS = 1_000;
  static final int PER_KEY = 100;
  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();
  static StreamCut tail;

  @BeforeAll
  static void writeHistory() throws Exception {
    try (ControllerClient c = ControllerClient.connect(SLUICE.get().controllerUri(), SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "it", "bounded", 4);
      SourceItSupport.writeEvents(SLUICE.get().controllerUri(), "it", "bounded", KEYS, PER_KEY, 0);
      tail = c.streamInfo("it", "bounded").get(30, TimeUnit.SECONDS).tail();
    }
    // Written after the cut: a bounded read must not see them.
    SourceItSupport.writeEvents(SLUICE.get().controllerUri(), "it", "bounded", 10, 5, PER_KEY);
  }

  static SluiceSource<String> source() {
    return SluiceSource.<String>builder()
        .setControllerUri(SLUICE.get().controllerUri())
        .setStreams("it/bounded")
        .setStartingPosition(StreamPosition.head())
        .setBounded(StreamPosition.cuts(tail))
        .setValueOnlyDeserializer(new SimpleStringSchema())
        .build();
  }

  static List<String> run(RuntimeExecutionMode mode) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(2);
    env.setRuntimeMode(mode);
    List<String> out = new ArrayList<>(KEYS * PER_KEY);
    try (CloseableIterator<String> it = env.fromSource(source(), WatermarkStrategy.noWatermarks(), "sluice").executeAndCollect("bounded-" + mode)) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  @Test
  void streamingModeFinishesWithEveryEventOnceInPerKeyOrder() throws Exception {
    List<String> out = run(RuntimeExecutionMode.STREAMING);
    assertEquals(KEYS * PER_KEY, out.size(), "events read");
    Map<String, List<Long>> byKey = SourceItSupport.byKey(out);
    assertEquals(KEYS, byKey.size(), "keys");
    List<Long> expected = LongStream.range(0, PER_KEY).boxed().toList();
    for (Map.Entry<String, List<Long>> e : byKey.entrySet()) assertEquals(expected, e.getValue(), "key " + e.getKey() + " in write order, once each");
  }

  @Test
  void batchModeReadsTheSameHistory() throws Exception {
    List<String> out = run(RuntimeExecutionMode.BATCH);
    assertEquals(KEYS * PER_KEY, out.size(), "events read");
    Map<String, List<Long>> byKey = SourceItSupport.byKey(out);
    List<Long> expected = LongStream.range(0, PER_KEY).boxed().toList();
    for (Map.Entry<String, List<Long>> e : byKey.entrySet()) assertEquals(expected, e.getValue().stream().sorted().toList(), "key " + e.getKey() + " once each");
  }
}

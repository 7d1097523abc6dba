package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ControllerClient;
import io.sluice.client.SegmentRange;
import io.sluice.testing.SluiceStandaloneExtension;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * History across scaling: a stream written through two splits and a merge (so its history is 2,
 * then 3, then 4, then 3 segments) is read from the head to the tail cut by a bounded source. In
 * BATCH mode every event arrives once; in STREAMING mode with checkpoints and the default fence of
 * an unbounded source, each key also arrives in write order across the successors.
 */
class SourceBoundedScalingTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final int KEYS = 200;
  static final int PER_ROUND = 50;
  static final int ROUNDS = 4;

  @BeforeAll
  static void writeThroughScaling() throws Exception {
    String uri = SLUICE.get().controllerUri();
    try (ControllerClient c = ControllerClient.connect(uri, SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "it", "history", 2);
      for (int round = 0; round < ROUNDS; round++) {
        SourceItSupport.writeEvents(uri, "it", "history", KEYS, PER_ROUND, (long) round * PER_ROUND);
        if (round == ROUNDS - 1) break;
        List<SegmentRange> current = new ArrayList<>(c.currentSegments("it", "history").get(30, TimeUnit.SECONDS));
        current.sort(Comparator.comparingDouble(SegmentRange::keyStart));
        if (round < 2) {
          SegmentRange r = current.get(current.size() - 1);
          double mid = (r.keyStart() + r.keyEnd()) / 2;
          c.scale("it", "history", List.of(r.segment()), List.of(new double[] {r.keyStart(), mid}, new double[] {mid, r.keyEnd()})).get(30, TimeUnit.SECONDS);
        } else {
          SegmentRange a = current.get(0);
          SegmentRange b = current.get(1);
          c.scale("it", "history", List.of(a.segment(), b.segment()), List.<double[]>of(new double[] {a.keyStart(), b.keyEnd()})).get(30, TimeUnit.SECONDS);
        }
      }
      assertEquals(3, c.currentSegments("it", "history").get(30, TimeUnit.SECONDS).size());
    }
  }

  static List<String> run(RuntimeExecutionMode mode, OrderingMode ordering) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(3);
    env.setRuntimeMode(mode);
    if (ordering == OrderingMode.CHECKPOINTED) env.enableCheckpointing(100);
    SluiceSource<String> source = SourceItSupport.liveSource(SLUICE.get().controllerUri(), "it/history")
        .setBounded(StreamPosition.tail())
        .setOrderingMode(ordering)
        .setSuccessorPollMs(50)
        .build();
    List<String> out = new ArrayList<>();
    try (CloseableIterator<String> it = env.fromSource(source, WatermarkStrategy.noWatermarks(), "sluice").executeAndCollect("history-" + mode)) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  static void checkOnceEach(List<String> out, boolean inOrder) {
    assertEquals(KEYS * PER_ROUND * ROUNDS, out.size(), "events read");
    Map<String, List<Long>> byKey = SourceItSupport.byKey(out);
    assertEquals(KEYS, byKey.size());
    List<Long> expected = LongStream.range(0, (long) PER_ROUND * ROUNDS).boxed().toList();
    for (Map.Entry<String, List<Long>> e : byKey.entrySet()) {
      List<Long> got = inOrder ? e.getValue() : e.getValue().stream().sorted().toList();
      assertEquals(expected, got, "key " + e.getKey());
    }
  }

  @Test
  void batchModeReadsEveryEventOfEveryEpochOnce() throws Exception {
    checkOnceEach(run(RuntimeExecutionMode.BATCH, OrderingMode.RELAXED), false);
  }

  @Test
  void streamingWithTheFenceKeepsEachKeysOrderThroughTheSuccessors() throws Exception {
    List<String> out = run(RuntimeExecutionMode.STREAMING, OrderingMode.CHECKPOINTED);
    checkOnceEach(out, true);
    assertTrue(out.size() > 0);
  }
}

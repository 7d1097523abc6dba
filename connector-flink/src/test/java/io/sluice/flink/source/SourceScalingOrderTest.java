package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.EventWriter;
import io.sluice.client.SegmentRange;
import io.sluice.client.wire.ConnectionPool;
import io.sluice.testing.SluiceStandaloneExtension;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Per-key order across scaling, end to end: while an unbounded job (source -> keyBy -> sequence
 * check -> sink) reads, a writer keeps writing {@code key:seq} events and the test scales the stream
 * 5 times up (a split) and 5 times down (a merge) through the controller. At the keyed operator
 * every key's numbers must arrive as 0, 1, 2, ... (no repeat, no step back, no gap), and the sink
 * must hold exactly the events the writer had acknowledged.
 */
class SourceScalingOrderTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  static final int KEYS = 200;
  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  @Test
  void everyKeyKeepsItsOrderThroughFiveSplitsAndFiveMerges() throws Exception {
    ClientConfig cfg = SourceItSupport.clientConfig();
    Queue<String> out = SourceItSupport.sink("scaling");
    try (ControllerClient c = ControllerClient.connect(SLUICE.get().controllerUri(), cfg); ConnectionPool pool = new ConnectionPool(cfg)) {
      SourceItSupport.createStream(c, "it", "scaling", 2);

      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(3);
      env.enableCheckpointing(300);
      SluiceSource<String> source = SourceItSupport.liveSource(SLUICE.get().controllerUri(), "it/scaling")
          .setSuccessorPollMs(100)
          .build();
      SourceItSupport.checkedPipeline(env, source, "scaling");
      JobClient job = env.executeAsync("scaling-order");

      // The writer: keys round robin, each key numbered from 0; acked[k] = events of key k acknowledged.
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLongArray acked = new AtomicLongArray(KEYS);
      CompletableFuture<Long> writer = CompletableFuture.supplyAsync(() -> {
        long written = 0;
        try (EventWriter w = EventWriter.open(c, pool, cfg, "it", "scaling").get(30, TimeUnit.SECONDS)) {
          List<CompletableFuture<Void>> window = new ArrayList<>();
          for (long seq = 0; !stop.get(); seq++) {
            for (int k = 0; k < KEYS; k++) {
              final int key = k;
              window.add(w.writeEvent("k" + k, ("k" + k + ":" + seq).getBytes(StandardCharsets.UTF_8)).thenRun(() -> acked.incrementAndGet(key)));
              written++;
            }
            if (window.size() >= 2_000) {
              CompletableFuture.allOf(window.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
              window.clear();
            }
          }
          CompletableFuture.allOf(window.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new IllegalStateException("writer failed after " + acked + " acks", e);
        }
        return written;
      });

      for (int i = 0; i < 10; i++) {
        Thread.sleep(700);
        List<SegmentRange> current = new ArrayList<>(c.currentSegments("it", "scaling").get(30, TimeUnit.SECONDS));
        current.sort(Comparator.comparingDouble(SegmentRange::keyStart));
        if (i % 2 == 0) {
          SegmentRange widest = current.stream().max(Comparator.comparingDouble(r -> r.keyEnd() - r.keyStart())).orElseThrow();
          double mid = (widest.keyStart() + widest.keyEnd()) / 2;
          c.scale("it", "scaling", List.of(widest.segment()), List.of(new double[] {widest.keyStart(), mid}, new double[] {mid, widest.keyEnd()})).get(30, TimeUnit.SECONDS);
        } else {
          SegmentRange a = current.get(0);
          SegmentRange b = current.get(1);
          c.scale("it", "scaling", List.of(a.segment(), b.segment()), List.<double[]>of(new double[] {a.keyStart(), b.keyEnd()})).get(30, TimeUnit.SECONDS);
        }
      }
      Thread.sleep(500);
      stop.set(true);
      long written = writer.get(120, TimeUnit.SECONDS);

      long total = 0;
      for (int k = 0; k < KEYS; k++) total += acked.get(k);
      assertEquals(written, total, "every written event acknowledged");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (countEvents(out) < total && System.nanoTime() < deadline) Thread.sleep(200);
      Thread.sleep(1_000); // anything beyond what was written would show up now
      job.cancel().get(30, TimeUnit.SECONDS);

      assertEquals(List.of(), SourceItSupport.violations(out), "keyed order at the operator");
      Map<String, List<Long>> byKey = SourceItSupport.byKey(out);
      assertEquals(KEYS, byKey.size());
      for (int k = 0; k < KEYS; k++) {
        List<Long> seqs = byKey.get("k" + k);
        assertEquals(acked.get(k), seqs.size(), "key k" + k + ": events received vs acknowledged");
        for (int i = 0; i < seqs.size(); i++) assertEquals(i, seqs.get(i), "key k" + k + " position " + i);
      }
      assertTrue(total > 10 * KEYS, "the writer wrote through the scaling: " + total);
      assertEquals(2, c.currentSegments("it", "scaling").get(30, TimeUnit.SECONDS).size(), "5 splits and 5 merges from 2 segments leave 2");
    }
  }

  static long countEvents(Queue<String> out) {
    long n = 0;
    for (String s : out) if (!s.startsWith("VIOLATION")) n++;
    return n;
  }
}

package io.sluice.flink.scaling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ControllerClient;
import io.sluice.demo.KeyAudit;
import io.sluice.flink.sink.SluiceSink;
import io.sluice.flink.source.PacedKeyWriter;
import io.sluice.flink.source.SourceItSupport;
import io.sluice.testing.SluiceStandaloneExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Rescaling a running exactly-once job loses and repeats nothing: while a writer appends keyed,
 * numbered events {@code k<i>:<seq>} to a stream of 4 fixed segments, a job (SluiceSource -> keyBy
 * -> per-key audit -> SluiceSink EXACTLY_ONCE) on a MiniCluster with the adaptive scheduler is
 * driven through the REST API from parallelism 2 to 4 to 1 (FlinkRestClient, not the rescaler's
 * polling), each rescale falling between checkpoints so the restore replays events (with the sink
 * switched to AT_LEAST_ONCE this test fails on duplicates). After the writer stops and the job has read everything, it is stopped with a draining
 * savepoint; the output stream, read back with {@code sluice read}, holds every event exactly once
 * and each key in order, the in-job audit counted nothing wrong, and REST showed the job running at 4
 * and then at 1.
 */
class RescaleCorrectnessTest {
  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final int KEYS = 8;
  /**
   * Checkpoints far apart and a rescale trigger that does not wait for one: each rescale falls
   * between checkpoints, so the restore replays up to 2 s of events. A sink that is not exactly-once
   * (AT_LEAST_ONCE) then leaves duplicates, which this test catches.
   */
  static final long CHECKPOINT_MS = 2_000;
  static final Duration RESCALE_MAX_DELAY = Duration.ofMillis(100);
  /** Per key, the highest sequence number the job has passed to the sink (replays do not lower it). */
  static final Map<String, Long> SEEN = new ConcurrentHashMap<>();

  /** Records progress for the test's wait; passes every event on unchanged. */
  static final class Progress implements MapFunction<String, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String map(String value) {
      SEEN.merge(KeyAudit.keyOf(value), KeyAudit.seqOf(value), Math::max);
      return value;
    }
  }

  @Test
  void rescalingTwoToFourToOneKeepsEveryEventExactlyOnceInKeyOrder() throws Exception {
    String uri = SLUICE.get().controllerUri();
    try (ControllerClient c = ControllerClient.connect(uri, SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "rc", "in", 4);
      c.createStream("rc", "out", 2).get(30, TimeUnit.SECONDS);
    }
    Path savepoints = Files.createTempDirectory("rescale-savepoints-");
    try (AdaptiveMiniCluster cluster = AdaptiveMiniCluster.start(4, RESCALE_MAX_DELAY);
        FlinkRestClient rest = new FlinkRestClient(cluster.restUrl(), Duration.ofSeconds(10));
        PacedKeyWriter writer = new PacedKeyWriter(uri, "rc", "in", KEYS, 4, 200)) { // about 2,000 events/s
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(2);
      env.setMaxParallelism(8);
      env.enableCheckpointing(CHECKPOINT_MS);
      env.fromSource(SourceItSupport.liveSource(uri, "rc/in").build(), WatermarkStrategy.noWatermarks(), "sluice-in")
          .keyBy(KeyAudit::keyOf)
          .process(new KeyAudit())
          .map(new Progress())
          .sinkTo(SluiceSink.<String>builder()
              .setControllerUri(uri)
              .setStream("rc/out")
              .setSerializationSchema(new SimpleStringSchema())
              .setRoutingKey(KeyAudit::keyOf)
              .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
              .build());
      JobID job = cluster.submit(env);
      List<Integer> observed = new ArrayList<>();
      awaitRunningAt(rest, job, 2, observed);
      writer.start();

      writer.awaitWritten(2_000);
      for (int target : new int[] {4, 1}) {
        long t0 = System.currentTimeMillis();
        rest.setParallelism(job, target);
        long[] at = awaitRunningAt(rest, job, target, observed);
        System.out.printf("rescale to %d: running at it %d ms after the request, not running for %d ms%n", target, at[0] - t0, at[1]);
        writer.awaitWritten(writer.written() + 2_000);
      }
      long[] last = writer.stop();

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!caughtUp(last)) {
        assertTrue(System.nanoTime() < deadline, "the job passed on every written event within 60 s: " + SEEN);
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      }
      cluster.stopWithDrain(job, savepoints, Duration.ofSeconds(60));
      JobResult result = cluster.result(job, Duration.ofSeconds(60));
      assertTrue(result.isSuccess(), "the job ended without failure: " + result.getSerializedThrowable());

      int at4 = observed.indexOf(4);
      assertTrue(at4 >= 0 && observed.subList(at4, observed.size()).contains(1), "observed parallelism went to 4 then to 1: " + observed);
      assertEquals(KEYS, AdaptiveMiniCluster.longAccumulator(result, KeyAudit.KEYS), "the audit saw every key");
      assertEquals(0, AdaptiveMiniCluster.longAccumulator(result, KeyAudit.OUT_OF_ORDER), "no event out of order in the job");
      assertEquals(0, AdaptiveMiniCluster.longAccumulator(result, KeyAudit.DUPLICATES), "no duplicate in the job");
      assertEquals(0, AdaptiveMiniCluster.longAccumulator(result, KeyAudit.GAPS), "no gap in the job");

      List<String> lines = SLUICE.get().cli(120_000, "read", "rc/out");
      Map<String, List<Long>> byKey = SourceItSupport.byKey(lines);
      long total = 0;
      for (int k = 0; k < KEYS; k++) {
        List<Long> expected = new ArrayList<>();
        for (long s = 0; s <= last[k]; s++) expected.add(s);
        assertEquals(expected, byKey.get("k" + k), "key k" + k + ": every event once, in order");
        total += last[k] + 1;
      }
      assertEquals(total, lines.size(), "nothing else in the output");
    } finally {
      deleteTree(savepoints);
    }
  }

  private static boolean caughtUp(long[] last) {
    for (int k = 0; k < KEYS; k++) {
      Long seen = SEEN.get("k" + k);
      if (seen == null || seen < last[k]) return false;
    }
    return true;
  }

  /**
   * Polls REST every 20 ms until every vertex runs at {@code parallelism} (60 s at most); notes each
   * new parallelism seen. Returns {time running at it, ms seen not running on the way}.
   */
  static long[] awaitRunningAt(FlinkRestClient rest, JobID job, int parallelism, List<Integer> observed) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    long notRunningSince = -1;
    long pauseMs = 0;
    while (true) {
      FlinkRestClient.JobView v = rest.job(job);
      long now = System.currentTimeMillis();
      int p = v.parallelism();
      if (p > 0 && (observed.isEmpty() || observed.get(observed.size() - 1) != p)) observed.add(p);
      if (!v.running() && notRunningSince < 0) notRunningSince = now;
      if (v.running() && notRunningSince >= 0) {
        pauseMs += now - notRunningSince;
        notRunningSince = -1;
      }
      if (v.running() && p == parallelism) return new long[] {now, pauseMs};
      assertTrue(System.nanoTime() < deadline, "job running at " + parallelism + " within 60 s; last " + v);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  static void deleteTree(Path dir) throws Exception {
    if (!Files.exists(dir)) return;
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }
}

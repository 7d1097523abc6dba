package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ControllerClient;
import io.sluice.testing.SluiceStandaloneExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Recovery: (1) a map that throws once, after a checkpoint completed, makes the job restore; the
 * source re-reads from its checkpointed offsets, the keyed check sees no gap and no repeat, and the
 * non-transactional sink sees each event at least once, repeats only of what followed the last
 * checkpoint. (2) The Sluice process is SIGKILLed and started again while an unbounded job reads:
 * the job goes on and, once the writer has written the rest, has every event exactly once.
 */
class SourceFailoverTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final AtomicBoolean THROWN = new AtomicBoolean();
  /** Per subtask of the first attempt: records that passed the map after the last completed checkpoint. */
  static final Map<Integer, Long> SINCE_COMPLETED = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Throws once, on the first record after a checkpoint completed and at least {@code after} records
   * passed. In the first attempt it also counts, per subtask, the records that passed it after the
   * last completed checkpoint: exactly what a restore may repeat downstream.
   */
  static final class ThrowOnce extends RichMapFunction<String, String> implements CheckpointListener, CheckpointedFunction {
    private static final long serialVersionUID = 1L;
    private final long after;
    private transient long seen;
    private transient long seenAtCompleted;
    private transient Map<Long, Long> seenAtSnapshot;
    private transient boolean checkpointed;
    private transient boolean firstAttempt;
    private transient int subtask;

    ThrowOnce(long after) {
      this.after = after;
    }

    @Override
    public void open(OpenContext ctx) {
      firstAttempt = getRuntimeContext().getTaskInfo().getAttemptNumber() == 0;
      subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    }

    @Override
    public String map(String value) throws Exception {
      seen++;
      if (firstAttempt) SINCE_COMPLETED.put(subtask, seen - seenAtCompleted);
      if (checkpointed && seen >= after && THROWN.compareAndSet(false, true)) {
        throw new IllegalStateException("planned failure after " + seen + " records");
      }
      if (!THROWN.get() && !checkpointed) Thread.sleep(0, 200_000); // slow enough for a checkpoint to complete first
      return value;
    }

    @Override
    public void snapshotState(FunctionSnapshotContext ctx) {
      seenAtSnapshot.put(ctx.getCheckpointId(), seen);
    }

    @Override
    public void initializeState(FunctionInitializationContext ctx) {
      seenAtSnapshot = new HashMap<>();
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
      Long at = seenAtSnapshot.remove(checkpointId);
      if (at != null) seenAtCompleted = at;
      seenAtSnapshot.keySet().removeIf(id -> id < checkpointId);
      checkpointed = true;
      if (firstAttempt) SINCE_COMPLETED.put(subtask, seen - seenAtCompleted);
    }
  }

  @Test
  void aFailedTaskRestoresFromItsCheckpointWithNoGapAndBoundedRepeats() throws Exception {
    int keys = 100;
    int perKey = 200;
    try (ControllerClient c = ControllerClient.connect(SLUICE.get().controllerUri(), SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "it", "failover", 3);
    }
    SourceItSupport.writeEvents(SLUICE.get().controllerUri(), "it", "failover", keys, perKey, 0);

    Configuration conf = new Configuration();
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, java.time.Duration.ofMillis(200));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(2);
    env.enableCheckpointing(200);
    SluiceSource<String> source = SourceItSupport.liveSource(SLUICE.get().controllerUri(), "it/failover")
        .build();
    env.fromSource(source, WatermarkStrategy.noWatermarks(), "sluice")
        .map(new ThrowOnce(keys * perKey / 4))
        .keyBy(SourceItSupport::keyOf)
        .process(new SourceItSupport.SequenceCheck())
        .sinkTo(new SourceItSupport.CollectSink("failover"));
    JobClient job = env.executeAsync("failover");
    Queue<String> out = SourceItSupport.sink("failover");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline && distinct(out) < (long) keys * perKey) Thread.sleep(200);
    job.cancel().get(30, TimeUnit.SECONDS);

    assertTrue(THROWN.get(), "the planned failure happened");
    assertEquals(List.of(), SourceItSupport.violations(out), "the keyed check, restored with the source, sees no gap and no repeat");
    Map<String, List<Long>> byKey = SourceItSupport.byKey(out);
    long repeats = 0;
    for (int k = 0; k < keys; k++) {
      List<Long> seqs = byKey.get("k" + k);
      Map<Long, Integer> count = new HashMap<>();
      for (long s : seqs) count.merge(s, 1, Integer::sum);
      assertEquals(perKey, count.size(), "key k" + k + ": every event arrived");
      for (long s = 0; s < perKey; s++) assertTrue(count.get(s) != null && count.get(s) <= 2, "key k" + k + " seq " + s + " arrived " + count.get(s) + " times");
      repeats += seqs.size() - perKey;
    }
    // Repeats are what the sink got after the restored checkpoint and before the failure: at most what had passed the map by then.
    // Repeats are records the first attempt had passed on after the checkpoint it restored from: one interval's worth.
    long sinceCheckpoint = SINCE_COMPLETED.values().stream().mapToLong(Long::longValue).sum();
    assertTrue(repeats <= sinceCheckpoint, "repeats " + repeats + " bounded by the records after the last completed checkpoint (" + sinceCheckpoint + ")");
    assertTrue(sinceCheckpoint < (long) keys * perKey, "the restore did not start from the beginning: " + sinceCheckpoint);
  }

  @Test
  void aKilledAndRestartedSluiceLosesNothingForARunningJob() throws Exception {
    int keys = 50;
    try (ControllerClient c = ControllerClient.connect(SLUICE.get().controllerUri(), SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "it", "restart", 2);
    }
    SourceItSupport.writeEvents(SLUICE.get().controllerUri(), "it", "restart", keys, 100, 0);
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(2);
    env.enableCheckpointing(300);
    SluiceSource<String> source = SourceItSupport.liveSource(SLUICE.get().controllerUri(), "it/restart")
        .build();
    SourceItSupport.checkedPipeline(env, source, "restart");
    JobClient job = env.executeAsync("restart");
    Queue<String> out = SourceItSupport.sink("restart");
    waitFor(out, keys * 100L, 60);

    SLUICE.get().kill();
    Thread.sleep(500);
    SLUICE.get().restart();
    SourceItSupport.writeEvents(SLUICE.get().controllerUri(), "it", "restart", keys, 100, 100);
    waitFor(out, keys * 200L, 90);
    Thread.sleep(500);
    assertEquals(org.apache.flink.api.common.JobStatus.RUNNING, job.getJobStatus().get(10, TimeUnit.SECONDS), "the job kept running");
    job.cancel().get(30, TimeUnit.SECONDS);

    assertEquals(List.of(), SourceItSupport.violations(out));
    Map<String, List<Long>> byKey = SourceItSupport.byKey(out);
    for (int k = 0; k < keys; k++) {
      List<Long> seqs = byKey.get("k" + k);
      List<Long> expected = new ArrayList<>();
      for (long s = 0; s < 200; s++) expected.add(s);
      assertEquals(expected, seqs, "key k" + k + ": all 200 events once, in order, across the restart");
    }
  }

  static long distinct(Queue<String> out) {
    java.util.Set<String> s = new java.util.HashSet<>();
    for (String r : out) if (!r.startsWith("VIOLATION")) s.add(r);
    return s.size();
  }

  static void waitFor(Queue<String> out, long n, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline && distinct(out) < n) Thread.sleep(200);
    assertEquals(n, distinct(out), "events received within " + seconds + " s");
  }
}

package io.sluice.flink.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ControllerClient;
import io.sluice.flink.source.SourceItSupport;
import io.sluice.flink.source.StreamPosition;
import io.sluice.testing.SluiceStandaloneExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Exactly once across a failure, end to end: a job reads keyed, numbered events from one stream,
 * passes them through a map that throws once mid-stream (after a checkpoint completed, so the sink
 * has committed transactions and holds an open one), and writes them with the EXACTLY_ONCE sink,
 * checkpointing every 500 ms. The output stream, read back with the TypeScript reader (`sluice
 * read`), holds every input event exactly once, per key in order, and the committers counted no
 * lost transaction.
 */
class SinkExactlyOnceTest {
  static final InMemoryReporter METRICS = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
      .setConfiguration(METRICS.addToConfiguration(new Configuration()))
      .setNumberTaskManagers(1)
      .setNumberSlotsPerTaskManager(4)
      .build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final AtomicBoolean THROWN = new AtomicBoolean();

  /** Throws once, at the first record after a checkpoint completed and {@code after} records passed; slow until then. */
  static final class ThrowOnce extends RichMapFunction<String, String> implements CheckpointListener {
    private static final long serialVersionUID = 1L;
    private final long after;
    private transient long seen;
    private transient boolean checkpointed;

    ThrowOnce(long after) {
      this.after = after;
    }

    @Override
    public String map(String value) throws Exception {
      seen++;
      if (checkpointed && seen >= after && THROWN.compareAndSet(false, true)) throw new IllegalStateException("planned failure after " + seen + " records");
      if (!THROWN.get()) Thread.sleep(0, 300_000); // several checkpoints complete before the failure
      return value;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
      checkpointed = true;
    }
  }

  @Test
  void aFailureMidStreamLeavesEveryEventInTheOutputExactlyOnceInKeyOrder() throws Exception {
    int keys = 20;
    int perKey = 500;
    String uri = SLUICE.get().controllerUri();
    try (ControllerClient c = ControllerClient.connect(uri, SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "eo", "in", 3);
      c.createStream("eo", "out", 2).get(30, TimeUnit.SECONDS);
    }
    SourceItSupport.writeEvents(uri, "eo", "in", keys, perKey, 0);

    Configuration conf = new Configuration();
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(200));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(2);
    env.enableCheckpointing(500);
    env.fromSource(SourceItSupport.liveSource(uri, "eo/in").setBounded(StreamPosition.tail()).build(), WatermarkStrategy.noWatermarks(), "sluice-in")
        .map(new ThrowOnce(keys * perKey / 4))
        .sinkTo(SluiceSink.<String>builder()
            .setControllerUri(uri)
            .setStream("eo/out")
            .setSerializationSchema(new SimpleStringSchema())
            .setRoutingKey(SourceItSupport::keyOf)
            .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .build());
    JobExecutionResult result = env.execute("exactly-once");
    assertTrue(THROWN.get(), "the planned failure happened");

    List<String> lines = SLUICE.get().cli(120_000, "read", "eo/out");
    Map<String, List<Long>> byKey = SourceItSupport.byKey(lines);
    assertEquals(keys, byKey.size(), "every key is in the output");
    List<Long> expected = new ArrayList<>();
    for (long s = 0; s < perKey; s++) expected.add(s);
    for (int k = 0; k < keys; k++) assertEquals(expected, byKey.get("k" + k), "key k" + k + ": every event once, in order");
    assertEquals((long) keys * perKey, lines.size(), "nothing else in the output");

    assertEquals(0, sum(result, "transactionsLost"), "no transaction lost");
    assertTrue(sum(result, "transactionsCommitted") >= 2, "transactions were committed");
  }

  /** The sum of a counter over every subtask and attempt of the job (the reporter retains those of failed attempts). */
  static long sum(JobExecutionResult result, String name) {
    long total = 0;
    boolean found = false;
    for (Map.Entry<MetricGroup, Map<String, Metric>> group : METRICS.getMetricsByGroup().entrySet()) {
      if (!result.getJobID().toString().equals(group.getKey().getAllVariables().get("<job_id>"))) continue;
      for (Map.Entry<String, Metric> e : group.getValue().entrySet()) {
        if ((e.getKey().equals(name) || e.getKey().endsWith("." + name)) && e.getValue() instanceof Counter c) {
          total += c.getCount();
          found = true;
        }
      }
    }
    assertTrue(found, "the job registered counter " + name);
    return total;
  }
}

package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ControllerClient;
import io.sluice.testing.SluiceStandaloneExtension;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Readers without a split do not hold back watermarks: a one-segment stream read by three source
 * subtasks (two of them never get a split), with event-time timestamps; the operator after them
 * must see its watermark advance. Without idleness its watermark would stay at Long.MIN_VALUE.
 */
class SourceIdleReadersTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();
  static final AtomicLong WATERMARK = new AtomicLong(Long.MIN_VALUE);

  static final class RecordWatermark extends ProcessFunction<String, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public void processElement(String value, Context ctx, Collector<String> out) {
      WATERMARK.accumulateAndGet(ctx.timerService().currentWatermark(), Math::max);
    }
  }

  @Test
  void readersWithoutSplitsLetTheWatermarkAdvance() throws Exception {
    try (ControllerClient c = ControllerClient.connect(SLUICE.get().controllerUri(), SourceItSupport.clientConfig())) {
      SourceItSupport.createStream(c, "it", "idle", 1);
    }
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(3);
    env.getConfig().setAutoWatermarkInterval(50);
    SluiceSource<String> source = SourceItSupport.liveSource(SLUICE.get().controllerUri(), "it/idle")
        .setReadWaitMs(100)
        .build();
    WatermarkStrategy<String> strategy = WatermarkStrategy.<String>forMonotonousTimestamps().withTimestampAssigner((e, ts) -> 1_000 + SourceItSupport.seqOf(e));
    env.fromSource(source, strategy, "sluice").process(new RecordWatermark()).setParallelism(1);
    JobClient job = env.executeAsync("idle-readers");
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      for (long batch = 0; WATERMARK.get() == Long.MIN_VALUE && System.nanoTime() < deadline; batch++) {
        SourceItSupport.writeEvents(SLUICE.get().controllerUri(), "it", "idle", 1, 100, batch * 100);
        Thread.sleep(300);
      }
      assertTrue(WATERMARK.get() > 1_000, "the watermark after the source advanced: " + WATERMARK.get());
    } finally {
      job.cancel().get(30, TimeUnit.SECONDS);
    }
  }
}

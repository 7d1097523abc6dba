package io.sluice.flink.scaling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.apache.flink.api.common.JobID;
import org.junit.jupiter.api.Test;

/**
 * The rescaler's rules without Flink or Sluice: the decision state machine table-driven
 * (hysteresis, cooldown, clamp), then the rescaler against a fake REST server and a fake segment
 * count (409 retried with back-off, clamped to max, samples and rescale events with the pause,
 * start refusing a max above the job's, builder refusals naming the setting).
 */
class SegmentCountRescalerTest {
  /** One poll of the decider: at time t, segments s, expect a request of r (-1: none). */
  record Step(long t, int s, int r) {}

  static void run(RescaleDecider d, Step... steps) {
    for (Step st : steps) {
      int r = d.onPoll(st.t(), st.s());
      assertEquals(st.r(), r, "poll at " + st.t() + " with " + st.s() + " segments");
      if (r > 0) d.requested(st.t(), r);
    }
  }

  @Test
  void hysteresisAsksOnlyAfterStablePollsOfTheSameTarget() {
    // min 1, max 8, 3 stable polls, no cooldown, running at 2.
    run(new RescaleDecider(1, 8, 3, 0, 2),
        new Step(0, 4, -1), new Step(1, 4, -1), new Step(2, 3, -1), // a different target restarts the count
        new Step(3, 3, -1), new Step(4, 3, 3),
        new Step(5, 5, -1), new Step(6, 3, -1), // back to the current one clears it
        new Step(7, 5, -1), new Step(8, 5, -1), new Step(9, 5, 5),
        new Step(10, -1, -1), new Step(11, 5, -1)); // no answer changes nothing
  }

  @Test
  void cooldownHoldsARequestUntilItEnds() {
    run(new RescaleDecider(1, 8, 1, 1_000, 1),
        new Step(0, 2, 2), new Step(100, 4, -1), new Step(999, 4, -1), new Step(1_000, 4, 4), new Step(1_001, 1, -1),
        new Step(2_000, 1, 1));
  }

  @Test
  void targetIsClampedToMinAndMax() {
    RescaleDecider d = new RescaleDecider(2, 4, 1, 0, 2);
    assertEquals(2, d.target(1));
    assertEquals(3, d.target(3));
    assertEquals(4, d.target(9));
    run(d, new Step(0, 1, -1), new Step(1, 9, 4), new Step(2, 12, -1), new Step(3, 1, 2));
  }

  static void await(BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!cond.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, what + " within 20 s");
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }

  static SegmentCountRescalerBuilder builder(FakeFlinkRest rest, int max) {
    return SegmentCountRescaler.builder()
        .setJobId(rest.job)
        .setMinParallelism(1)
        .setMaxParallelism(max)
        .setPollInterval(Duration.ofMillis(50))
        .setStablePolls(2)
        .setCooldown(Duration.ZERO);
  }

  @Test
  void conflictsAreRetriedAndTheRescaleIsRecordedWithItsPause() throws Exception {
    AtomicInteger segments = new AtomicInteger(1);
    List<RescaleEvent> heard = new CopyOnWriteArrayList<>();
    try (FakeFlinkRest fake = new FakeFlinkRest(1, 8);
        SegmentCountRescaler r = builder(fake, 8)
            .setListener(new SegmentCountRescaler.Listener() {
              @Override
              public void onRescale(RescaleEvent e) {
                heard.add(e);
              }
            })
            .build(segments::get, new FlinkRestClient(fake.url(), Duration.ofSeconds(5)))) {
      fake.conflicts.set(2);
      fake.restartMs = 300;
      r.start();
      await(() -> r.samples().size() >= 2, "two samples");
      assertEquals(0, fake.accepted(), "nothing requested while segments equal the parallelism");
      segments.set(3);
      await(() -> heard.size() == 1, "a rescale event");
      assertEquals(1, fake.accepted(), "one request accepted");
      assertEquals(0, fake.conflicts.get(), "both 409 answers were retried");
      String put = fake.puts.get(0);
      assertTrue(put.contains("\"v1\":{\"parallelism\":{\"lowerBound\":1,\"upperBound\":3}}")
          && put.contains("\"v2\":{\"parallelism\":{\"lowerBound\":1,\"upperBound\":3}}"), put);
      RescaleEvent e = heard.get(0);
      assertEquals(1, e.from());
      assertEquals(3, e.to());
      assertTrue(e.segmentsChangedAtMs() <= e.requestedAtMs() && e.requestedAtMs() <= e.runningAtMs(), e.toString());
      assertTrue(e.requestedAtMs() - e.segmentsChangedAtMs() >= 40, "two stable polls 50 ms apart: " + e);
      assertTrue(e.pauseMs() >= 200 && e.pauseMs() <= 2_000, "the fake restarts for 300 ms: " + e);
      assertEquals(List.of(e), r.rescales());
      Sample last = r.samples().get(r.samples().size() - 1);
      assertEquals(3, last.segments());
      assertEquals(3, last.requested());
    }
  }

  @Test
  void requestsStayWithinMaxAndRepeatNothing() throws Exception {
    AtomicInteger segments = new AtomicInteger(10);
    try (FakeFlinkRest fake = new FakeFlinkRest(2, 8);
        SegmentCountRescaler r = builder(fake, 4).build(segments::get, new FlinkRestClient(fake.url(), Duration.ofSeconds(5)))) {
      r.start();
      await(() -> r.rescales().size() == 1, "a rescale to max");
      assertTrue(fake.puts.get(0).contains("\"upperBound\":4"), fake.puts.get(0));
      int polls = r.samples().size();
      await(() -> r.samples().size() >= polls + 4, "four more polls");
      assertEquals(1, fake.accepted(), "no request while the target holds");
      assertTrue(r.samples().stream().allMatch(s -> s.observed() <= 4));
    }
  }

  @Test
  void aRequestFailingEveryRetryIsAskedAgainAtTheNextPoll() throws Exception {
    AtomicInteger segments = new AtomicInteger(2);
    try (FakeFlinkRest fake = new FakeFlinkRest(1, 8);
        SegmentCountRescaler r = builder(fake, 8).build(segments::get, new FlinkRestClient(fake.url(), Duration.ofSeconds(5)))) {
      fake.conflicts.set(SegmentCountRescaler.REQUEST_RETRY_COUNT_MAX + 2);
      r.start();
      await(() -> r.rescales().size() == 1, "the rescale after all conflicts");
      assertEquals(1, fake.accepted());
    }
  }

  @Test
  void startRefusesAMaxAboveTheJobsMaxParallelism() throws Exception {
    try (FakeFlinkRest fake = new FakeFlinkRest(1, 4);
        SegmentCountRescaler r = builder(fake, 8).build(() -> 1, new FlinkRestClient(fake.url(), Duration.ofSeconds(5)))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::start);
      assertTrue(e.getMessage().contains("maxParallelism 8") && e.getMessage().contains("4"), e.getMessage());
    }
  }

  @Test
  void builderRefusalsNameTheSetting() {
    JobID job = new JobID();
    SegmentCountRescalerBuilder ok = SegmentCountRescaler.builder().setControllerUri("tcp://127.0.0.1:1").setStream("s/t")
        .setRestUrl("http://127.0.0.1:1").setJobId(job).setMaxParallelism(4);
    assertRefused("controllerUri", ok.setControllerUri(null));
    ok.setControllerUri("tcp://127.0.0.1:1");
    assertRefused("stream", ok.setStream("nostream"));
    ok.setStream("s/t");
    assertRefused("restUrl", ok.setRestUrl("127.0.0.1:8081"));
    ok.setRestUrl("http://127.0.0.1:1");
    assertRefused("jobId", ok.setJobId(null));
    ok.setJobId(job);
    assertRefused("minParallelism", ok.setMinParallelism(0));
    ok.setMinParallelism(1);
    assertRefused("maxParallelism", ok.setMaxParallelism(-1));
    assertRefused("maxParallelism", ok.setMinParallelism(3).setMaxParallelism(2));
    ok.setMinParallelism(1).setMaxParallelism(4);
    assertRefused("pollInterval", ok.setPollInterval(Duration.ofMillis(1)));
    ok.setPollInterval(Duration.ofSeconds(1));
    assertRefused("stablePolls", ok.setStablePolls(0));
    ok.setStablePolls(2);
    assertRefused("cooldown", ok.setCooldown(Duration.ofMillis(-1)));
  }

  static void assertRefused(String setting, SegmentCountRescalerBuilder b) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build);
    assertTrue(e.getMessage().startsWith(setting), "names " + setting + ": " + e.getMessage());
  }
}

package io.sluice.flink.scaling;

import io.sluice.client.ControllerClient;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.flink.api.common.JobID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a running Flink job's parallelism at clamp(segments, min, max) of one Sluice stream: every
 * poll interval it reads the stream's current segment count (ControllerClient.currentSegments) and
 * the job ({@code GET /jobs/:jobid}), and when the clamped count differs from the parallelism it
 * last set, asks the adaptive scheduler for it ({@code PUT /jobs/:jobid/resource-requirements},
 * every vertex lower bound 1, upper bound the target; see {@link FlinkRestClient}). The rules
 * ({@link RescaleDecider}): hysteresis (the same new target on {@code stablePolls} consecutive
 * polls), a cooldown after each accepted request, never above the job's max parallelism (read from
 * REST at {@link #start()}, which refuses a {@code maxParallelism} above it). A request answered
 * HTTP 409, 5xx or not at all is retried {@link #REQUEST_RETRY_COUNT_MAX} times with doubling
 * back-off from {@link #REQUEST_RETRY_DELAY_MIN}; if all fail, the next poll asks again.
 *
 * <p>Each poll is a {@link Sample}, kept in a ring of the last {@link #SAMPLES_MAX} ({@link
 * #samples()}) and passed to the {@link Listener}. After a request the job is watched every {@link
 * #WATCH_INTERVAL} until every vertex runs at the new parallelism; that is a {@link RescaleEvent}
 * ({@link #rescales()}, the listener). One daemon thread does all of this; the listener runs on it.
 *
 * <p>What the job and cluster need (a MiniCluster or a session cluster):
 *
 * <ul>
 *   <li>{@code jobmanager.scheduler: adaptive}: only the adaptive scheduler serves
 *       resource-requirements and rescales a running job in place (restart from the latest
 *       checkpoint at the new parallelism);
 *   <li>REST enabled and reachable ({@code rest.bind-port}, {@code rest.address});
 *   <li>slots for {@code maxParallelism} (the scheduler never goes above the slots it has);
 *   <li>the job's max parallelism (env.setMaxParallelism, the key-group count) &gt;= maxParallelism;
 *   <li>checkpointing ({@code execution.checkpointing.interval}): since Flink 2.0 (FLIP-461) the
 *       adaptive scheduler rescales a running job right after its next completed checkpoint, or
 *       after {@code jobmanager.adaptive-scheduler.rescale-trigger.max-delay} without one; a short
 *       interval (1 s) makes rescaling prompt and keeps the replay short;
 *   <li>{@code jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling} (default 30 s): the
 *       scheduler ignores changes for this long after a rescale; set it at or below this rescaler's
 *       cooldown, else requests wait in the scheduler;
 *   <li>{@code jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout} (default 60
 *       s): how long the scheduler waits for the desired slots before rescaling with fewer; with
 *       enough slots it does not wait, a few seconds bound the case without;
 *   <li>{@code web.refresh-interval} (default 3 s): the REST endpoint caches job details this long,
 *       so the observed parallelism, the running time and the pause of a {@link RescaleEvent} are
 *       only as fine as it; 50-100 ms makes them exact to the watch interval.
 * </ul>
 *
 * <pre>{@code
 * try (SegmentCountRescaler r = SegmentCountRescaler.builder()
 *     .setControllerUri("tcp://127.0.0.1:9090").setStream("scope/stream")
 *     .setRestUrl("http://127.0.0.1:8081").setJobId(jobId)
 *     .setMinParallelism(1).setMaxParallelism(8)
 *     .setPollInterval(Duration.ofSeconds(1)).setStablePolls(2).setCooldown(Duration.ofSeconds(5))
 *     .build()) {
 *   r.start();
 *   ...
 * }
 * }</pre>
 */
public final class SegmentCountRescaler implements AutoCloseable {
  /** Samples kept by {@link #samples()} (the oldest go first). */
  public static final int SAMPLES_MAX = 100_000;
  /** Rescale events kept by {@link #rescales()}. */
  public static final int RESCALES_MAX = 10_000;
  /** Retries of one resource-requirements request after a retriable failure. */
  public static final int REQUEST_RETRY_COUNT_MAX = 5;
  /** The first back-off between retries; it doubles up to {@link #REQUEST_RETRY_DELAY_MAX}. */
  public static final Duration REQUEST_RETRY_DELAY_MIN = Duration.ofMillis(100);
  /** The largest back-off between retries. */
  public static final Duration REQUEST_RETRY_DELAY_MAX = Duration.ofSeconds(2);
  /** How often the job is looked at while a rescale is under way. */
  public static final Duration WATCH_INTERVAL = Duration.ofMillis(50);
  /** How long {@link #start()} tries to read the job before it fails. */
  public static final Duration START_TIMEOUT = Duration.ofSeconds(30);
  /** How long {@link #close()} waits for the polling thread. */
  public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

  private static final Logger LOG = LoggerFactory.getLogger(SegmentCountRescaler.class);

  /** Told of every sample and rescale, on the rescaler's thread; must return quickly and not throw. */
  public interface Listener {
    /** One poll. */
    default void onSample(Sample sample) {}

    /** One completed rescale. */
    default void onRescale(RescaleEvent event) {}
  }

  private final SegmentCounter counter;
  private final FlinkRestClient rest;
  private final JobID job;
  private final int minParallelism;
  private final int maxParallelism;
  private final long pollMs;
  private final int stablePolls;
  private final long cooldownMs;
  private final Listener listener;
  private final LongSupplier clock;
  private final ControllerClient owned;

  private final ArrayDeque<Sample> samples = new ArrayDeque<>();
  private final ArrayDeque<RescaleEvent> rescales = new ArrayDeque<>();
  private final CountDownLatch closed = new CountDownLatch(1);
  private Thread thread;
  private RescaleDecider decider;
  private RescaleWatch pending;

  SegmentCountRescaler(SegmentCounter counter, FlinkRestClient rest, JobID job, int minParallelism, int maxParallelism,
      Duration pollInterval, int stablePolls, Duration cooldown, Listener listener, LongSupplier clock, ControllerClient owned) {
    this.counter = counter;
    this.rest = rest;
    this.job = job;
    this.minParallelism = minParallelism;
    this.maxParallelism = maxParallelism;
    this.pollMs = pollInterval.toMillis();
    this.stablePolls = stablePolls;
    this.cooldownMs = cooldown.toMillis();
    this.listener = listener != null ? listener : new Listener() {};
    this.clock = clock;
    this.owned = owned;
  }

  /** A builder; {@link SegmentCountRescalerBuilder#build()} checks every setting. */
  public static SegmentCountRescalerBuilder builder() {
    return new SegmentCountRescalerBuilder();
  }

  /**
   * Reads the job (retrying for up to {@link #START_TIMEOUT}), checks maxParallelism against the
   * job's, takes the job's current parallelism as the one requested, and starts polling.
   *
   * @throws IllegalArgumentException maxParallelism is above the job's max parallelism
   * @throws FlinkRestClient.RestFailure the job could not be read in time
   */
  public synchronized void start() {
    if (thread != null) throw new IllegalStateException("already started");
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    FlinkRestClient.JobView view;
    while (true) {
      try {
        view = rest.job(job);
        if (view.parallelism() > 0) break;
      } catch (FlinkRestClient.RestFailure e) {
        if (!e.retriable() || System.nanoTime() > deadline) throw e;
      }
      if (System.nanoTime() > deadline) throw new FlinkRestClient.RestFailure(0, "job " + job + " shows no vertices", null);
      if (awaitClosed(WATCH_INTERVAL.toMillis() * 4)) throw new IllegalStateException("closed");
    }
    int jobMax = view.maxParallelism();
    if (maxParallelism > jobMax) {
      throw new IllegalArgumentException("maxParallelism " + maxParallelism + " is above the job's max parallelism " + jobMax
          + " (set it at submission with env.setMaxParallelism)");
    }
    decider = new RescaleDecider(minParallelism, maxParallelism, stablePolls, cooldownMs, view.parallelism());
    thread = new Thread(this::run, "sluice-rescaler-" + job);
    thread.setDaemon(true);
    thread.start();
  }

  /** The last {@link #SAMPLES_MAX} samples, oldest first. */
  public List<Sample> samples() {
    synchronized (samples) {
      return new ArrayList<>(samples);
    }
  }

  /** The completed rescales, oldest first. */
  public List<RescaleEvent> rescales() {
    synchronized (rescales) {
      return new ArrayList<>(rescales);
    }
  }

  /** Stops polling (waits up to {@link #CLOSE_TIMEOUT} for the thread) and closes the controller client it opened. */
  @Override
  public void close() {
    closed.countDown();
    Thread t;
    synchronized (this) {
      t = thread;
    }
    try {
      if (t != null && t != Thread.currentThread()) {
        t.join(CLOSE_TIMEOUT.toMillis());
        if (t.isAlive()) LOG.warn("rescaler thread still running {} ms after close", CLOSE_TIMEOUT.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (owned != null) owned.close();
    }
  }

  private boolean awaitClosed(long ms) {
    try {
      return closed.await(Math.max(0, ms), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return true;
    }
  }

  private void run() {
    long nextPollMs = clock.getAsLong();
    while (closed.getCount() > 0) {
      long now = clock.getAsLong();
      try {
        if (now >= nextPollMs) {
          nextPollMs = now + pollMs;
          poll(now);
        }
        if (pending != null) watch(clock.getAsLong());
      } catch (RuntimeException e) {
        // One failed tick (an unexpected answer, a listener that threw) must not end the rescaling.
        LOG.warn("rescaler poll failed", e);
      }
      long wait = nextPollMs - clock.getAsLong();
      if (pending != null) wait = Math.min(wait, WATCH_INTERVAL.toMillis());
      if (awaitClosed(wait)) return;
    }
  }

  private void poll(long now) {
    int segments;
    try {
      segments = counter.segments();
    } catch (Exception e) {
      LOG.warn("segment count unavailable: {}", e.toString());
      segments = -1;
    }
    FlinkRestClient.JobView view = jobOrNull();
    int target = decider.onPoll(now, segments);
    if (target > 0) {
      long changedAt = decider.candidateSinceMs();
      int from = decider.current();
      if (request(target)) {
        long at = clock.getAsLong();
        decider.requested(at, target);
        pending = new RescaleWatch(from, target, changedAt, at);
      }
    }
    Sample s = new Sample(now, segments, decider.current(), view != null ? view.parallelism() : -1, view != null && view.running());
    synchronized (samples) {
      if (samples.size() == SAMPLES_MAX) samples.removeFirst();
      samples.addLast(s);
    }
    listener.onSample(s);
  }

  /** Asks for {@code target}, retrying retriable failures with back-off; false when all attempts failed. */
  private boolean request(int target) {
    long delayMs = REQUEST_RETRY_DELAY_MIN.toMillis();
    for (int attempt = 0; ; attempt++) {
      try {
        rest.setParallelism(job, target);
        return true;
      } catch (FlinkRestClient.RestFailure e) {
        if (!e.retriable() || attempt >= REQUEST_RETRY_COUNT_MAX) {
          LOG.warn("request for parallelism {} failed after {} attempts: {}", target, attempt + 1, e.getMessage());
          return false;
        }
        if (awaitClosed(delayMs)) return false;
        delayMs = Math.min(delayMs * 2, REQUEST_RETRY_DELAY_MAX.toMillis());
      }
    }
  }

  private void watch(long now) {
    RescaleEvent e = pending.observe(now, jobOrNull());
    if (e == null) return;
    pending = null;
    synchronized (rescales) {
      if (rescales.size() == RESCALES_MAX) rescales.removeFirst();
      rescales.addLast(e);
    }
    listener.onRescale(e);
  }

  private FlinkRestClient.JobView jobOrNull() {
    try {
      return rest.job(job);
    } catch (FlinkRestClient.RestFailure e) {
      LOG.warn("job {} unavailable: {}", job, e.getMessage());
      return null;
    }
  }
}

package io.sluice.flink.scaling;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobID;

/**
 * Builds a {@link SegmentCountRescaler}; {@link #build()} checks every setting and refuses a
 * missing or out-of-range one with an IllegalArgumentException naming it.
 */
public final class SegmentCountRescalerBuilder {
  /** The shortest poll interval (each poll is two remote calls). */
  public static final Duration POLL_INTERVAL_MIN = Duration.ofMillis(50);
  /** The largest stablePolls. */
  public static final int STABLE_POLLS_MAX = 1_000;
  /** The deadline of each REST call. */
  public static final Duration REST_TIMEOUT = Duration.ofSeconds(10);

  private String controllerUri;
  private String stream;
  private String restUrl;
  private JobID jobId;
  private int minParallelism = 1;
  private int maxParallelism = -1;
  private Duration pollInterval = Duration.ofSeconds(1);
  private int stablePolls = 2;
  private Duration cooldown = Duration.ofSeconds(5);
  private ClientConfig clientConfig = ClientConfig.defaults();
  private SegmentCountRescaler.Listener listener;

  SegmentCountRescalerBuilder() {}

  /** The Sluice controller, {@code tcp://host:port} (required). */
  public SegmentCountRescalerBuilder setControllerUri(String uri) {
    this.controllerUri = uri;
    return this;
  }

  /** The stream whose segment count drives the parallelism, {@code scope/stream} (required). */
  public SegmentCountRescalerBuilder setStream(String stream) {
    this.stream = stream;
    return this;
  }

  /** Flink's REST endpoint, {@code http://host:port} (required). */
  public SegmentCountRescalerBuilder setRestUrl(String restUrl) {
    this.restUrl = restUrl;
    return this;
  }

  /** The running job to rescale (required). */
  public SegmentCountRescalerBuilder setJobId(JobID jobId) {
    this.jobId = jobId;
    return this;
  }

  /** The lowest parallelism requested (default 1). */
  public SegmentCountRescalerBuilder setMinParallelism(int min) {
    this.minParallelism = min;
    return this;
  }

  /** The highest parallelism requested (required); at most the job's max parallelism. */
  public SegmentCountRescalerBuilder setMaxParallelism(int max) {
    this.maxParallelism = max;
    return this;
  }

  /** How often the segment count is read (default 1 s, at least {@link #POLL_INTERVAL_MIN}). */
  public SegmentCountRescalerBuilder setPollInterval(Duration interval) {
    this.pollInterval = interval;
    return this;
  }

  /** Consecutive polls with the same new target before it is requested (default 2). */
  public SegmentCountRescalerBuilder setStablePolls(int polls) {
    this.stablePolls = polls;
    return this;
  }

  /** No request within this long after the last one (default 5 s). */
  public SegmentCountRescalerBuilder setCooldown(Duration cooldown) {
    this.cooldown = cooldown;
    return this;
  }

  /** The Java client's settings for the controller calls (default {@link ClientConfig#defaults()}). */
  public SegmentCountRescalerBuilder setClientConfig(ClientConfig config) {
    this.clientConfig = config;
    return this;
  }

  /** Told of every sample and rescale (optional). */
  public SegmentCountRescalerBuilder setListener(SegmentCountRescaler.Listener listener) {
    this.listener = listener;
    return this;
  }

  /** Checks the settings and builds the rescaler (it connects to the controller; nothing is polled before start()). */
  public SegmentCountRescaler build() {
    if (controllerUri == null || controllerUri.isBlank()) throw new IllegalArgumentException("controllerUri is required");
    String[] parts = stream == null ? new String[0] : stream.split("/", -1);
    if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
      throw new IllegalArgumentException("stream must be scope/stream, got " + stream);
    }
    if (restUrl == null || !(restUrl.startsWith("http://") || restUrl.startsWith("https://"))) {
      throw new IllegalArgumentException("restUrl must be http(s)://host:port, got " + restUrl);
    }
    if (clientConfig == null) throw new IllegalArgumentException("clientConfig is null");
    checkCommon();
    ControllerClient controller = ControllerClient.connect(controllerUri, clientConfig);
    long timeoutMs = clientConfig.controllerCallTimeoutMs();
    String scope = parts[0];
    String name = parts[1];
    SegmentCounter counter = () -> controller.currentSegments(scope, name).get(timeoutMs, TimeUnit.MILLISECONDS).size();
    return new SegmentCountRescaler(counter, new FlinkRestClient(restUrl, REST_TIMEOUT), jobId, minParallelism, maxParallelism,
        pollInterval, stablePolls, cooldown, listener, System::currentTimeMillis, controller);
  }

  /** Builds with a given segment source and REST client (tests of the rules, no Sluice). */
  SegmentCountRescaler build(SegmentCounter counter, FlinkRestClient rest) {
    checkCommon();
    return new SegmentCountRescaler(counter, rest, jobId, minParallelism, maxParallelism, pollInterval, stablePolls, cooldown,
        listener, System::currentTimeMillis, null);
  }

  private void checkCommon() {
    if (jobId == null) throw new IllegalArgumentException("jobId is required");
    if (minParallelism < 1) throw new IllegalArgumentException("minParallelism " + minParallelism + " must be >= 1");
    if (maxParallelism < 0) throw new IllegalArgumentException("maxParallelism is required");
    if (maxParallelism < minParallelism) {
      throw new IllegalArgumentException("maxParallelism " + maxParallelism + " must be >= minParallelism " + minParallelism);
    }
    if (pollInterval == null || pollInterval.compareTo(POLL_INTERVAL_MIN) < 0) {
      throw new IllegalArgumentException("pollInterval " + pollInterval + " must be >= " + POLL_INTERVAL_MIN);
    }
    if (stablePolls < 1 || stablePolls > STABLE_POLLS_MAX) {
      throw new IllegalArgumentException("stablePolls " + stablePolls + " must be in [1, " + STABLE_POLLS_MAX + "]");
    }
    if (cooldown == null || cooldown.isNegative()) throw new IllegalArgumentException("cooldown " + cooldown + " must be >= 0");
  }
}

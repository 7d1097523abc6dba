package io.sluice.demo;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.flink.scaling.AdaptiveMiniCluster;
import io.sluice.flink.scaling.FlinkRestClient;
import io.sluice.flink.scaling.RescaleEvent;
import io.sluice.flink.scaling.Sample;
import io.sluice.flink.scaling.SegmentCountRescaler;
import io.sluice.flink.sink.SluiceSink;
import io.sluice.flink.source.SluiceSource;
import io.sluice.flink.source.StreamPosition;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The end-to-end auto-scaling demo: a keyed exactly-once job whose parallelism follows its input
 * stream's segment count. It starts a MiniCluster in this JVM ({@link AdaptiveMiniCluster}: adaptive
 * scheduler, REST on a free 127.0.0.1 port, slots = max parallelism), submits SluiceSource(input,
 * from the head, unbounded, events UTF-8 {@code KEY:SEQ}) -> keyBy(key) -> {@link KeyAudit} ->
 * SluiceSink EXACTLY_ONCE into output (routing key = the key), at clamp(current segments) with max
 * parallelism max(128, --max-parallelism), and runs a {@link SegmentCountRescaler} on it.
 *
 * <p>Arguments, all {@code --name value}: {@code --controller URI --input scope/stream --output
 * scope/stream --min-parallelism N (1) --max-parallelism N (4) --poll-ms N (1000) --stable-polls N
 * (2) --cooldown-ms N (5000) --checkpoint-ms N (1000)}. Stdout has one JSON object per line and
 * nothing else: {@code started}, a {@code sample} per poll, a {@code rescale} per completed rescale,
 * then {@code audit} and {@code stopped} after the stop. It stops when stdin reaches EOF or on
 * SIGTERM: stop-with-savepoint with drain (the sink commits everything), audit, stopped, exit 0.
 * Logs (slf4j-simple at warn) go to stderr. Exit 1 on failure, the reason on stderr.
 */
public final class ScalingDemoJob {
  /** The longest stop-with-savepoint and job end wait. */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(120);
  /** The longest wait for the submitted job to run. */
  static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  /** The job's max parallelism (key groups) at least this. */
  static final int KEY_GROUPS_MIN = 128;

  private ScalingDemoJob() {}

  /** The parsed arguments. */
  record Args(String controller, String input, String output, int min, int max, long pollMs, int stablePolls, long cooldownMs,
      long checkpointMs) {
    static Args parse(String[] argv) {
      Map<String, String> m = new HashMap<>();
      for (int i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || i + 1 >= argv.length) throw new IllegalArgumentException("expected --name value at " + argv[i]);
        m.put(argv[i].substring(2), argv[i + 1]);
      }
      for (String k : m.keySet()) {
        if (!java.util.Set.of("controller", "input", "output", "min-parallelism", "max-parallelism", "poll-ms", "stable-polls",
            "cooldown-ms", "checkpoint-ms").contains(k)) {
          throw new IllegalArgumentException("unknown option --" + k);
        }
      }
      for (String k : new String[] {"controller", "input", "output"}) {
        if (!m.containsKey(k)) throw new IllegalArgumentException("--" + k + " is required");
      }
      Args a = new Args(m.get("controller"), m.get("input"), m.get("output"), intOf(m, "min-parallelism", 1, 1, 1024),
          intOf(m, "max-parallelism", 4, 1, 1024), intOf(m, "poll-ms", 1000, 50, 3_600_000), intOf(m, "stable-polls", 2, 1, 1000),
          intOf(m, "cooldown-ms", 5000, 0, 3_600_000), intOf(m, "checkpoint-ms", 1000, 100, 3_600_000));
      if (a.max < a.min) throw new IllegalArgumentException("--max-parallelism " + a.max + " must be >= --min-parallelism " + a.min);
      return a;
    }

    private static int intOf(Map<String, String> m, String k, int dflt, int lo, int hi) {
      String v = m.get(k);
      if (v == null) return dflt;
      int n;
      try {
        n = Integer.parseInt(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--" + k + " " + v + " is not an integer");
      }
      if (n < lo || n > hi) throw new IllegalArgumentException("--" + k + " " + n + " must be in [" + lo + ", " + hi + "]");
      return n;
    }
  }

  /** Runs until stdin's EOF or SIGTERM; exit 0 after a clean stop, 1 on failure. */
  public static void main(String[] argv) {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    // Stdout carries the JSON lines only: anything else printing to System.out goes to stderr.
    PrintStream json = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    System.setOut(System.err);
    CompletableFuture<Void> stop = new CompletableFuture<>();
    CountDownLatch finished = new CountDownLatch(1);
    int[] code = {1};
    Thread hook = new Thread(() -> {
      stop.complete(null);
      try {
        if (!finished.await(STOP_TIMEOUT.toMillis() + 30_000, TimeUnit.MILLISECONDS)) System.err.println("stop ran past its deadline");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      json.flush();
      System.err.flush();
      Runtime.getRuntime().halt(code[0]); // SIGTERM ends with the demo's own status, not 143
    }, "scaling-demo-sigterm");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      code[0] = run(argv, System.in, json, stop);
    } catch (Throwable e) {
      System.err.println("scaling demo failed: " + e);
      e.printStackTrace(System.err);
      code[0] = 1;
    } finally {
      finished.countDown();
    }
    json.flush();
    Runtime.getRuntime().halt(code[0]);
  }

  /**
   * The demo: prints its JSON lines to {@code out}, stops when {@code stdin} ends or {@code stop}
   * completes. Returns the exit status (1 when the job ended by itself: it is unbounded).
   */
  public static int run(String[] argv, InputStream stdin, PrintStream out, CompletableFuture<Void> stop) throws Exception {
    Args a = Args.parse(argv);
    Thread eof = new Thread(() -> {
      byte[] buf = new byte[1024];
      try {
        while (stdin.read(buf) >= 0) {
          // Input carries nothing; only its end matters.
        }
      } catch (java.io.IOException e) {
        System.err.println("stdin failed, stopping: " + e);
      }
      stop.complete(null);
    }, "scaling-demo-stdin");
    eof.setDaemon(true);
    eof.start();

    String[] in = a.input().split("/", 2);
    int initial;
    try (ControllerClient c = ControllerClient.connect(a.controller(), ClientConfig.defaults())) {
      int segments = c.currentSegments(in[0], in[1]).get(30, TimeUnit.SECONDS).size();
      initial = Math.max(a.min(), Math.min(a.max(), segments));
    }
    Path savepoints = Files.createTempDirectory("scaling-demo-savepoints-");
    try (AdaptiveMiniCluster cluster = AdaptiveMiniCluster.start(a.max(), Duration.ofMillis(Math.max(1000, 3 * a.checkpointMs())));
        FlinkRestClient rest = new FlinkRestClient(cluster.restUrl(), Duration.ofSeconds(10))) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(initial);
      env.setMaxParallelism(Math.max(KEY_GROUPS_MIN, a.max()));
      env.enableCheckpointing(a.checkpointMs());
      SluiceSource<String> source = SluiceSource.<String>builder()
          .setControllerUri(a.controller())
          .setStreams(a.input())
          .setStartingPosition(StreamPosition.head())
          .setValueOnlyDeserializer(new SimpleStringSchema())
          .setReadWaitMs(200)
          .build();
      env.fromSource(source, WatermarkStrategy.noWatermarks(), "sluice-input")
          .keyBy(KeyAudit::keyOf)
          .process(new KeyAudit())
          .name("key-audit")
          .sinkTo(SluiceSink.<String>builder()
              .setControllerUri(a.controller())
              .setStream(a.output())
              .setSerializationSchema(new SimpleStringSchema())
              .setRoutingKey(KeyAudit::keyOf)
              .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
              .build());
      JobID job = cluster.submit(env);
      CompletableFuture<JobResult> ended = cluster.resultFuture(job);
      awaitRunning(rest, job, ended);
      out.println("{\"type\":\"started\",\"timeMs\":" + System.currentTimeMillis() + ",\"jobId\":\"" + job + "\",\"restUrl\":\""
          + cluster.restUrl() + "\",\"parallelism\":" + initial + "}");
      try (SegmentCountRescaler rescaler = SegmentCountRescaler.builder()
          .setControllerUri(a.controller())
          .setStream(a.input())
          .setRestUrl(cluster.restUrl())
          .setJobId(job)
          .setMinParallelism(a.min())
          .setMaxParallelism(a.max())
          .setPollInterval(Duration.ofMillis(a.pollMs()))
          .setStablePolls(a.stablePolls())
          .setCooldown(Duration.ofMillis(a.cooldownMs()))
          .setListener(new JsonLines(out))
          .build()) {
        rescaler.start();
        CompletableFuture.anyOf(stop, ended).join(); // runs until told to stop; the job ending by itself is the other way out
      }
      if (ended.isDone()) {
        System.err.println("the job ended by itself: " + ended.join().getSerializedThrowable().map(Object::toString).orElse("no failure"));
        return 1;
      }
      stopWithDrain(cluster, job, savepoints, ended);
      JobResult result = ended.get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      if (!result.isSuccess()) {
        System.err.println("the job failed: " + result.getSerializedThrowable().map(Object::toString).orElse("?"));
        return 1;
      }
      out.println("{\"type\":\"audit\",\"keys\":" + AdaptiveMiniCluster.longAccumulator(result, KeyAudit.KEYS)
          + ",\"outOfOrder\":" + AdaptiveMiniCluster.longAccumulator(result, KeyAudit.OUT_OF_ORDER)
          + ",\"duplicates\":" + AdaptiveMiniCluster.longAccumulator(result, KeyAudit.DUPLICATES)
          + ",\"gaps\":" + AdaptiveMiniCluster.longAccumulator(result, KeyAudit.GAPS) + "}");
      out.println("{\"type\":\"stopped\",\"timeMs\":" + System.currentTimeMillis() + "}");
      out.flush();
      return 0;
    } finally {
      deleteTree(savepoints);
    }
  }

  /**
   * Stop-with-savepoint with drain, tried again while it fails and the job has not ended (a job in the
   * middle of a rescale refuses a savepoint), until {@link #STOP_TIMEOUT}.
   */
  private static void stopWithDrain(AdaptiveMiniCluster cluster, JobID job, Path dir, CompletableFuture<JobResult> ended) throws Exception {
    long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
    while (true) {
      try {
        cluster.stopWithDrain(job, dir, STOP_TIMEOUT);
        return;
      } catch (java.util.concurrent.ExecutionException e) {
        if (ended.isDone() || System.nanoTime() > deadline) throw e;
        System.err.println("stop-with-savepoint failed, trying again: " + e.getCause());
      }
      try {
        ended.get(200, TimeUnit.MILLISECONDS);
        return;
      } catch (TimeoutException e) {
        // Not ended: try the stop again.
      }
    }
  }

  private static void awaitRunning(FlinkRestClient rest, JobID job, CompletableFuture<JobResult> ended) throws Exception {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (true) {
      if (ended.isDone()) throw new IllegalStateException("the job ended while starting: " + ended.join().getSerializedThrowable());
      try {
        if (rest.job(job).running()) return;
      } catch (FlinkRestClient.RestFailure e) {
        if (!e.retriable() && e.status() != 404) throw e;
      }
      if (System.nanoTime() > deadline) throw new TimeoutException("the job did not run within " + START_TIMEOUT);
      try {
        ended.get(50, TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        // Still running or starting: look again.
      }
    }
  }

  private static void deleteTree(Path dir) throws java.io.IOException {
    if (!Files.exists(dir)) return;
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }

  /** Prints samples and rescales as JSON lines. */
  private record JsonLines(PrintStream out) implements SegmentCountRescaler.Listener {
    @Override
    public void onSample(Sample s) {
      out.println("{\"type\":\"sample\",\"timeMs\":" + s.timeMs() + ",\"segments\":" + s.segments() + ",\"requested\":" + s.requested()
          + ",\"observed\":" + s.observed() + ",\"running\":" + s.running() + "}");
    }

    @Override
    public void onRescale(RescaleEvent e) {
      out.println("{\"type\":\"rescale\",\"timeMs\":" + e.runningAtMs() + ",\"from\":" + e.from() + ",\"to\":" + e.to()
          + ",\"segmentsChangedAtMs\":" + e.segmentsChangedAtMs() + ",\"requestedAtMs\":" + e.requestedAtMs() + ",\"runningAtMs\":"
          + e.runningAtMs() + ",\"pauseMs\":" + e.pauseMs() + "}");
    }
  }
}

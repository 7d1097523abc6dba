package io.sluice.flink.sql;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * Runs a script's statements one at a time, in order, on an {@link EmbeddedCluster}.
 *
 * <p>{@code SET 'key' = 'value'} (or {@code SET key = value}) collects configuration; the cluster and
 * the table environment start at the first other statement with what was collected, so
 * {@code execution.runtime-mode} is fixed then: a later SET to another mode fails the statement
 * (setting the same mode again is accepted). Later SETs of other keys go to the table config.
 * {@code INSERT}/{@code EXECUTE} statements wait for their job to end, writing a progress line
 * (elapsed, job status, the sink vertices' I/O counters) every {@code progressInterval}; queries
 * print their rows ({@link ResultPrinter}); other statements print their content or OK.
 *
 * <p>{@link #interrupt()} (the launcher's Ctrl-C) ends the running job: the first call stops a
 * streaming job with a savepoint and drain (event-time windows fire, transactional sinks commit;
 * the script then ends, {@link Outcome#STOPPED}), a batch job or a second call cancels it
 * ({@link Outcome#CANCELLED}). A call between jobs ends the script before its next statement.
 */
final class SqlRunner implements AutoCloseable {
  /** How long, once the job has ended, the stop-with-savepoint's answer is waited for. */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
  /** Longest time between two metric fetches of the REST endpoint (progress counters lag by it). */
  static final Duration METRIC_FETCH_INTERVAL_MAX = Duration.ofSeconds(1);

  /** How a statement ended when it did not fail. */
  enum Outcome {
    /** Done; run the next statement. */
    DONE,
    /** Interrupted, the job stopped with a savepoint and drained: end the script, successfully. */
    STOPPED,
    /** Interrupted, the job (or the script) was cancelled: end the script. */
    CANCELLED
  }

  private static final String RUNTIME_MODE = ExecutionOptions.RUNTIME_MODE.key();
  private static final Pattern SET = Pattern.compile(
      "(?is)^SET\\s+('(?:[^']|'')*'|[^\\s=']+)\\s*=\\s*('(?:[^']|'')*'|[^']*?)\\s*$");
  private static final Pattern SET_ALONE = Pattern.compile("(?i)^SET$");

  private final PrintStream out;
  private final PrintStream err;
  private final ResultPrinter printer;
  private final Duration progressInterval;
  private final Map<String, String> pending = new LinkedHashMap<>();

  private EmbeddedCluster cluster;
  private StreamTableEnvironment tableEnv;
  private volatile JobProgress progress;
  private RuntimeExecutionMode mode;
  private int modeFixedAtLine;

  private final Object lock = new Object();
  private JobClient running;
  private int interrupts;
  /** A statement is running (planned, submitted, or its job awaited). */
  private boolean executing;
  private boolean cancelRequested;
  private boolean stopFailureReported;
  private CompletableFuture<String> stopping;
  private Path savepointDir;

  SqlRunner(PrintStream out, PrintStream err, Duration progressInterval) {
    this.out = out;
    this.err = err;
    this.printer = new ResultPrinter(out);
    this.progressInterval = progressInterval;
  }

  /**
   * Sets {@code key} to {@code value} as a SET statement does (and {@code --set} before the script).
   *
   * @throws IllegalArgumentException if the value is refused (the message says why)
   */
  void set(String key, String value) {
    if (key.equals(RUNTIME_MODE)) {
      RuntimeExecutionMode wanted = parseMode(value);
      if (tableEnv != null && wanted != mode) {
        throw new IllegalArgumentException("'" + RUNTIME_MODE + "' is " + name(mode)
            + ", fixed when the statement at line " + modeFixedAtLine + " started the table "
            + "environment; SET it before that statement (or pass --set " + RUNTIME_MODE + "="
            + name(wanted) + ")");
      }
      value = name(wanted);
    }
    if (tableEnv == null) {
      pending.put(key, value);
      return;
    }
    if (key.equals(CoreOptions.DEFAULT_PARALLELISM.key())) {
      int parallelism;
      try {
        parallelism = Integer.parseInt(value.strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + key + "' must be a whole number, got '" + value + "'");
      }
      if (parallelism > cluster.slots()) {
        throw new IllegalArgumentException("'" + key + "' = " + parallelism + " exceeds the "
            + cluster.slots() + " task slots of the embedded cluster; SET it before the first "
            + "statement that uses Flink (or pass --set " + key + "=" + parallelism + ")");
      }
    }
    tableEnv.getConfig().set(key, value);
  }

  /** Runs {@code st}; returns when it is done (for a job: when the job has ended). */
  Outcome execute(SqlStatement st) throws StatementFailure {
    synchronized (lock) {
      if (interrupts > 0) {
        return Outcome.CANCELLED;
      }
      executing = true;
    }
    try {
      return executeNow(st);
    } finally {
      synchronized (lock) {
        executing = false;
      }
    }
  }

  private Outcome executeNow(SqlStatement st) throws StatementFailure {
    if (st.keyword().equals("SET")) {
      runSet(st);
      return Outcome.DONE;
    }
    start(st);
    TableResult result;
    try {
      result = tableEnv.executeSql(st.text());
    } catch (Exception e) {
      throw new StatementFailure(st, null, e);
    }
    Optional<JobClient> job = result.getJobClient();
    String keyword = st.keyword();
    if (job.isPresent() && (keyword.equals("INSERT") || keyword.equals("EXECUTE"))) {
      return awaitJob(st, job.get());
    }
    if (job.isPresent()) {
      return printQuery(st, result, job.get());
    }
    try {
      switch (result.getResultKind()) {
        case SUCCESS -> err.println("line " + st.line() + ": OK  " + st.excerpt());
        default -> {
          if (keyword.equals("EXPLAIN")) {
            printer.printPlain(result);
          } else {
            printer.printRows(result, false);
          }
        }
      }
    } catch (RuntimeException e) {
      throw new StatementFailure(st, "printing the result failed", e);
    }
    return Outcome.DONE;
  }

  /** The latest progress line's content (null before the first). */
  JobProgress.Snapshot lastProgress() {
    JobProgress p = progress;
    return p == null ? null : p.last();
  }

  /**
   * The launcher's Ctrl-C: see the class comment. Safe from any thread. One that comes while a
   * statement is being planned or submitted is acted on as soon as its job is running.
   */
  void interrupt() {
    synchronized (lock) {
      interrupts++;
      if (running == null) {
        err.println(executing ? "interrupted while the statement starts: its job is stopped as soon as it runs"
            : "interrupted: the script ends before its next statement");
        return;
      }
      stopOrCancel();
    }
  }

  /** The first Ctrl-C stops a streaming job with a savepoint and drain; a later one, or a batch job, cancels. Lock held. */
  private void stopOrCancel() {
    if (interrupts == 1 && mode == RuntimeExecutionMode.STREAMING) {
      try {
        savepointDir = Files.createTempDirectory("sluice-flink-savepoint-");
        err.println("stopping job " + running.getJobID() + " with a savepoint and drain (windows "
            + "fire, sinks commit); Ctrl-C again cancels it");
        stopping = running.stopWithSavepoint(true, savepointDir.toUri().toString(),
            SavepointFormatType.CANONICAL);
        return;
      } catch (IOException e) {
        err.println("no directory for the savepoint (" + e.getMessage() + "): cancelling instead");
      }
    }
    err.println("cancelling job " + running.getJobID());
    cancelRequested = true;
    running.cancel();
  }

  /** Stops the embedded cluster (waits at most {@link EmbeddedCluster#CLOSE_TIMEOUT}). */
  @Override
  public void close() throws ExecutionException, TimeoutException {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void runSet(SqlStatement st) throws StatementFailure {
    if (SET_ALONE.matcher(st.text()).matches()) {
      Map<String, String> all = tableEnv != null ? tableEnv.getConfig().toMap() : pending;
      all.forEach((k, v) -> out.println("'" + k + "' = '" + v + "'"));
      return;
    }
    Matcher m = SET.matcher(st.text());
    if (!m.matches()) {
      throw new StatementFailure(st, "malformed SET: expected SET 'key' = 'value'", null);
    }
    try {
      set(unquote(m.group(1)), unquote(m.group(2)));
    } catch (IllegalArgumentException e) {
      throw new StatementFailure(st, e.getMessage(), null);
    }
    err.println("line " + st.line() + ": OK  " + st.excerpt());
  }

  private void start(SqlStatement st) throws StatementFailure {
    if (tableEnv != null) {
      return;
    }
    Configuration conf = Configuration.fromMap(pending);
    mode = conf.get(ExecutionOptions.RUNTIME_MODE);
    modeFixedAtLine = st.line();
    try {
      cluster = EmbeddedCluster.start(conf,
          progressInterval.compareTo(METRIC_FETCH_INTERVAL_MAX) < 0 ? progressInterval
              : METRIC_FETCH_INTERVAL_MAX);
      EnvironmentSettings settings = EnvironmentSettings.newInstance().withConfiguration(conf).build();
      tableEnv = StreamTableEnvironment.create(cluster.environment(conf), settings);
      progress = new JobProgress(new SinkMetrics(cluster.restAddress()), err);
    } catch (Exception e) {
      throw new StatementFailure(st, "starting the embedded Flink cluster failed", e);
    }
  }

  private Outcome awaitJob(SqlStatement st, JobClient job) throws StatementFailure {
    register(job);
    long startNanos = System.nanoTime();
    CompletableFuture<?> done = job.getJobExecutionResult();
    try {
      while (true) {
        try {
          done.get(progressInterval.toMillis(), TimeUnit.MILLISECONDS);
          break;
        } catch (TimeoutException e) {
          reportFailedStop();
          progress.report(job, startNanos);
        }
      }
    } catch (ExecutionException e) {
      Outcome ended = endedByInterrupt(st, false);
      if (ended != null) {
        return ended;
      }
      throw new StatementFailure(st, "job " + job.getJobID() + " failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      job.cancel();
      throw new StatementFailure(st, "interrupted while waiting for job " + job.getJobID(), e);
    } finally {
      unregister();
    }
    try {
      progress.reportEnd(job, startNanos, "line " + st.line() + ": ");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Outcome ended = endedByInterrupt(st, true);
    return ended != null ? ended : Outcome.DONE;
  }

  private Outcome printQuery(SqlStatement st, TableResult result, JobClient job)
      throws StatementFailure {
    register(job);
    try {
      printer.printRows(result, mode == RuntimeExecutionMode.STREAMING);
    } catch (RuntimeException e) {
      Outcome ended = endedByInterrupt(st, false);
      if (ended != null) {
        return ended;
      }
      throw new StatementFailure(st, "query job " + job.getJobID() + " failed", e);
    } finally {
      unregister();
    }
    Outcome ended = endedByInterrupt(st, true);
    return ended != null ? ended : Outcome.DONE;
  }

  /**
   * After a job ended ({@code succeeded}: without an error): null if nobody interrupted it (or the
   * stop did not end a failed job); else waits at most {@link #STOP_TIMEOUT} for the
   * stop-with-savepoint's answer, removes the savepoint, and says how the script ends.
   */
  private Outcome endedByInterrupt(SqlStatement st, boolean succeeded) {
    CompletableFuture<String> stop;
    synchronized (lock) {
      if (cancelRequested) {
        err.println("line " + st.line() + ": job cancelled");
        return Outcome.CANCELLED;
      }
      stop = stopping;
    }
    if (stop == null) {
      return null;
    }
    try {
      stop.get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      err.println("line " + st.line() + ": job stopped with a savepoint (drained)");
      return Outcome.STOPPED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.CANCELLED;
    } catch (ExecutionException | TimeoutException e) {
      if (!succeeded) {
        return null;
      }
      // The job finished by itself before the savepoint; the interrupt still ends the script.
      err.println("line " + st.line() + ": job finished before its savepoint was taken");
      return Outcome.STOPPED;
    } finally {
      deleteSavepoint();
    }
  }

  /** Says once, while the job still runs, that a requested stop-with-savepoint failed. */
  private void reportFailedStop() {
    CompletableFuture<String> stop;
    synchronized (lock) {
      stop = stopping;
      if (stop == null || !stop.isCompletedExceptionally() || stopFailureReported) {
        return;
      }
      stopFailureReported = true;
    }
    Throwable failure = stop.handle((ok, e) -> e).join();
    err.println("stopping with a savepoint failed, the job keeps running (Ctrl-C again cancels it): "
        + String.join("; ", FailureReport.reasonLines(null, failure)));
  }

  private void register(JobClient job) {
    synchronized (lock) {
      running = job;
      if (interrupts > 0) stopOrCancel();
    }
  }

  private void unregister() {
    synchronized (lock) {
      running = null;
    }
  }

  private void deleteSavepoint() {
    Path dir;
    synchronized (lock) {
      dir = savepointDir;
      savepointDir = null;
      stopping = null;
    }
    if (dir == null) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      err.println("could not remove the savepoint at " + dir + ": " + e.getMessage());
    }
  }

  private static RuntimeExecutionMode parseMode(String value) {
    String v = value.strip().toUpperCase(Locale.ROOT);
    if (v.equals("BATCH")) {
      return RuntimeExecutionMode.BATCH;
    }
    if (v.equals("STREAMING")) {
      return RuntimeExecutionMode.STREAMING;
    }
    throw new IllegalArgumentException("'" + RUNTIME_MODE + "' must be 'batch' or 'streaming', got '"
        + value + "'");
  }

  private static String name(RuntimeExecutionMode m) {
    return m.name().toLowerCase(Locale.ROOT);
  }

  private static String unquote(String s) {
    if (s.length() >= 2 && s.startsWith("'") && s.endsWith("'")) {
      return s.substring(1, s.length() - 1).replace("''", "'");
    }
    return s;
  }
}

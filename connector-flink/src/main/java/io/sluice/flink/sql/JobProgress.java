package io.sluice.flink.sql;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;

/**
 * Writes a running job's progress lines to stderr: elapsed time, job status and the sink vertices'
 * I/O counters ({@link SinkMetrics}), e.g. {@code [0:00:05] RUNNING  sink in 1,234 records
 * (56.0 KiB), out 0 records (0 B)}. Each line waits at most {@link #STATUS_TIMEOUT} for the status
 * and {@link SinkMetrics#REQUEST_TIMEOUT} for the counters; what does not answer is left out.
 */
final class JobProgress {
  /** Deadline of one job-status request. */
  static final Duration STATUS_TIMEOUT = Duration.ofSeconds(2);
  /** How long the last line of an ended job waits for the final counters. */
  static final Duration FINAL_COUNTERS_TIMEOUT = Duration.ofSeconds(3);
  /** Pause between two reads of the final counters. */
  static final Duration FINAL_COUNTERS_POLL = Duration.ofMillis(100);

  /** One progress line's content; {@code status} null if the cluster did not answer it. */
  record Snapshot(Duration elapsed, JobStatus status, Optional<SinkMetrics.Io> sinkIo) {}

  private final SinkMetrics metrics;
  private final PrintStream err;
  private volatile Snapshot last;

  JobProgress(SinkMetrics metrics, PrintStream err) {
    this.metrics = metrics;
    this.err = err;
  }

  /** The latest line written (null before the first). */
  Snapshot last() {
    return last;
  }

  /** Writes one line for {@code job}, started at {@code startNanos} ({@link System#nanoTime()}). */
  void report(JobClient job, long startNanos) throws InterruptedException {
    JobStatus status = status(job);
    write("", new Snapshot(since(startNanos), status, metrics.read(job.getJobID())));
  }

  /**
   * Writes the last line of a job that ended, prefixed with {@code prefix}: with its counters once
   * the REST endpoint shows the job ended (the counters are then final), polled for at most
   * {@link #FINAL_COUNTERS_TIMEOUT}; else without counters.
   */
  void reportEnd(JobClient job, long startNanos, String prefix) throws InterruptedException {
    Duration elapsed = since(startNanos);
    JobStatus status = status(job);
    long deadline = System.nanoTime() + FINAL_COUNTERS_TIMEOUT.toNanos();
    Optional<SinkMetrics.Io> io = Optional.empty();
    while (System.nanoTime() < deadline) {
      Optional<SinkMetrics.Io> read = metrics.read(job.getJobID());
      if (read.isPresent() && ended(read.get().jobState())) {
        io = read;
        break;
      }
      Thread.sleep(FINAL_COUNTERS_POLL.toMillis());
    }
    write(prefix, new Snapshot(elapsed, status, io));
  }

  /** The line for {@code p}, without prefix. */
  static String format(Snapshot p) {
    long s = p.elapsed().toSeconds();
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "[%d:%02d:%02d] %s",
        s / 3600, s / 60 % 60, s % 60, p.status() == null ? "status unknown" : p.status()));
    p.sinkIo().ifPresent(io -> b.append(String.format(Locale.ROOT,
        "  sink in %,d records (%s), out %,d records (%s)",
        io.recordsIn(), bytes(io.bytesIn()), io.recordsOut(), bytes(io.bytesOut()))));
    return b.toString();
  }

  private void write(String prefix, Snapshot p) {
    last = p;
    err.println(prefix + format(p));
  }

  private static JobStatus status(JobClient job) throws InterruptedException {
    try {
      return job.getJobStatus().get(STATUS_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      return null;
    }
  }

  private static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  private static boolean ended(String jobState) {
    for (JobStatus s : JobStatus.values()) {
      if (s.name().equals(jobState)) {
        return s.isGloballyTerminalState();
      }
    }
    return false;
  }

  private static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    if (n < 1024L * 1024) {
      return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
    }
    return String.format(Locale.ROOT, "%.1f MiB", n / (1024.0 * 1024));
  }
}

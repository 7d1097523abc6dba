package io.sluice.flink.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An unbounded streaming INSERT runs until the launcher's interrupt (what its SIGINT handler calls):
 * the first stops the job with a savepoint and drain, so a one-day event-time window that could not
 * have fired yet fires, and the launcher exits 0; a second interrupt cancels.
 */
class SqlLauncherStopTest {
  static final Duration DEADLINE = Duration.ofSeconds(90);

  /** Unbounded keyed rows with event time now; counted per key in one-day windows, printed. */
  static final String WINDOWED_INSERT = """
      SET 'table.optimizer.agg-phase-strategy' = 'ONE_PHASE';
      CREATE TABLE src (
        k INT,
        ts TIMESTAMP(3),
        WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
      ) WITH ('connector' = 'datagen', 'rows-per-second' = '200',
              'fields.k.min' = '1', 'fields.k.max' = '3');
      CREATE TABLE counts (k INT, n BIGINT) WITH ('connector' = 'print', 'print-identifier' = 'window');
      INSERT INTO counts
      SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' DAY))
      GROUP BY k, window_start, window_end;
      SELECT 'not reached' AS after_stop;
      """;

  @TempDir Path dir;

  @Test
  void firstInterruptStopsWithDrainSoWindowsFireAndExitIsZero() throws Exception {
    PrintStream realOut = System.out;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    ExecutorService exec = Executors.newSingleThreadExecutor();
    LauncherRun run = new LauncherRun();
    // The print connector writes to System.out of this JVM (the task manager's).
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      Future<LauncherRun.Result> result = exec.submit(() -> run.runScript(dir, WINDOWED_INSERT));
      // Rows reach the window operator (the sink vertex, behind a shuffle) ...
      waitFor(() -> {
        JobProgress.Snapshot p = run.launcher.lastProgress();
        return p != null && p.sinkIo().map(io -> io.recordsIn() > 0).orElse(false);
      }, run);
      // ... but a one-day window has not fired.
      assertFalse(printed.toString(StandardCharsets.UTF_8).contains("window"),
          printed.toString(StandardCharsets.UTF_8));
      run.launcher.interrupt();
      LauncherRun.Result r = result.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      assertEquals(SqlLauncher.EXIT_OK, r.code(), r::toString);
      assertTrue(r.err().contains("job stopped with a savepoint (drained)"), r::toString);
      assertTrue(r.err().contains("] RUNNING  sink in "), r::toString);
      assertFalse(r.out().contains("not reached"), "the script ends after the stopped statement");
      // Drain fired every window: each key's count, all rows counted before the stop.
      Matcher m = Pattern.compile("window(?::\\d+)?> \\+I\\[(\\d), (\\d+)]")
          .matcher(printed.toString(StandardCharsets.UTF_8));
      long total = 0;
      int windows = 0;
      while (m.find()) {
        windows++;
        total += Long.parseLong(m.group(2));
      }
      assertEquals(3, windows, printed.toString(StandardCharsets.UTF_8));
      assertTrue(total > 0, printed.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(realOut);
      exec.shutdownNow();
    }
  }

  @Test
  void secondInterruptCancels() throws Exception {
    ExecutorService exec = Executors.newSingleThreadExecutor();
    LauncherRun run = new LauncherRun();
    try {
      // A source that ignores the stop barrier would keep running; cancel ends any job.
      Future<LauncherRun.Result> result = exec.submit(() -> run.runScript(dir, """
          CREATE TABLE src (k INT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
          CREATE TABLE sink (k INT) WITH ('connector' = 'blackhole');
          INSERT INTO sink SELECT k FROM src;
          """));
      waitFor(() -> {
        JobProgress.Snapshot p = run.launcher.lastProgress();
        return p != null && "RUNNING".equals(String.valueOf(p.status()));
      }, run);
      run.launcher.interrupt();
      run.launcher.interrupt();
      LauncherRun.Result r = result.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      assertTrue(r.err().contains("cancelling job"), r::toString);
      // Whichever ended the job first: the drain (exit 0) or the cancel (exit 130), never a failure.
      assertTrue(r.code() == SqlLauncher.EXIT_OK || r.code() == SqlLauncher.EXIT_CANCELLED, r::toString);
    } finally {
      exec.shutdownNow();
    }
  }

  @Test
  void interruptCancelsABatchJob() throws Exception {
    ExecutorService exec = Executors.newSingleThreadExecutor();
    LauncherRun run = new LauncherRun();
    try {
      // Bounded but far too long to finish within the test: only the cancel ends it.
      Future<LauncherRun.Result> result = exec.submit(() -> run.runScript(dir, """
          SET 'execution.runtime-mode' = 'batch';
          CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1000000000000');
          CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');
          INSERT INTO sink SELECT k FROM src;
          SELECT 'not reached' AS after_cancel;
          """));
      waitFor(() -> {
        JobProgress.Snapshot p = run.launcher.lastProgress();
        return p != null && "RUNNING".equals(String.valueOf(p.status()));
      }, run);
      run.launcher.interrupt();
      LauncherRun.Result r = result.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      assertEquals(SqlLauncher.EXIT_CANCELLED, r.code(), r::toString);
      assertTrue(r.err().contains("cancelling job") && r.err().contains("line 4: job cancelled"),
          r::toString);
      assertFalse(r.out().contains("not reached"), r::toString);
    } finally {
      exec.shutdownNow();
    }
  }

  private static void waitFor(BooleanSupplier condition, LauncherRun run) throws InterruptedException {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("condition not met within " + DEADLINE + "\n" + run.errSoFar());
      }
      Thread.sleep(50);
    }
  }
}

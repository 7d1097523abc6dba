package io.sluice.flink.sql;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code sluice-flink [--set key=value]... [--verbose] FILE.sql}: runs a Flink SQL script on an
 * embedded MiniCluster in this JVM ({@link SqlRunner} says what each statement does). {@code --set}
 * applies before the script, in order, as a {@code SET} at its top would, so one query file runs in
 * both modes ({@code --set execution.runtime-mode=batch}).
 *
 * <p>Exit codes: 0 every statement succeeded (or Ctrl-C stopped a streaming job with a savepoint
 * and drain); 1 a statement failed (stderr names its line, an excerpt, Flink's reason; the stack
 * trace with {@code --verbose}); 2 usage (unknown option, malformed {@code --set}, missing or
 * unreadable file); 130 the job or script was cancelled by Ctrl-C. Results go to stdout, progress
 * and errors to stderr.
 */
public final class SqlLauncher {
  /** Exit code: every statement succeeded. */
  public static final int EXIT_OK = 0;
  /** Exit code: a statement failed. */
  public static final int EXIT_STATEMENT_FAILED = 1;
  /** Exit code: the command line or the script file is wrong. */
  public static final int EXIT_USAGE = 2;
  /** Exit code: Ctrl-C cancelled the job or the script. */
  public static final int EXIT_CANCELLED = 130;
  /** Ctrl-C after this many (stop, then cancel) ends the JVM at once. */
  static final int INTERRUPTS_BEFORE_HALT = 2;
  /** Default time between two progress lines of a running INSERT. */
  public static final Duration PROGRESS_INTERVAL_DEFAULT = Duration.ofSeconds(5);

  static final String USAGE =
      "usage: sluice-flink [--set key=value]... [--verbose] FILE.sql\n"
          + "  Runs the Flink SQL script FILE.sql on an embedded Flink cluster.\n"
          + "  --set key=value  Flink configuration applied before the script, e.g.\n"
          + "                   --set execution.runtime-mode=batch\n"
          + "  --verbose        print the stack trace of a failure\n"
          + "  Ctrl-C stops a streaming job with a savepoint and drain; twice cancels it;\n"
          + "  three times exits at once.";

  private final PrintStream out;
  private final PrintStream err;
  private final SqlRunner runner;

  /** A launcher writing results to {@code out} and progress and errors to {@code err}. */
  public SqlLauncher(PrintStream out, PrintStream err, Duration progressInterval) {
    this.out = out;
    this.err = err;
    this.runner = new SqlRunner(out, err, progressInterval);
  }

  /** Runs the launcher in this JVM and exits with its code. */
  public static void main(String[] args) {
    configureLogging(java.util.Arrays.asList(args).contains("--verbose")
        || java.util.Arrays.asList(args).contains("-v"));
    SqlLauncher launcher = new SqlLauncher(System.out, System.err, PROGRESS_INTERVAL_DEFAULT);
    java.util.concurrent.atomic.AtomicInteger signals = new java.util.concurrent.atomic.AtomicInteger();
    InterruptSignal.install(() -> {
      if (signals.incrementAndGet() > INTERRUPTS_BEFORE_HALT) {
        System.err.println("sluice-flink: interrupted " + signals.get() + " times, exiting now");
        Runtime.getRuntime().halt(EXIT_CANCELLED);
      }
      launcher.interrupt();
    });
    int code = launcher.run(args);
    // Flink leaves non-daemon threads behind; the script is done.
    System.exit(code);
  }

  /**
   * Runs the command line {@code args}: parses it, reads the script, runs each statement in order
   * until one fails, then stops the embedded cluster. Returns the exit code (see the class comment);
   * never calls {@link System#exit}.
   */
  public int run(String[] args) {
    List<String[]> sets = new ArrayList<>();
    boolean verbose = false;
    String file = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        out.println(USAGE);
        return EXIT_OK;
      } else if (a.equals("--verbose") || a.equals("-v")) {
        verbose = true;
      } else if (a.equals("--set") || a.startsWith("--set=")) {
        String kv = a.equals("--set") ? (i + 1 < args.length ? args[++i] : null) : a.substring(6);
        int eq = kv == null ? -1 : kv.indexOf('=');
        if (eq <= 0) {
          return usage("--set needs key=value, got " + (kv == null ? "nothing" : "'" + kv + "'"));
        }
        sets.add(new String[] {kv.substring(0, eq).strip(), kv.substring(eq + 1).strip()});
      } else if (a.startsWith("-") && !a.equals("-")) {
        return usage("unknown option " + a);
      } else if (file != null) {
        return usage("one script at a time, got " + file + " and " + a);
      } else {
        file = a;
      }
    }
    if (file == null) {
      return usage("no script given");
    }
    String script;
    try {
      script = Files.readString(Path.of(file), StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      return usage("cannot read the script " + file + ": " + describe(e));
    }
    for (String[] kv : sets) {
      try {
        runner.set(kv[0], kv[1]);
      } catch (IllegalArgumentException e) {
        return usage("--set " + kv[0] + "=" + kv[1] + ": " + e.getMessage());
      }
    }
    try {
      return runStatements(ScriptSplitter.split(script), verbose);
    } finally {
      try {
        runner.close();
      } catch (Exception e) {
        err.println("warning: stopping the embedded Flink cluster failed: " + e.getMessage());
      }
    }
  }

  /**
   * The launcher's Ctrl-C (the SIGINT handler calls it): the first stops the running streaming job
   * with a savepoint and drain, a batch job or the second cancels it. Safe from any thread.
   */
  public void interrupt() {
    runner.interrupt();
  }

  /** The running INSERT's latest progress (null before the first progress line). */
  JobProgress.Snapshot lastProgress() {
    return runner.lastProgress();
  }

  private int runStatements(List<SqlStatement> statements, boolean verbose) {
    for (SqlStatement st : statements) {
      try {
        switch (runner.execute(st)) {
          case DONE -> { }
          case STOPPED -> {
            return EXIT_OK;
          }
          case CANCELLED -> {
            return EXIT_CANCELLED;
          }
          default -> throw new IllegalStateException();
        }
      } catch (StatementFailure f) {
        FailureReport.write(f, verbose, err);
        return EXIT_STATEMENT_FAILED;
      }
    }
    return EXIT_OK;
  }

  private int usage(String problem) {
    err.println("sluice-flink: " + problem);
    err.println(USAGE);
    return EXIT_USAGE;
  }

  private static String describe(Exception e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file";
    }
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  /**
   * Points slf4j-simple (the launcher jar's logger) at stderr unless the caller set its properties:
   * warnings and worse, but only errors from Flink itself (a failing task logs its whole stack trace
   * as a warning; the launcher reports the reason) unless {@code verbose}. Runs before any Flink
   * class logs.
   */
  static void configureLogging(boolean verbose) {
    Map<String, String> defaults = Map.of(
        "org.slf4j.simpleLogger.defaultLogLevel", "warn",
        "org.slf4j.simpleLogger.log.org.apache.flink", verbose ? "warn" : "error",
        "org.slf4j.simpleLogger.logFile", "System.err",
        "org.slf4j.simpleLogger.showThreadName", "false",
        "org.slf4j.simpleLogger.showShortLogName", "true");
    defaults.forEach((k, v) -> {
      if (System.getProperty(k) == null) {
        System.setProperty(k, v);
      }
    });
  }
}

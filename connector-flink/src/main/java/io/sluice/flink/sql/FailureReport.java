package io.sluice.flink.sql;

import io.sluice.client.SluiceException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Writes a failed statement as a person reads it: the statement's line and an excerpt, what failed,
 * Flink's reason (the first line of the outermost meaningful message) and the cause underneath it
 * (the outermost {@link SluiceException} with its code, else the root cause), not the stack trace;
 * with {@code verbose} the whole trace follows.
 */
final class FailureReport {
  /** Longest reason line written, in characters (Flink's parser lists every expected token). */
  static final int REASON_CHARS_MAX = 400;

  private FailureReport() {}

  /** Writes {@code failure} to {@code err}. */
  static void write(StatementFailure failure, boolean verbose, PrintStream err) {
    SqlStatement st = failure.statement();
    err.println("error: statement at line " + st.line() + " failed: " + st.excerpt());
    for (String line : reasonLines(failure.getMessage(), failure.getCause())) {
      err.println("  " + line);
    }
    if (verbose && failure.getCause() != null) {
      failure.getCause().printStackTrace(err);
    } else if (failure.getCause() != null) {
      err.println("  (--verbose prints the stack trace)");
    }
  }

  /** The lines naming what failed, Flink's reason and the cause beneath it (no duplicates). */
  static List<String> reasonLines(String what, Throwable cause) {
    List<String> lines = new ArrayList<>();
    if (what != null && !what.isBlank()) {
      lines.add(what);
    }
    if (cause == null) {
      return lines;
    }
    List<Throwable> chain = chain(cause);
    Throwable top = chain.stream()
        .filter(t -> !(t instanceof ExecutionException || t instanceof CompletionException))
        .findFirst().orElse(chain.get(0));
    String topLine = firstLine(top);
    lines.add("reason: " + topLine);
    Throwable bottom = chain.stream().filter(t -> t instanceof SluiceException).findFirst()
        .orElse(chain.get(chain.size() - 1));
    if (bottom != top) {
      String bottomLine = describe(bottom);
      if (!topLine.contains(firstLine(bottom))) {
        lines.add("caused by: " + bottomLine);
      }
    }
    return lines;
  }

  private static List<Throwable> chain(Throwable t) {
    List<Throwable> out = new ArrayList<>();
    Map<Throwable, Boolean> seen = new IdentityHashMap<>();
    for (Throwable c = t; c != null && seen.put(c, Boolean.TRUE) == null; c = c.getCause()) {
      out.add(c);
    }
    return out;
  }

  private static String describe(Throwable t) {
    if (t instanceof SluiceException s) {
      return s.code() + ": " + firstLine(t);
    }
    return t.getClass().getSimpleName() + ": " + firstLine(t);
  }

  private static String firstLine(Throwable t) {
    String m = t.getMessage();
    if (m == null || m.isBlank()) {
      return t.getClass().getName();
    }
    String line = m.strip().lines().findFirst().orElse("").strip();
    return line.length() <= REASON_CHARS_MAX ? line : line.substring(0, REASON_CHARS_MAX - 3) + "...";
  }
}

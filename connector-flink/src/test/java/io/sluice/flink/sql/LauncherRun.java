package io.sluice.flink.sql;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Runs {@link SqlLauncher} in this JVM on a script, capturing its exit code, stdout and stderr. */
final class LauncherRun {
  static final Duration PROGRESS_INTERVAL = Duration.ofMillis(300);

  record Result(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
    }
  }

  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();
  final SqlLauncher launcher = new SqlLauncher(
      new PrintStream(out, true, StandardCharsets.UTF_8),
      new PrintStream(err, true, StandardCharsets.UTF_8), PROGRESS_INTERVAL);

  /** Writes {@code script} to {@code dir}/script.sql and runs it with {@code options} first. */
  static Result run(Path dir, String script, String... options) throws IOException {
    return new LauncherRun().runScript(dir, script, options);
  }

  Result runScript(Path dir, String script, String... options) throws IOException {
    Path file = dir.resolve("script.sql");
    Files.writeString(file, script, StandardCharsets.UTF_8);
    List<String> args = new ArrayList<>(List.of(options));
    args.add(file.toString());
    int code = launcher.run(args.toArray(String[]::new));
    return result(code);
  }

  Result result(int code) {
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  String errSoFar() {
    return err.toString(StandardCharsets.UTF_8);
  }
}

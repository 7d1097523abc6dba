package io.sluice.flink.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real thing: {@code connector-flink/bin/sluice-flink} builds target/sluice-flink.jar if needed
 * and runs it with {@code java -jar} in a new JVM on a tiny batch script (slow: one test only).
 */
class SluiceFlinkScriptTest {
  static final long DEADLINE_SECONDS = 300;

  @TempDir Path dir;

  @Test
  void scriptRunsTheJarOnABatchQuery() throws Exception {
    Path module = Path.of(System.getProperty("sluice.repo", "..")).resolve("connector-flink");
    Path script = dir.resolve("q.sql");
    Files.writeString(script, """
        CREATE TABLE g (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2',
          'fields.id.kind' = 'sequence', 'fields.id.start' = '7', 'fields.id.end' = '8');
        SELECT SUM(id) AS total FROM g;
        """, StandardCharsets.UTF_8);
    Path out = dir.resolve("out.txt");
    Path err = dir.resolve("err.txt");
    Process p = new ProcessBuilder(module.resolve("bin/sluice-flink").toString(),
        "--set", "execution.runtime-mode=batch", script.toString())
        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("sluice-flink did not end within " + DEADLINE_SECONDS + " s: "
          + Files.readString(err));
    }
    String stdout = Files.readString(out);
    String stderr = Files.readString(err);
    String both = "exit " + p.exitValue() + "\n--- stdout\n" + stdout + "\n--- stderr\n" + stderr;
    assertEquals(0, p.exitValue(), both);
    assertTrue(stdout.contains("| total |") && stdout.contains("|    15 |"), both);
    assertTrue(stdout.contains("1 row in set"), both);
    // Flink's own warnings stay out of a normal run.
    assertTrue(!stderr.contains("WARN"), both);
    assertTrue(Files.isRegularFile(module.resolve("target/sluice-flink.jar")), both);
  }
}

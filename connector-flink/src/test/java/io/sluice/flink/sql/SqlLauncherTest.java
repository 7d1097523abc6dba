package io.sluice.flink.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher in this JVM: each run starts (and stops) its own embedded MiniCluster. */
class SqlLauncherTest {
  /** Three rows 1..3 from datagen: bounded, so it works in both modes. */
  static final String DATAGEN_1_TO_3 = """
      CREATE TABLE g (id INT) WITH (
        'connector' = 'datagen', 'number-of-rows' = '3',
        'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3');
      """;

  @TempDir Path dir;

  @Test
  void batchSelectPrintsTheRowsAsATable() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SET 'execution.runtime-mode' = 'batch';\n"
        + DATAGEN_1_TO_3 + "SELECT id, id * 10 AS tens FROM g ORDER BY id;\n");
    assertEquals(0, r.code(), r::toString);
    assertEquals(List.of("+----+------+", "| id | tens |", "+----+------+", "|  1 |   10 |",
        "|  2 |   20 |", "|  3 |   30 |", "+----+------+", "3 rows in set"),
        r.out().strip().lines().collect(Collectors.toList()), r::toString);
    assertTrue(r.err().contains("line 2: OK  CREATE TABLE g"), r::toString);
  }

  @Test
  void insertIntoBlackholeRunsUntilTheJobFinishes() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SET 'execution.runtime-mode' = 'batch';\n"
        + "CREATE TABLE g (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5000');\n"
        + "CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');\n"
        + "INSERT INTO sink SELECT id FROM g;\n"
        + "SELECT 'after' AS marker;\n");
    assertEquals(0, r.code(), r::toString);
    // The final progress line of the INSERT names its line and a finished job.
    assertTrue(Pattern.compile("(?m)^line 4: \\[\\d+:\\d\\d:\\d\\d\\] FINISHED").matcher(r.err()).find(),
        r::toString);
    // Its counters are the final ones: every row went through the (not chained) sink vertex.
    assertTrue(r.err().contains("sink in 5,000 records"), r::toString);
    // The statement after the INSERT ran only once the job was done.
    assertTrue(r.out().contains("|  after |"), r::toString);
  }

  @Test
  void aLargeBatchResultPrintsItsFirstRowsAndSaysSo() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SET 'execution.runtime-mode' = 'batch';\n"
        + "CREATE TABLE g (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '" + (ResultPrinter.BATCH_ROWS_MAX + 5) + "');\n"
        + "SELECT id FROM g;\n");
    assertEquals(0, r.code(), r::toString);
    assertTrue(r.out().contains(ResultPrinter.BATCH_ROWS_MAX + " rows in set"), r::toString);
    assertTrue(r.out().contains("only the first " + ResultPrinter.BATCH_ROWS_MAX + " rows are printed"), r::toString);
  }

  @Test
  void statementSetRunsBothInsertsInOneJob() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SET 'execution.runtime-mode' = 'batch';\n"
        + DATAGEN_1_TO_3
        + "CREATE TABLE a (id INT) WITH ('connector' = 'blackhole');\n"
        + "CREATE TABLE b (id INT) WITH ('connector' = 'blackhole');\n"
        + "EXECUTE STATEMENT SET BEGIN\n"
        + "  INSERT INTO a SELECT id FROM g;\n"
        + "  INSERT INTO b SELECT id * 2 FROM g;\n"
        + "END;\n");
    assertEquals(0, r.code(), r::toString);
    assertTrue(Pattern.compile("(?m)^line 7: \\[\\d+:\\d\\d:\\d\\d\\] FINISHED").matcher(r.err()).find(),
        r::toString);
  }

  @Test
  void commandLineSetChoosesTheModeOfTheSameScript() throws Exception {
    String script = DATAGEN_1_TO_3 + "SELECT id FROM g WHERE id = 2;\n";
    LauncherRun.Result streaming = LauncherRun.run(dir, script);
    LauncherRun.Result batch = LauncherRun.run(dir, script, "--set", "execution.runtime-mode=batch");
    assertEquals(0, streaming.code(), streaming::toString);
    assertEquals(0, batch.code(), batch::toString);
    // Streaming prints each change with its kind; batch prints plain rows and a count.
    assertTrue(streaming.out().contains("| op |"), streaming::toString);
    assertTrue(streaming.out().contains("| +I |"), streaming::toString);
    assertFalse(batch.out().contains("| op |"), batch::toString);
    assertTrue(batch.out().contains("1 row in set"), batch::toString);
  }

  @Test
  void modeChangeAfterTheEnvironmentStartedIsRefused() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, DATAGEN_1_TO_3
        + "SET 'execution.runtime-mode' = 'batch';\nSELECT 1;\n");
    assertEquals(SqlLauncher.EXIT_STATEMENT_FAILED, r.code(), r::toString);
    assertTrue(r.err().contains("statement at line 4 failed: SET 'execution.runtime-mode' = 'batch'"),
        r::toString);
    assertTrue(r.err().contains("fixed when the statement at line 1 started"), r::toString);
    assertFalse(r.out().contains("EXPR$0"), "the statement after the failure must not run");
  }

  @Test
  void malformedStatementNamesItsLineAndFlinksReason() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, DATAGEN_1_TO_3 + "\n-- typo below\nSELEC id FORM g;\n");
    assertEquals(SqlLauncher.EXIT_STATEMENT_FAILED, r.code(), r::toString);
    assertTrue(r.err().contains("statement at line 6 failed: SELEC id FORM g"), r::toString);
    assertTrue(r.err().contains("reason: SQL parse failed."), r::toString);
    assertTrue(r.err().contains("(--verbose prints the stack trace)"), r::toString);
    assertFalse(r.err().contains("\tat org.apache.flink"), "no stack trace without --verbose");
  }

  @Test
  void verbosePrintsTheStackTrace() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SELEC 1;\n", "--verbose");
    assertEquals(SqlLauncher.EXIT_STATEMENT_FAILED, r.code(), r::toString);
    assertTrue(r.err().contains("\tat org.apache.flink"), r::toString);
  }

  @Test
  void unknownTableNamesItsLineAndTheTable() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SELECT 1;\nSELECT * FROM no_such_table;\n");
    assertEquals(SqlLauncher.EXIT_STATEMENT_FAILED, r.code(), r::toString);
    assertTrue(r.err().contains("statement at line 2 failed: SELECT * FROM no_such_table"), r::toString);
    assertTrue(r.err().contains("Object 'no_such_table' not found"), r::toString);
  }

  @Test
  void failingJobReportsTheRootCause() throws Exception {
    LauncherRun.Result r = LauncherRun.run(dir, "SET 'execution.runtime-mode' = 'batch';\n"
        + DATAGEN_1_TO_3
        + "CREATE TABLE sink (x INT) WITH ('connector' = 'blackhole');\n"
        + "INSERT INTO sink SELECT CAST(CAST(id AS VARCHAR) || 'x' AS INT) FROM g;\n");
    assertEquals(SqlLauncher.EXIT_STATEMENT_FAILED, r.code(), r::toString);
    assertTrue(r.err().contains("statement at line 6 failed: INSERT INTO sink"), r::toString);
    assertTrue(r.err().contains("caused by: NumberFormatException"), r::toString);
  }

  @Test
  void missingFileIsAUsageError() throws Exception {
    LauncherRun run = new LauncherRun();
    int code = run.launcher.run(new String[] {dir.resolve("absent.sql").toString()});
    LauncherRun.Result r = run.result(code);
    assertEquals(SqlLauncher.EXIT_USAGE, code, r::toString);
    assertTrue(r.err().contains("cannot read the script " + dir.resolve("absent.sql") + ": no such file"),
        r::toString);
    assertTrue(r.err().contains("usage: sluice-flink"), r::toString);
  }

  @Test
  void badCommandLinesAreUsageErrors() throws Exception {
    assertEquals(SqlLauncher.EXIT_USAGE, new LauncherRun().launcher.run(new String[0]));
    assertEquals(SqlLauncher.EXIT_USAGE, new LauncherRun().launcher.run(new String[] {"--bogus", "x.sql"}));
    assertEquals(SqlLauncher.EXIT_USAGE, new LauncherRun().launcher.run(new String[] {"--set", "novalue", "x"}));
    LauncherRun run = new LauncherRun();
    LauncherRun.Result r = run.runScript(dir, "SELECT 1;", "--set", "execution.runtime-mode=sideways");
    assertEquals(SqlLauncher.EXIT_USAGE, r.code(), r::toString);
    assertTrue(r.err().contains("must be 'batch' or 'streaming', got 'sideways'"), r::toString);
  }
}

package io.sluice.flink.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ScriptSplitterTest {
  static Stream<Arguments> scripts() {
    return Stream.of(
        Arguments.of("one statement, no ;", "SELECT 1", List.of(st(1, "SELECT 1"))),
        Arguments.of("two on one line", "SELECT 1; SELECT 2;",
            List.of(st(1, "SELECT 1"), st(1, "SELECT 2"))),
        Arguments.of("trailing statement without ;", "SELECT 1;\n\nSELECT 2\n",
            List.of(st(1, "SELECT 1"), st(3, "SELECT 2"))),
        Arguments.of("; inside single quotes", "SELECT 'a;b'; SELECT 2",
            List.of(st(1, "SELECT 'a;b'"), st(1, "SELECT 2"))),
        Arguments.of("doubled single quote stays quoted", "SELECT 'it''s; here';",
            List.of(st(1, "SELECT 'it''s; here'"))),
        Arguments.of("; inside double quotes and backticks", "SELECT \"a;\" AS `b;c`; X",
            List.of(st(1, "SELECT \"a;\" AS `b;c`"), st(1, "X"))),
        Arguments.of("quotes inside a comment do not open", "-- it's\nSELECT 1;",
            List.of(st(2, "SELECT 1"))),
        Arguments.of("; in a line comment", "SELECT 1 -- not; here\n;SELECT 2",
            List.of(st(1, "SELECT 1 -- not; here"), st(2, "SELECT 2"))),
        Arguments.of("; in a block comment over lines", "/* a;\n b; */ SELECT 1;",
            List.of(st(2, "SELECT 1"))),
        Arguments.of("comment-only and empty statements skipped",
            ";;\n-- nothing\n/* none */;\n  \nSELECT 1;\n-- end",
            List.of(st(5, "SELECT 1"))),
        Arguments.of("newline in a quoted string counts lines", "SELECT 'a\nb';\nSELECT 3",
            List.of(st(1, "SELECT 'a\nb'"), st(3, "SELECT 3"))),
        Arguments.of("line of a statement is its first significant character",
            "\n\n  -- header\n  CREATE TABLE t (\n a INT\n);\nINSERT INTO t VALUES (1);",
            List.of(st(4, "CREATE TABLE t (\n a INT\n)"), st(7, "INSERT INTO t VALUES (1)"))),
        Arguments.of("statement set is one statement",
            "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND;\nSELECT 3",
            List.of(st(1, "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND"),
                st(5, "SELECT 3"))),
        Arguments.of("statement set END followed by a comment",
            "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nEND -- both inserts\n;\nSELECT 3",
            List.of(st(1, "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nEND"), st(5, "SELECT 3"))),
        Arguments.of("unterminated quote runs to the end", "SELECT 'a; b",
            List.of(st(1, "SELECT 'a; b"))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("scripts")
  void splits(String name, String script, List<SqlStatement> expected) {
    assertEquals(expected, ScriptSplitter.split(script));
  }

  @Test
  void excerptIsOneShortLine() {
    SqlStatement st = new SqlStatement(3, "SELECT a,\n   b\nFROM " + "x".repeat(200));
    assertEquals(SqlStatement.EXCERPT_CHARS_MAX, st.excerpt().length());
    assertEquals("SELECT a, b FROM xxx", st.excerpt().substring(0, 20));
    assertEquals("INSERT", new SqlStatement(1, "insert into t select 1").keyword());
  }

  private static SqlStatement st(int line, String text) {
    return new SqlStatement(line, text);
  }
}

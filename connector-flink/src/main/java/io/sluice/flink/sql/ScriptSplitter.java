package io.sluice.flink.sql;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Splits a SQL script into statements on {@code ;} outside quotes ({@code '...'}, {@code "..."},
 * {@code `...`}, a doubled quote inside being part of the quoted text) and outside comments
 * ({@code --} to the end of the line, {@code /* ... *}{@code /}). Each statement remembers the line
 * its first significant character is on; comments before it are dropped, comments inside it are
 * kept (Flink's parser skips them). A statement holding nothing but whitespace and comments is
 * skipped; the last statement needs no {@code ;}. An {@code EXECUTE STATEMENT SET BEGIN ... END}
 * block is one statement: the {@code ;} between its inserts do not split it. Unterminated quotes or
 * comments run to the end of the script (Flink's parser then reports them).
 */
public final class ScriptSplitter {
  private static final Pattern STATEMENT_SET_BEGIN =
      Pattern.compile("(?is)^EXECUTE\\s+STATEMENT\\s+SET\\s+BEGIN\\b.*");
  private static final Pattern STATEMENT_SET_END = Pattern.compile("(?i)^END$");

  private ScriptSplitter() {}

  /** The statements of {@code script} in script order. */
  public static List<SqlStatement> split(String script) {
    return groupStatementSets(splitOnSemicolons(script));
  }

  private enum State { CODE, SINGLE, DOUBLE, BACKTICK, LINE_COMMENT, BLOCK_COMMENT }

  private static List<SqlStatement> splitOnSemicolons(String s) {
    List<SqlStatement> out = new ArrayList<>();
    State state = State.CODE;
    int line = 1;
    int start = -1;
    int startLine = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      char next = i + 1 < s.length() ? s.charAt(i + 1) : '\0';
      switch (state) {
        case CODE -> {
          if (c == '-' && next == '-') {
            state = State.LINE_COMMENT;
            i++;
          } else if (c == '/' && next == '*') {
            state = State.BLOCK_COMMENT;
            i++;
          } else if (c == ';') {
            if (start >= 0) {
              out.add(new SqlStatement(startLine, s.substring(start, i).strip()));
              start = -1;
            }
          } else if (!Character.isWhitespace(c)) {
            if (start < 0) {
              start = i;
              startLine = line;
            }
            if (c == '\'') {
              state = State.SINGLE;
            } else if (c == '"') {
              state = State.DOUBLE;
            } else if (c == '`') {
              state = State.BACKTICK;
            }
          }
        }
        case SINGLE -> state = c == '\'' ? State.CODE : state;
        case DOUBLE -> state = c == '"' ? State.CODE : state;
        case BACKTICK -> state = c == '`' ? State.CODE : state;
        case LINE_COMMENT -> state = c == '\n' ? State.CODE : state;
        case BLOCK_COMMENT -> {
          if (c == '*' && next == '/') {
            state = State.CODE;
            i++;
          }
        }
        default -> throw new IllegalStateException(state.toString());
      }
      if (c == '\n') {
        line++;
      }
    }
    if (start >= 0) {
      out.add(new SqlStatement(startLine, s.substring(start).strip()));
    }
    return out;
  }

  /** Joins {@code EXECUTE STATEMENT SET BEGIN ...; ...; END} back into one statement. */
  private static List<SqlStatement> groupStatementSets(List<SqlStatement> statements) {
    List<SqlStatement> out = new ArrayList<>();
    SqlStatement open = null;
    StringBuilder body = new StringBuilder();
    for (SqlStatement st : statements) {
      if (open == null) {
        if (STATEMENT_SET_BEGIN.matcher(st.text()).matches()) {
          open = st;
          body.setLength(0);
          body.append(st.text()).append(";\n");
        } else {
          out.add(st);
        }
      } else if (STATEMENT_SET_END.matcher(withoutComments(st.text()).strip().toUpperCase(Locale.ROOT)).matches()) {
        out.add(new SqlStatement(open.line(), body.append("END").toString()));
        open = null;
      } else {
        body.append(st.text()).append(";\n");
      }
    }
    if (open != null) {
      // No END: hand Flink what there is; its parser names what is missing.
      out.add(new SqlStatement(open.line(), body.toString().strip()));
    }
    return out;
  }

  /** {@code text} without its {@code --} and {@code /* *\/} comments (for matching a bare keyword). */
  static String withoutComments(String text) {
    return text.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("--[^\\n]*", " ");
  }
}

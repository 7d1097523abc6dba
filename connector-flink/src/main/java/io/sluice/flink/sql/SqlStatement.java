package io.sluice.flink.sql;

import java.util.Locale;
import java.util.Objects;

/**
 * One statement of a SQL script: its text (without the terminating {@code ;}, leading comments and
 * surrounding whitespace) and the 1-based line of the script its first character is on.
 */
public record SqlStatement(int line, String text) {
  /** Longest excerpt {@link #excerpt()} returns, in characters. */
  public static final int EXCERPT_CHARS_MAX = 72;

  public SqlStatement {
    if (line < 1) {
      throw new IllegalArgumentException("line must be >= 1, got " + line);
    }
    Objects.requireNonNull(text, "text");
  }

  /** The statement on one line (whitespace runs collapsed), cut to {@link #EXCERPT_CHARS_MAX}. */
  public String excerpt() {
    String flat = text.replaceAll("\\s+", " ").strip();
    return flat.length() <= EXCERPT_CHARS_MAX ? flat : flat.substring(0, EXCERPT_CHARS_MAX - 3) + "...";
  }

  /** The first word, upper case ("" when the statement starts with a symbol). */
  public String keyword() {
    int end = 0;
    while (end < text.length() && Character.isLetter(text.charAt(end))) {
      end++;
    }
    return text.substring(0, end).toUpperCase(Locale.ROOT);
  }
}

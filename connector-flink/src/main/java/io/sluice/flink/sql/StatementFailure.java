package io.sluice.flink.sql;

import java.util.Objects;

/**
 * A statement of the script failed: which statement (its line and text), a sentence saying what the
 * launcher was doing, and Flink's exception if there is one ({@link FailureReport} turns the chain
 * into the reason a person reads).
 */
final class StatementFailure extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient SqlStatement statement;

  StatementFailure(SqlStatement statement, String message, Throwable cause) {
    super(message, cause);
    this.statement = Objects.requireNonNull(statement, "statement");
  }

  /** The statement that failed. */
  SqlStatement statement() {
    return statement;
  }
}

package io.sluice.flink.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.apache.flink.runtime.client.JobExecutionException;
import org.apache.flink.table.api.ValidationException;
import org.junit.jupiter.api.Test;

class FailureReportTest {
  @Test
  void sluiceErrorUnderAFlinkErrorIsNamedWithItsCode() {
    Throwable t = new ValidationException(
        "Unable to create a source for reading table 'default_catalog.default_database.orders'.\n\n"
            + "Table options are:\n'connector'='sluice'",
        new SluiceException(ErrorCode.NO_SUCH_STREAM, "stream demo/orders does not exist",
            new IOException("controller said no")));
    assertEquals(List.of(
        "reason: Unable to create a source for reading table 'default_catalog.default_database.orders'.",
        "caused by: NO_SUCH_STREAM: stream demo/orders does not exist"),
        FailureReport.reasonLines(null, t));
  }

  @Test
  void jobFailureNamesTheRootCauseUnderTheWrappers() {
    Throwable t = new ExecutionException(new JobExecutionException(null, "Job execution failed.",
        new RuntimeException("Recovery is suppressed by NoRestartBackoffTimeStrategy",
            new ArithmeticException("/ by zero"))));
    assertEquals(List.of("job 1 failed", "reason: Job execution failed.",
        "caused by: ArithmeticException: / by zero"), FailureReport.reasonLines("job 1 failed", t));
  }

  @Test
  void aRootCauseTheReasonAlreadySaysIsNotRepeated() {
    Throwable t = new ValidationException("SQL validation failed. From line 1, column 15 to line 1, "
        + "column 18: Object 'nope' not found", new RuntimeException("Object 'nope' not found"));
    assertEquals(List.of("reason: SQL validation failed. From line 1, column 15 to line 1, column 18: "
        + "Object 'nope' not found"), FailureReport.reasonLines(null, t));
  }

  @Test
  void longReasonsAreCut() {
    String reason = FailureReport.reasonLines(null, new RuntimeException("x".repeat(5000))).get(0);
    assertEquals("reason: ".length() + FailureReport.REASON_CHARS_MAX, reason.length());
  }
}

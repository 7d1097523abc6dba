package io.sluice.flink.sql;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.internal.TableResultInternal;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.utils.print.PrintStyle;
import org.apache.flink.util.CloseableIterator;

/**
 * Prints a statement's rows to the launcher's output in Flink's tableau format. A query in batch
 * mode, and a statement's own content (SHOW, DESCRIBE), is printed once complete with column widths
 * fitted to the data (at most {@link #COLUMN_CHARS_MAX}); a streaming query prints each change as it
 * arrives, with its change kind ({@code +I}, {@code -U}, {@code +U}, {@code -D}) and widths from the
 * column types. EXPLAIN's plan text is printed as is.
 */
final class ResultPrinter {
  /** Widest column of a table, in characters; longer values end in "...". */
  static final int COLUMN_CHARS_MAX = 100;
  /**
   * Rows of a complete (batch) result printed at most: the widths are fitted to the data, so the
   * rows are held until printed. More are not read; a line says so.
   */
  static final int BATCH_ROWS_MAX = 10_000;

  private final PrintStream out;

  ResultPrinter(PrintStream out) {
    this.out = out;
  }

  /** Prints every row of {@code result}; returns when the result has no more rows. */
  void printRows(TableResult result, boolean streaming) {
    TableResultInternal internal = (TableResultInternal) result;
    PrintStyle style = streaming
        ? PrintStyle.tableauWithTypeInferredColumnWidths(result.getResolvedSchema(),
            internal.getRowDataToStringConverter(), PrintStyle.DEFAULT_MAX_COLUMN_WIDTH, false, true)
        : PrintStyle.tableauWithDataInferredColumnWidths(result.getResolvedSchema(),
            internal.getRowDataToStringConverter(), COLUMN_CHARS_MAX, false, false);
    print(style, internal, streaming ? Long.MAX_VALUE : BATCH_ROWS_MAX);
  }

  /** Prints EXPLAIN's plan (one text cell per row) without a table around it. */
  void printPlain(TableResult result) {
    TableResultInternal internal = (TableResultInternal) result;
    print(PrintStyle.rawContent(internal.getRowDataToStringConverter()), internal, BATCH_ROWS_MAX);
  }

  private void print(PrintStyle style, TableResultInternal result, long rowsMax) {
    PrintWriter writer = new PrintWriter(
        new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true);
    CloseableIterator<RowData> rows = result.collectInternal();
    Limited limited = new Limited(rows, rowsMax);
    try {
      style.print(limited, writer);
      if (limited.cut) {
        writer.println("(only the first " + rowsMax + " rows are printed; add a LIMIT, or INSERT INTO a table, to see them all)");
      }
    } finally {
      writer.flush();
      try {
        rows.close();
      } catch (Exception e) {
        // The rows were read (or reading failed and says why); a failing close changes nothing.
      }
    }
  }

  /** The first {@code max} rows of an iterator; {@code cut} once a row past them was seen. */
  private static final class Limited implements java.util.Iterator<RowData> {
    private final java.util.Iterator<RowData> rows;
    private final long max;
    private long given;
    boolean cut;

    Limited(java.util.Iterator<RowData> rows, long max) {
      this.rows = rows;
      this.max = max;
    }

    @Override
    public boolean hasNext() {
      if (given < max) return rows.hasNext();
      cut = cut || rows.hasNext();
      return false;
    }

    @Override
    public RowData next() {
      if (!hasNext()) throw new java.util.NoSuchElementException();
      given++;
      return rows.next();
    }
  }
}

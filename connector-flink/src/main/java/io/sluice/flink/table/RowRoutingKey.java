package io.sluice.flink.table;

import java.io.Serial;
import java.io.Serializable;
import java.util.List;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * The routing key of a row, from some of its columns' values as text (the rule of {@code
 * sink.routing-key-fields}):
 *
 * <ul>
 *   <li>one column: its value as text ({@code 'alice'}, {@code '42'}, {@code '12.50'}, {@code
 *       'true'}); NULL gives no key (the event is spread over the segments);
 *   <li>several columns: the values joined by {@code |}, each value's {@code \} and {@code |}
 *       escaped by a {@code \} and a NULL written as {@code \N}, so two different rows of values
 *       never give the same key; when every value is NULL there is no key.
 * </ul>
 *
 * DECIMAL values keep their scale ({@code 12.50} for DECIMAL(10,2)), so the key of a value does not
 * depend on how it was computed.
 */
final class RowRoutingKey implements Serializable {
  @Serial
  private static final long serialVersionUID = 1L;

  private final RowData.FieldGetter[] getters;

  RowRoutingKey(int[] indexes, List<LogicalType> types) {
    getters = new RowData.FieldGetter[indexes.length];
    for (int i = 0; i < indexes.length; i++) getters[i] = RowData.createFieldGetter(types.get(indexes[i]), indexes[i]);
  }

  /** Whether a column of type {@code t} can be part of a routing key. */
  static boolean supports(LogicalType t) {
    return switch (t.getTypeRoot()) {
      case CHAR, VARCHAR, BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, DECIMAL -> true;
      default -> false;
    };
  }

  /** The key of {@code row}, or null for no key. */
  String routingKey(RowData row) {
    if (getters.length == 1) return text(getters[0].getFieldOrNull(row));
    StringBuilder key = new StringBuilder();
    boolean anyValue = false;
    for (int i = 0; i < getters.length; i++) {
      if (i > 0) key.append('|');
      String v = text(getters[i].getFieldOrNull(row));
      if (v == null) {
        key.append("\\N");
        continue;
      }
      anyValue = true;
      for (int c = 0; c < v.length(); c++) {
        char ch = v.charAt(c);
        if (ch == '\\' || ch == '|') key.append('\\');
        key.append(ch);
      }
    }
    return anyValue ? key.toString() : null;
  }

  private static String text(Object value) {
    if (value == null) return null;
    if (value instanceof DecimalData d) return d.toBigDecimal().toPlainString();
    // StringData, Boolean and the integer types print their value.
    return value.toString();
  }
}

package io.sluice.flink.table;

import io.sluice.client.ControllerClient;
import io.sluice.client.SegmentNames;
import io.sluice.client.SluiceException;
import io.sluice.client.StreamCut;
import io.sluice.flink.sink.SluiceSinkBuilder;
import io.sluice.flink.source.OrderingMode;
import io.sluice.flink.source.StreamPosition;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.util.TimeUtils;

/**
 * The checked settings of one sluice table, parsed from its {@code WITH} options as written (the
 * raw strings, so that a refusal can quote the value). Every refusal is a {@link
 * ValidationException} whose message names the option, the value and what is allowed.
 */
final class SluiceTableConfig {
  private SluiceTableConfig() {}

  /** The sink builder's rule for a tag prefix: printable ASCII without space or '/'. */
  private static final Pattern TAG_PREFIX = Pattern.compile("^[!-.0-~]+$");

  /** What a source reads: start, optional stop (bounded) and optional ordering (the builder's default when null). */
  record Source(String controller, String stream, StreamPosition start, StreamPosition stop, OrderingMode ordering) {}

  /** What a sink writes: the routing-key columns (empty: no key) by index into the physical row. */
  record Sink(String controller, String stream, DeliveryGuarantee guarantee, List<String> routingFields, int[] routingIndexes,
      Duration transactionLease, String transactionTagPrefix, Integer parallelism) {}

  /**
   * The source settings. In BATCH mode ({@code batch}) a source without {@code stop} stops at the
   * tail when the job starts, and {@code scan.ordering} cannot be {@code checkpointed} (no
   * checkpoints are taken, so successor segments would never be read).
   */
  static Source source(Map<String, String> raw, boolean batch) {
    String controller = controller(raw);
    String stream = stream(raw);
    StreamPosition start = position(raw, SluiceTableOptions.START, stream, true);
    StreamPosition stop = raw.containsKey(SluiceTableOptions.STOP.key()) ? position(raw, SluiceTableOptions.STOP, stream, false) : null;
    if (stop == null && batch) stop = StreamPosition.tail();
    OrderingMode ordering = null;
    String o = raw.get(SluiceTableOptions.SCAN_ORDERING.key());
    if (o != null) {
      ordering = switch (o.trim().toLowerCase(Locale.ROOT)) {
        case "checkpointed" -> OrderingMode.CHECKPOINTED;
        case "relaxed" -> OrderingMode.RELAXED;
        default -> throw refuse(SluiceTableOptions.SCAN_ORDERING, o, "'checkpointed' or 'relaxed'");
      };
      if (ordering == OrderingMode.CHECKPOINTED && batch) {
        throw refuse(SluiceTableOptions.SCAN_ORDERING, o, "'relaxed' in BATCH mode (a batch job takes no checkpoints, so"
            + " 'checkpointed' would never read a successor segment); leave it out or set 'relaxed'");
      }
    }
    return new Source(controller, stream, start, stop, ordering);
  }

  /** The sink settings; {@code physical} is the table's physical row type (routing-key columns are checked against it). */
  static Sink sink(Map<String, String> raw, DataType physical) {
    String controller = controller(raw);
    String stream = stream(raw);
    DeliveryGuarantee guarantee = DeliveryGuarantee.AT_LEAST_ONCE;
    String g = raw.get(SluiceTableOptions.SINK_DELIVERY_GUARANTEE.key());
    if (g != null) {
      guarantee = switch (g.trim().toLowerCase(Locale.ROOT)) {
        case "none" -> DeliveryGuarantee.NONE;
        case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
        case "exactly-once" -> DeliveryGuarantee.EXACTLY_ONCE;
        default -> throw refuse(SluiceTableOptions.SINK_DELIVERY_GUARANTEE, g, "'none', 'at-least-once' or 'exactly-once'");
      };
    }
    List<String> names = DataType.getFieldNames(physical);
    List<DataType> types = DataType.getFieldDataTypes(physical);
    List<String> fields = new ArrayList<>();
    List<Integer> indexes = new ArrayList<>();
    String f = raw.get(SluiceTableOptions.SINK_ROUTING_KEY_FIELDS.key());
    if (f != null) {
      Set<String> seen = new LinkedHashSet<>();
      for (String part : f.split(",", -1)) {
        String name = part.trim();
        if (name.isEmpty()) throw refuse(SluiceTableOptions.SINK_ROUTING_KEY_FIELDS, f, "comma-separated column names, none empty");
        int i = names.indexOf(name);
        if (i < 0) throw refuse(SluiceTableOptions.SINK_ROUTING_KEY_FIELDS, f, "names of the table's physical columns " + names + " (column " + name + " is not one)");
        if (!seen.add(name)) throw refuse(SluiceTableOptions.SINK_ROUTING_KEY_FIELDS, f, "each column once (" + name + " is named twice)");
        LogicalType t = types.get(i).getLogicalType();
        if (!RowRoutingKey.supports(t)) {
          throw refuse(SluiceTableOptions.SINK_ROUTING_KEY_FIELDS, f, "columns of a character string, BOOLEAN, TINYINT, SMALLINT, INT,"
              + " BIGINT or DECIMAL type (column " + name + " is " + t.asSummaryString() + ")");
        }
        fields.add(name);
        indexes.add(i);
      }
    }
    Duration lease = null;
    String l = raw.get(SluiceTableOptions.SINK_TRANSACTION_LEASE.key());
    if (l != null) {
      try {
        lease = TimeUtils.parseDuration(l);
      } catch (RuntimeException e) {
        throw refuse(SluiceTableOptions.SINK_TRANSACTION_LEASE, l, "a duration such as '90 s' or '2 min'");
      }
      if (lease.compareTo(SluiceSinkBuilder.LEASE_MIN) < 0 || lease.compareTo(SluiceSinkBuilder.LEASE_MAX) > 0) {
        throw refuse(SluiceTableOptions.SINK_TRANSACTION_LEASE, l, "a duration from 1 s to 24 h, such as '20 min'");
      }
      if (guarantee != DeliveryGuarantee.EXACTLY_ONCE) {
        throw refuse(SluiceTableOptions.SINK_TRANSACTION_LEASE, l, "only with 'sink.delivery-guarantee' = 'exactly-once' (transactions are used only then)");
      }
    }
    String tagPrefix = raw.get(SluiceTableOptions.SINK_TRANSACTION_TAG_PREFIX.key());
    if (tagPrefix != null) {
      if (tagPrefix.isEmpty() || tagPrefix.length() > SluiceSinkBuilder.TAG_PREFIX_CHARS_MAX || !TAG_PREFIX.matcher(tagPrefix).matches()) {
        throw refuse(SluiceTableOptions.SINK_TRANSACTION_TAG_PREFIX, tagPrefix, "1 to " + SluiceSinkBuilder.TAG_PREFIX_CHARS_MAX
            + " printable ASCII characters without spaces or '/'");
      }
      if (guarantee != DeliveryGuarantee.EXACTLY_ONCE) {
        throw refuse(SluiceTableOptions.SINK_TRANSACTION_TAG_PREFIX, tagPrefix, "only with 'sink.delivery-guarantee' = 'exactly-once' (transactions are used only then)");
      }
    }
    Integer parallelism = null;
    String p = raw.get(SluiceTableOptions.SINK_PARALLELISM.key());
    if (p != null) {
      try {
        parallelism = Integer.valueOf(p.trim());
      } catch (NumberFormatException e) {
        throw refuse(SluiceTableOptions.SINK_PARALLELISM, p, "a whole number of at least 1");
      }
      if (parallelism < 1) throw refuse(SluiceTableOptions.SINK_PARALLELISM, p, "a whole number of at least 1");
    }
    return new Sink(controller, stream, guarantee, List.copyOf(fields), indexes.stream().mapToInt(Integer::intValue).toArray(), lease, tagPrefix, parallelism);
  }

  private static String controller(Map<String, String> raw) {
    String c = raw.getOrDefault(SluiceTableOptions.CONTROLLER.key(), SluiceTableOptions.CONTROLLER.defaultValue());
    // The client's own parser is the rule; channels connect lazily, so this sends nothing.
    try {
      ControllerClient.connect(c).close();
      return c;
    } catch (SluiceException e) {
      throw refuse(SluiceTableOptions.CONTROLLER, c, "tcp://HOST:PORT, e.g. tcp://127.0.0.1:9090 (several: comma-separated)");
    }
  }

  private static String stream(Map<String, String> raw) {
    String s = raw.get(SluiceTableOptions.STREAM.key());
    if (s == null) throw new ValidationException("option 'stream' is required: name the stream as scope/stream, e.g. 'stream' = 'shop/orders'");
    try {
      SegmentNames.parseStreamName(s);
    } catch (SluiceException e) {
      throw new ValidationException("option 'stream': " + e.getMessage(), e);
    }
    return s;
  }

  /** {@code head} (start only), {@code tail} or a cut of {@code stream}. */
  private static StreamPosition position(Map<String, String> raw, ConfigOption<String> option, String stream, boolean headAllowed) {
    String v = raw.getOrDefault(option.key(), option.hasDefaultValue() ? option.defaultValue() : null);
    String allowed = (headAllowed ? "'head', 'tail'" : "'tail'") + " or a stream cut's text (sc1....) of stream " + stream;
    String t = v.trim().toLowerCase(Locale.ROOT);
    if (t.equals("head")) {
      if (!headAllowed) throw refuse(option, v, allowed + " (a source cannot stop at the head)");
      return StreamPosition.head();
    }
    if (t.equals("tail")) return StreamPosition.tail();
    StreamCut cut;
    try {
      cut = StreamCut.fromText(v);
    } catch (SluiceException e) {
      throw new ValidationException("option '" + option.key() + "': " + e.getMessage() + "; allowed: " + allowed, e);
    }
    String of = cut.scope() + "/" + cut.stream();
    if (!of.equals(stream)) throw refuse(option, v, allowed + " (this cut is of stream " + of + ")");
    return StreamPosition.cuts(cut);
  }

  static ValidationException refuse(ConfigOption<?> option, String value, String allowed) {
    String shown = value.length() > 80 ? value.substring(0, 80) + "..." : value;
    return new ValidationException("option '" + option.key() + "' = '" + shown + "' is not valid: allowed is " + allowed);
  }
}

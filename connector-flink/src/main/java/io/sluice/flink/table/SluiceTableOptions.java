package io.sluice.flink.table;

import java.time.Duration;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.factories.FactoryUtil;

/**
 * The options of the {@code 'connector' = 'sluice'} table connector. {@link SluiceTableConfig}
 * parses and checks them; every refusal is a {@code ValidationException} naming the option, the
 * value given and what is allowed.
 */
public final class SluiceTableOptions {
  private SluiceTableOptions() {}

  public static final ConfigOption<String> CONTROLLER = ConfigOptions.key("controller")
      .stringType()
      .defaultValue("tcp://127.0.0.1:9090")
      .withDescription("The Sluice controller: tcp://HOST:PORT, several comma-separated.");

  public static final ConfigOption<String> STREAM = ConfigOptions.key("stream")
      .stringType()
      .noDefaultValue()
      .withDescription("The stream read or written, as scope/stream. Required.");

  public static final ConfigOption<String> START = ConfigOptions.key("start")
      .stringType()
      .defaultValue("head")
      .withDescription("Where a source starts: 'head' (the oldest readable event), 'tail' (the end when the job"
          + " starts) or a stream cut's text (sc1...., as `sluice readergroup checkpoint` prints it).");

  public static final ConfigOption<String> STOP = ConfigOptions.key("stop")
      .stringType()
      .noDefaultValue()
      .withDescription("Where a source stops, making it bounded: 'tail' (the end when the job starts) or a stream"
          + " cut's text. Without it a source is unbounded in STREAMING mode and stops at the tail when the job"
          + " starts in BATCH mode.");

  public static final ConfigOption<String> SCAN_ORDERING = ConfigOptions.key("scan.ordering")
      .stringType()
      .noDefaultValue()
      .withDescription("When a successor segment may be read: 'checkpointed' (per-key order end to end; needs"
          + " checkpoints; default for an unbounded source) or 'relaxed' (default for a bounded source; the only"
          + " choice in BATCH mode). See io.sluice.flink.source.OrderingMode.");

  public static final ConfigOption<DeliveryGuarantee> SINK_DELIVERY_GUARANTEE = ConfigOptions.key("sink.delivery-guarantee")
      .enumType(DeliveryGuarantee.class)
      .defaultValue(DeliveryGuarantee.AT_LEAST_ONCE)
      .withDescription("'none', 'at-least-once' (default) or 'exactly-once' (one Sluice transaction per subtask per"
          + " checkpoint; readers see a checkpoint's rows when it completes).");

  public static final ConfigOption<String> SINK_ROUTING_KEY_FIELDS = ConfigOptions.key("sink.routing-key-fields")
      .stringType()
      .noDefaultValue()
      .withDescription("Comma-separated physical columns whose values make each event's routing key (rows with the"
          + " same key keep their order). One column: its value as text. Several: the values joined by '|', each"
          + " with '\\' and '|' escaped by a '\\' and a NULL written as '\\N'. The key is NULL (events spread over"
          + " the segments) when every one of the columns is NULL, and always when the option is not set. Columns"
          + " may be character strings, BOOLEAN, TINYINT, SMALLINT, INT, BIGINT or DECIMAL.");

  public static final ConfigOption<Duration> SINK_TRANSACTION_LEASE = ConfigOptions.key("sink.transaction-lease")
      .durationType()
      .noDefaultValue()
      .withDescription("Lease of the sink's transactions (exactly-once only), e.g. '20 min', from 1 s to 24 h; it must be"
          + " longer than the checkpoint interval plus the checkpoint timeout. Default 15 min.");

  public static final ConfigOption<String> SINK_TRANSACTION_TAG_PREFIX = ConfigOptions.key("sink.transaction-tag-prefix")
      .stringType()
      .noDefaultValue()
      .withDescription("Exactly-once only: the prefix of the tags of the sink's transactions, by which a restored job"
          + " finds and aborts its leftovers (default: flink-<job id>). Two INSERTs of one job that write the same"
          + " stream need different prefixes; 1 to 100 printable ASCII characters without spaces or '/'.");

  public static final ConfigOption<Integer> SINK_PARALLELISM = FactoryUtil.SINK_PARALLELISM;
}

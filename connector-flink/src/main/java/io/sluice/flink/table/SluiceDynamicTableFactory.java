package io.sluice.flink.table;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;

/**
 * The {@code 'connector' = 'sluice'} table connector: a table is one Sluice stream, each event one
 * row in the table's {@code format} (any Flink row format: {@code json}, {@code csv}, {@code raw},
 * with their own {@code json.*}/{@code csv.*}/{@code raw.*} options).
 *
 * <pre>{@code
 * CREATE TABLE orders (customer STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3))
 * WITH ('connector' = 'sluice', 'controller' = 'tcp://127.0.0.1:9090', 'stream' = 'shop/orders', 'format' = 'json');
 * }</pre>
 *
 * <p>Reading: from {@code start} ({@code head}, {@code tail} or a cut), unbounded unless {@code stop}
 * is set. In BATCH mode ({@code execution.runtime-mode} = {@code batch}) a table without {@code
 * stop} is read up to the tail as it is when the job starts, so one {@code CREATE TABLE} serves a
 * streaming run (live, unbounded) and a batch run (the history up to now). Writing: insert-only
 * rows, one event each, with {@code sink.delivery-guarantee} and a routing key from {@code
 * sink.routing-key-fields}. See {@link SluiceTableOptions} for every option. The connector does not
 * contact Sluice while a query is planned: an unknown stream fails the job when it starts
 * (NO_SUCH_STREAM naming the stream).
 */
public final class SluiceDynamicTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
  /** The value of {@code 'connector'}. */
  public static final String IDENTIFIER = "sluice";

  @Override
  public String factoryIdentifier() {
    return IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(SluiceTableOptions.STREAM, FactoryUtil.FORMAT);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(
        SluiceTableOptions.CONTROLLER,
        SluiceTableOptions.START,
        SluiceTableOptions.STOP,
        SluiceTableOptions.SCAN_ORDERING,
        SluiceTableOptions.SINK_DELIVERY_GUARANTEE,
        SluiceTableOptions.SINK_ROUTING_KEY_FIELDS,
        SluiceTableOptions.SINK_TRANSACTION_LEASE,
        SluiceTableOptions.SINK_TRANSACTION_TAG_PREFIX,
        SluiceTableOptions.SINK_PARALLELISM);
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    DecodingFormat<DeserializationSchema<RowData>> format = helper.discoverDecodingFormat(DeserializationFormatFactory.class, FactoryUtil.FORMAT);
    boolean batch = context.getConfiguration().get(ExecutionOptions.RUNTIME_MODE) == RuntimeExecutionMode.BATCH;
    // Our own checks first: they quote the value and say what is allowed. Then Flink's (unknown keys).
    SluiceTableConfig.Source config = SluiceTableConfig.source(options(context), batch);
    helper.validate();
    return new SluiceDynamicTableSource(config, format, context.getPhysicalRowDataType());
  }

  @Override
  public DynamicTableSink createDynamicTableSink(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    EncodingFormat<SerializationSchema<RowData>> format = helper.discoverEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT);
    SluiceTableConfig.Sink config = SluiceTableConfig.sink(options(context), context.getPhysicalRowDataType());
    helper.validate();
    return new SluiceDynamicTableSink(config, format, context.getPhysicalRowDataType());
  }

  /** The options as written in the table's WITH clause (and any enrichment), as strings. */
  private static Map<String, String> options(Context context) {
    Map<String, String> raw = new HashMap<>(context.getCatalogTable().getOptions());
    raw.putAll(context.getEnrichmentOptions());
    return raw;
  }
}

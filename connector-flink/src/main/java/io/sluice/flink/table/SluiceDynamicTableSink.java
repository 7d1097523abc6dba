package io.sluice.flink.table;

import io.sluice.flink.sink.RoutingKeySelector;
import io.sluice.flink.sink.SluiceSink;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;

/**
 * A sluice table written by {@code INSERT INTO}: a {@link SluiceSink} that writes each row as one
 * event in the table's format, with the delivery guarantee of {@code sink.delivery-guarantee} and
 * the routing key of {@code sink.routing-key-fields} (see {@link RowRoutingKey}; no key when not
 * set). Takes insert-only input: a query whose result updates rows (a non-windowed aggregate, say)
 * is refused by the planner.
 */
final class SluiceDynamicTableSink implements DynamicTableSink {
  private final SluiceTableConfig.Sink config;
  private final EncodingFormat<SerializationSchema<RowData>> format;
  private final DataType physicalRowType;

  SluiceDynamicTableSink(SluiceTableConfig.Sink config, EncodingFormat<SerializationSchema<RowData>> format, DataType physicalRowType) {
    this.config = config;
    this.format = format;
    this.physicalRowType = physicalRowType;
  }

  @Override
  public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
    return ChangelogMode.insertOnly();
  }

  @Override
  public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
    SerializationSchema<RowData> encoder = format.createRuntimeEncoder(context, physicalRowType);
    RoutingKeySelector<RowData> key;
    if (config.routingFields().isEmpty()) {
      key = row -> null;
    } else {
      RowRoutingKey rowKey = new RowRoutingKey(config.routingIndexes(), physicalRowType.getLogicalType().getChildren());
      key = rowKey::routingKey;
    }
    SluiceSink<RowData> sink = buildSink(encoder, key);
    return SinkV2Provider.of(sink, config.parallelism());
  }

  private SluiceSink<RowData> buildSink(SerializationSchema<RowData> encoder, RoutingKeySelector<RowData> key) {
    var builder = SluiceSink.<RowData>builder()
        .setControllerUri(config.controller())
        .setStream(config.stream())
        .setSerializationSchema(encoder)
        .setRoutingKey(key)
        .setDeliveryGuarantee(config.guarantee());
    if (config.transactionLease() != null) builder.setTransactionLease(config.transactionLease());
    if (config.transactionTagPrefix() != null) builder.setTransactionTagPrefix(config.transactionTagPrefix());
    return builder.build();
  }

  @Override
  public SluiceDynamicTableSink copy() {
    return new SluiceDynamicTableSink(config, format, physicalRowType);
  }

  @Override
  public String asSummaryString() {
    return "Sluice(" + config.stream() + ", " + config.guarantee() + ")";
  }
}

package io.sluice.flink.table;

import io.sluice.flink.source.SluiceSource;
import io.sluice.flink.source.SluiceSourceBuilder;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;

/**
 * A sluice table read by a query: a {@link SluiceSource} over one stream whose events are decoded by
 * the table's format into rows. Insert-only. Bounded when the table has a {@code stop} (or when the
 * job runs in BATCH mode: it stops at the tail when the job starts). Rows of one segment come in
 * write order; rows of different segments interleave.
 */
final class SluiceDynamicTableSource implements ScanTableSource {
  private final SluiceTableConfig.Source config;
  private final DecodingFormat<DeserializationSchema<RowData>> format;
  private final DataType physicalRowType;

  SluiceDynamicTableSource(SluiceTableConfig.Source config, DecodingFormat<DeserializationSchema<RowData>> format, DataType physicalRowType) {
    this.config = config;
    this.format = format;
    this.physicalRowType = physicalRowType;
  }

  @Override
  public ChangelogMode getChangelogMode() {
    return ChangelogMode.insertOnly();
  }

  @Override
  public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
    DeserializationSchema<RowData> decoder = format.createRuntimeDecoder(context, physicalRowType);
    SluiceSourceBuilder<RowData> builder = SluiceSource.<RowData>builder()
        .setControllerUri(config.controller())
        .setStreams(config.stream())
        .setStartingPosition(config.start())
        .setValueOnlyDeserializer(decoder);
    if (config.stop() != null) builder.setBounded(config.stop());
    if (config.ordering() != null) builder.setOrderingMode(config.ordering());
    return SourceProvider.of(builder.build());
  }

  @Override
  public SluiceDynamicTableSource copy() {
    return new SluiceDynamicTableSource(config, format, physicalRowType);
  }

  @Override
  public String asSummaryString() {
    return "Sluice(" + config.stream() + (config.stop() != null ? ", bounded" : "") + ")";
  }
}

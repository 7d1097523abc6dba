package io.sluice.flink.source;

import io.sluice.client.ControllerClient;
import io.sluice.client.ReadEvent;
import io.sluice.client.wire.ConnectionPool;
import java.io.Serial;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.connector.base.source.reader.fetcher.SingleThreadFetcherManager;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.util.UserCodeClassLoader;

/**
 * A Flink source (FLIP-27) over Sluice streams: one split per segment, read positions in Flink's
 * checkpoints (no reader groups), successors after splits and merges read in per-key order (see
 * {@link OrderingMode}), live (unbounded) or between two stream cuts (bounded: the same source
 * reads history in BATCH mode). Build one with {@link #builder()}:
 *
 * <pre>{@code
 * SluiceSource<String> source = SluiceSource.<String>builder()
 *     .setControllerUri("tcp://127.0.0.1:9090")
 *     .setStreams("shop/orders")
 *     .setStartingPosition(StreamPosition.head())
 *     .setValueOnlyDeserializer(new SimpleStringSchema())
 *     .build();
 * env.fromSource(source, WatermarkStrategy.noWatermarks(), "orders");
 * }</pre>
 */
public final class SluiceSource<T> implements Source<T, SluiceSplit, SluiceEnumeratorState>, ResultTypeQueryable<T> {
  @Serial
  private static final long serialVersionUID = 1L;

  private final SluiceSourceSettings settings;
  private final SluiceDeserializationSchema<T> deserializer;

  SluiceSource(SluiceSourceSettings settings, SluiceDeserializationSchema<T> deserializer) {
    this.settings = settings;
    this.deserializer = deserializer;
  }

  public static <T> SluiceSourceBuilder<T> builder() {
    return new SluiceSourceBuilder<>();
  }

  @Override
  public Boundedness getBoundedness() {
    return settings.bounded() ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
  }

  @Override
  public SourceReader<T, SluiceSplit> createReader(SourceReaderContext context) throws Exception {
    deserializer.open(new DeserializationSchema.InitializationContext() {
      @Override
      public MetricGroup getMetricGroup() {
        return context.metricGroup().addGroup("deserializer");
      }

      @Override
      public UserCodeClassLoader getUserCodeClassLoader() {
        return context.getUserCodeClassLoader();
      }
    });
    ControllerClient controller = ControllerClient.connect(settings.controllerUri(), settings.client());
    ConnectionPool pool = new ConnectionPool(settings.client());
    AtomicLong pendingBytes = new AtomicLong();
    context.metricGroup().setPendingBytesGauge(pendingBytes::get);
    SingleThreadFetcherManager<ReadEvent, SluiceSplit> fetchers = new SingleThreadFetcherManager<>(
        () -> new SluiceSplitReader(controller, pool, settings.client(), settings.readWaitMs(), pendingBytes), context.getConfiguration());
    return new SluiceSourceReader<>(fetchers, new SluiceRecordEmitter<>(deserializer), context.getConfiguration(), context, () -> {
      try {
        pool.close();
      } finally {
        controller.close();
      }
    }, settings.ordering() == OrderingMode.RELAXED);
  }

  @Override
  public SplitEnumerator<SluiceSplit, SluiceEnumeratorState> createEnumerator(SplitEnumeratorContext<SluiceSplit> context) {
    return restoreEnumerator(context, SluiceEnumeratorState.initial());
  }

  @Override
  public SplitEnumerator<SluiceSplit, SluiceEnumeratorState> restoreEnumerator(SplitEnumeratorContext<SluiceSplit> context, SluiceEnumeratorState state) {
    return new SluiceSplitEnumerator(context, settings, state, s -> StreamMetadata.of(ControllerClient.connect(s.controllerUri(), s.client())));
  }

  @Override
  public SimpleVersionedSerializer<SluiceSplit> getSplitSerializer() {
    return SluiceSplitSerializer.INSTANCE;
  }

  @Override
  public SimpleVersionedSerializer<SluiceEnumeratorState> getEnumeratorCheckpointSerializer() {
    return SluiceEnumeratorStateSerializer.INSTANCE;
  }

  @Override
  public TypeInformation<T> getProducedType() {
    return deserializer.getProducedType();
  }
}

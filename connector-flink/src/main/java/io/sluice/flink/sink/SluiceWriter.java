package io.sluice.flink.sink;

import io.sluice.client.ControllerClient;
import io.sluice.client.EventWriter;
import io.sluice.client.SluiceException;
import io.sluice.client.wire.ConnectionPool;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;

/**
 * The writer of delivery NONE and AT_LEAST_ONCE: plain appends through one {@link EventWriter}
 * (routing keys, pipelining, durable acks, following scaling). AT_LEAST_ONCE waits at every
 * checkpoint barrier (and at the end of input) until every event written before it is durable, so a
 * completed checkpoint never covers an event that was not stored; after a failure the events since
 * the last checkpoint are written again (duplicates, never losses). NONE never waits.
 *
 * <p>A failed append (after the client's retries) fails the next write or flush with its error, so
 * the job fails rather than going on without it. No committables: the committer gets nothing.
 */
final class SluiceWriter<T> implements StatefulSinkWriter<T, SluiceWriterState>, CommittingSinkWriter<T, SluiceCommittable> {
  private final SluiceSinkSettings settings;
  private final SerializationSchema<T> serializer;
  private final RoutingKeySelector<T> keys;
  private final ControllerClient controller;
  private final ConnectionPool pool;
  private final EventWriter writer;
  private final Counter records;
  private final Counter bytes;
  private volatile SluiceException failure;

  SluiceWriter(SluiceSinkSettings settings, SerializationSchema<T> serializer, RoutingKeySelector<T> keys, SinkWriterMetricGroup metrics) throws InterruptedException {
    this.settings = settings;
    this.serializer = serializer;
    this.keys = keys;
    this.controller = ControllerClient.connect(settings.controllerUri(), settings.client());
    this.pool = new ConnectionPool(settings.client());
    this.records = metrics.getNumRecordsSendCounter();
    this.bytes = metrics.getNumBytesSendCounter();
    EventWriter opened = null;
    try {
      opened = settings.await(EventWriter.open(controller, pool, settings.client(), settings.scope(), settings.stream()));
    } finally {
      if (opened == null) {
        pool.close();
        controller.close();
      }
    }
    this.writer = opened;
  }

  @Override
  public void write(T element, Context context) throws IOException {
    SluiceException f = failure;
    if (f != null) throw new IOException("writing to " + settings.streamName() + " failed: " + f.getMessage(), f);
    byte[] payload = serializer.serialize(element);
    writer.writeEvent(keys == null ? null : keys.routingKey(element), payload).whenComplete((v, err) -> {
      if (err != null && failure == null) failure = SluiceException.of(err);
    });
    records.inc();
    bytes.inc(payload.length);
  }

  @Override
  public void flush(boolean endOfInput) throws IOException, InterruptedException {
    if (settings.delivery() == DeliveryGuarantee.AT_LEAST_ONCE || endOfInput) {
      try {
        settings.awaitFlush(writer.flush());
      } catch (SluiceException e) {
        throw new IOException("writing to " + settings.streamName() + " failed: " + e.getMessage(), e);
      }
    }
    SluiceException f = failure;
    if (f != null) throw new IOException("writing to " + settings.streamName() + " failed: " + f.getMessage(), f);
  }

  @Override
  public Collection<SluiceCommittable> prepareCommit() {
    return List.of();
  }

  @Override
  public List<SluiceWriterState> snapshotState(long checkpointId) {
    return List.of();
  }

  @Override
  public void close() {
    writer.close();
    pool.close();
    controller.close();
  }
}

package io.sluice.flink.source;

import io.sluice.client.ReadEvent;
import java.nio.ByteBuffer;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.util.Collector;

/** Deserializes each event and moves its split's offset past it, so a checkpoint never repeats or skips it. */
final class SluiceRecordEmitter<T> implements RecordEmitter<ReadEvent, T, SluiceSplitState> {
  private final SluiceDeserializationSchema<T> deserializer;
  private final OutputCollector<T> collector = new OutputCollector<>();

  SluiceRecordEmitter(SluiceDeserializationSchema<T> deserializer) {
    this.deserializer = deserializer;
  }

  @Override
  public void emitRecord(ReadEvent event, SourceOutput<T> output, SluiceSplitState state) throws Exception {
    ByteBuffer payload = event.payload();
    byte[] bytes = new byte[payload.remaining()];
    payload.get(payload.position(), bytes); // absolute: no view object per event, the buffer is not moved
    collector.output = output;
    deserializer.deserialize(new SluiceEvent(state.split.stream(), state.split.segment(), event.offset(), bytes), collector);
    state.offset = event.nextOffset();
  }

  private static final class OutputCollector<T> implements Collector<T> {
    SourceOutput<T> output;

    @Override
    public void collect(T record) {
      output.collect(record);
    }

    @Override
    public void close() {}
  }
}

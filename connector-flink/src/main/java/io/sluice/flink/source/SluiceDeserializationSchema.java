package io.sluice.flink.source;

import java.io.IOException;
import java.io.Serializable;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.util.Collector;

/**
 * Turns events read from Sluice into records. {@link #valueOnly} takes any Flink {@link
 * DeserializationSchema} (for example {@code SimpleStringSchema}); implement this interface to see
 * the segment and offset too. A deserializer may emit no record (skip an event) or several.
 */
public interface SluiceDeserializationSchema<T> extends Serializable, ResultTypeQueryable<T> {
  /** Called once per reader before the first event. */
  default void open(DeserializationSchema.InitializationContext context) throws Exception {}

  void deserialize(SluiceEvent event, Collector<T> out) throws IOException;

  /** Only the event's bytes, through {@code schema}. */
  static <T> SluiceDeserializationSchema<T> valueOnly(DeserializationSchema<T> schema) {
    return new SluiceDeserializationSchema<>() {
      private static final long serialVersionUID = 1L;

      @Override
      public void open(DeserializationSchema.InitializationContext context) throws Exception {
        schema.open(context);
      }

      @Override
      public void deserialize(SluiceEvent event, Collector<T> out) throws IOException {
        schema.deserialize(event.payload(), out);
      }

      @Override
      public TypeInformation<T> getProducedType() {
        return schema.getProducedType();
      }
    };
  }
}

package io.sluice.flink.sink;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.io.IOException;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

/** The sink builder's refusals, the checkpointing check, tags, and the versioned state serializers. */
class SluiceSinkBuilderTest {
  static SluiceSinkBuilder<String> valid() {
    return SluiceSink.<String>builder().setControllerUri("tcp://127.0.0.1:9090").setStream("sc/st").setSerializationSchema(new SimpleStringSchema());
  }

  static void refused(ErrorCode code, String mentions, UnaryOperator<SluiceSinkBuilder<String>> change) {
    SluiceException e = assertThrows(SluiceException.class, () -> change.apply(valid()).build());
    assertEquals(code, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains(mentions), e.getMessage());
  }

  @Test
  void buildRefusesWhatIsMissingOrWrongNamingTheSetting() {
    assertEquals(DeliveryGuarantee.AT_LEAST_ONCE, valid().build().deliveryGuarantee());
    refused(ErrorCode.INVALID_ARGUMENT, "setControllerUri", b -> b.setControllerUri(" "));
    refused(ErrorCode.INVALID_NAME, "setStream", b -> b.setStream(null));
    refused(ErrorCode.INVALID_NAME, "setStream", b -> b.setStream("no-slash"));
    refused(ErrorCode.INVALID_NAME, "setStream", b -> b.setStream("a/b/c"));
    refused(ErrorCode.INVALID_ARGUMENT, "setSerializationSchema", b -> b.setSerializationSchema(null));
    refused(ErrorCode.INVALID_ARGUMENT, "setDeliveryGuarantee", b -> b.setDeliveryGuarantee(null));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionLease", b -> b.setTransactionLease(Duration.ofMillis(999)));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionLease", b -> b.setTransactionLease(Duration.ofHours(25)));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionLease", b -> b.setTransactionLease(null));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionTagPrefix", b -> b.setTransactionTagPrefix("has/slash"));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionTagPrefix", b -> b.setTransactionTagPrefix("has space"));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionTagPrefix", b -> b.setTransactionTagPrefix(""));
    refused(ErrorCode.INVALID_ARGUMENT, "setTransactionTagPrefix", b -> b.setTransactionTagPrefix("x".repeat(101)));
    assertDoesNotThrow(() -> valid().setTransactionTagPrefix("orders-job.v2").setTransactionLease(Duration.ofSeconds(1)).build());
  }

  @Test
  void exactlyOnceNeedsCheckpointingAndALeaseLongerThanIntervalPlusTimeout() {
    SluiceException off = assertThrows(SluiceException.class,
        () -> SluiceSink.checkCheckpointing(DeliveryGuarantee.EXACTLY_ONCE, 60_000, RuntimeExecutionMode.STREAMING, -1, 600_000));
    assertTrue(off.getMessage().contains("needs checkpointing"), off.getMessage());
    SluiceException shortLease = assertThrows(SluiceException.class,
        () -> SluiceSink.checkCheckpointing(DeliveryGuarantee.EXACTLY_ONCE, 600_000, RuntimeExecutionMode.STREAMING, 1_000, 600_000));
    assertTrue(shortLease.getMessage().contains("600000 ms") && shortLease.getMessage().contains("1000 ms"), shortLease.getMessage());
    assertDoesNotThrow(() -> SluiceSink.checkCheckpointing(DeliveryGuarantee.EXACTLY_ONCE, 601_001, RuntimeExecutionMode.STREAMING, 1_000, 600_000));
    assertDoesNotThrow(() -> SluiceSink.checkCheckpointing(DeliveryGuarantee.EXACTLY_ONCE, 1_000, RuntimeExecutionMode.BATCH, -1, 600_000));
    assertDoesNotThrow(() -> SluiceSink.checkCheckpointing(DeliveryGuarantee.AT_LEAST_ONCE, 1_000, RuntimeExecutionMode.STREAMING, -1, 600_000));
  }

  @Test
  void addingTheSinkToAJobChecksItsCheckpointing() {
    SluiceSink<String> sink = valid().setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE).build();
    StreamExecutionEnvironment off = StreamExecutionEnvironment.getExecutionEnvironment();
    off.fromData("a").sinkTo(sink);
    Throwable e = assertThrows(RuntimeException.class, off::getStreamGraph);
    while (!(e instanceof SluiceException) && e.getCause() != null) e = e.getCause();
    assertTrue(e instanceof SluiceException && e.getMessage().contains("needs checkpointing"), String.valueOf(e));
    StreamExecutionEnvironment on = StreamExecutionEnvironment.getExecutionEnvironment();
    on.enableCheckpointing(1_000);
    on.fromData("a").sinkTo(sink);
    assertDoesNotThrow(() -> on.getStreamGraph());
  }

  @Test
  void tagsNameTheCheckpointTheyAreMeantFor() {
    assertEquals("p/3/17", TransactionalWriter.tag("p", 3, 17));
    assertEquals(17, TransactionalWriter.checkpointOf("p/3/17"));
    assertEquals(-1, TransactionalWriter.checkpointOf("not-ours"));
    assertEquals(-1, TransactionalWriter.checkpointOf("p/3/x"));
  }

  @Test
  void stateSerializersRoundTripAndRefuseWhatTheyDidNotWrite() throws IOException {
    SinkSerializers.Committables committables = new SinkSerializers.Committables();
    SluiceCommittable c = new SluiceCommittable("sc/st", "0123456789abcdef0123456789abcdef", 2, 41, 1_000, 1_024_000);
    assertEquals(c, committables.deserialize(committables.getVersion(), committables.serialize(c)));
    SinkSerializers.WriterStates states = new SinkSerializers.WriterStates();
    SluiceWriterState s = new SluiceWriterState("flink-abc", 3);
    assertEquals(s, states.deserialize(states.getVersion(), states.serialize(s)));

    IOException version = assertThrows(IOException.class, () -> committables.deserialize(2, committables.serialize(c)));
    assertTrue(version.getMessage().contains("version 2"), version.getMessage());
    DataOutputSerializer longer = new DataOutputSerializer(64);
    longer.write(states.serialize(s));
    longer.writeInt(7);
    IOException trailing = assertThrows(IOException.class, () -> states.deserialize(1, longer.getCopyOfBuffer()));
    assertTrue(trailing.getMessage().contains("4 bytes after"), trailing.getMessage());
  }
}

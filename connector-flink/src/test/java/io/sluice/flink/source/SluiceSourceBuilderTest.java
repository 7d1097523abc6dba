package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.StreamCut;
import java.util.List;
import java.util.function.UnaryOperator;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.connector.source.Boundedness;
import org.junit.jupiter.api.Test;

/** Proves the builder refuses every bad setting with a typed error naming it, and builds a good one. */
class SluiceSourceBuilderTest {
  static final StreamCut CUT = StreamCut.of(List.of(new StreamCut.Position("sc/s/0.#epoch.0", 0)));
  static final StreamCut OTHER_CUT = StreamCut.of(List.of(new StreamCut.Position("sc/t/0.#epoch.0", 0)));

  static SluiceSourceBuilder<String> good() {
    return SluiceSource.<String>builder().setControllerUri("tcp://127.0.0.1:9090").setStreams("sc/s").setValueOnlyDeserializer(new SimpleStringSchema());
  }

  static void refused(ErrorCode code, String mentions, UnaryOperator<SluiceSourceBuilder<String>> change) {
    SluiceException e = assertThrows(SluiceException.class, () -> change.apply(good()).build());
    assertEquals(code, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains(mentions), e.getMessage());
  }

  @Test
  void refusesBadSettings() {
    refused(ErrorCode.INVALID_ARGUMENT, "setControllerUri", b -> b.setControllerUri(" "));
    refused(ErrorCode.INVALID_ARGUMENT, "setStreams", b -> b.setStreams());
    refused(ErrorCode.INVALID_NAME, "setStreams", b -> b.setStreams("no-slash"));
    refused(ErrorCode.INVALID_NAME, "setStreams", b -> b.setStreams("sc/bad name"));
    refused(ErrorCode.INVALID_NAME, "setStreams", b -> b.setStreams("sc/" + "x".repeat(256)));
    refused(ErrorCode.INVALID_ARGUMENT, "named twice", b -> b.setStreams("sc/s", "sc/s"));
    refused(ErrorCode.INVALID_ARGUMENT, "setDeserializer", b -> SluiceSource.<String>builder().setControllerUri("tcp://127.0.0.1:9090").setStreams("sc/s"));
    refused(ErrorCode.INVALID_ARGUMENT, "no cut for stream sc/s", b -> b.setStartingPosition(StreamPosition.cuts(OTHER_CUT)));
    refused(ErrorCode.INVALID_ARGUMENT, "which the source does not read", b -> b.setBounded(StreamPosition.cuts(CUT, OTHER_CUT)));
    refused(ErrorCode.INVALID_ARGUMENT, "cannot stop at the head", b -> b.setBounded(StreamPosition.head()));
    refused(ErrorCode.INVALID_ARGUMENT, "setReadWaitMs", b -> b.setReadWaitMs(60_001));
    refused(ErrorCode.INVALID_ARGUMENT, "setSuccessorPollMs", b -> b.setSuccessorPollMs(5));
  }

  @Test
  void buildsUnboundedOrBoundedSources() {
    assertEquals(Boundedness.CONTINUOUS_UNBOUNDED, good().build().getBoundedness());
    assertEquals(Boundedness.BOUNDED, good().setStartingPosition(StreamPosition.cuts(CUT)).setBounded(StreamPosition.tail()).build().getBoundedness());
  }
}

package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sluice.client.SegmentRange;
import io.sluice.client.Successor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Proves every serializer of the source round-trips, reads the version 1 bytes committed here (so a
 * format change that would break restoring old checkpoints fails this test), and refuses damage.
 */
class SerializersTest {
  static final SegmentRange RANGE = new SegmentRange("sc/s/3.#epoch.2", 3, 2, 0.25, 0.5);
  static final SluiceSplit SPLIT = new SluiceSplit("sc/s", RANGE, 1234, 5678, false);
  static final SluiceSplit MARKER = new SluiceSplit("sc/s", RANGE, 5678, -1, true);

  static final String SPLIT_V1 = "000473632f73000f73632f732f332e2365706f63682e3200000003000000023fd00000000000003fe000000000000000000000000004d2000000000000162e00";
  static final String STATE_V1 =
      "0300000001000473632f73000f73632f732f332e2365706f63682e3200000003000000023fd00000000000003fe000000000000000000000000004d2000000000000162e0000000002000f73632f732f302e2365706f63682e30000f73632f732f332e2365706f63682e3200000001000f73632f732f302e2365706f63682e3000000001000f73632f732f302e2365706f63682e3000000001000f73632f732f342e2365706f63682e3300000004000000033fe00000000000003ff000000000000000000002000f73632f732f302e2365706f63682e30000f73632f732f312e2365706f63682e3000000002000f73632f732f332e2365706f63682e32000000000000162e000f73632f732f342e2365706f63682e33ffffffffffffffff";

  static SluiceEnumeratorState state() {
    Map<String, Long> bounds = new LinkedHashMap<>();
    bounds.put("sc/s/3.#epoch.2", 5678L);
    bounds.put("sc/s/4.#epoch.3", -1L);
    return new SluiceEnumeratorState(true, List.of(SPLIT), List.of("sc/s/0.#epoch.0", "sc/s/3.#epoch.2"), List.of("sc/s/0.#epoch.0"), List.of("sc/s/0.#epoch.0"),
        List.of(new Successor(new SegmentRange("sc/s/4.#epoch.3", 4, 3, 0.5, 1.0), List.of("sc/s/0.#epoch.0", "sc/s/1.#epoch.0"))), bounds);
  }

  @Test
  void splitRoundTripsAndReadsVersion1() throws IOException {
    SluiceSplitSerializer ser = SluiceSplitSerializer.INSTANCE;
    assertEquals(1, ser.getVersion());
    for (SluiceSplit s : List.of(SPLIT, MARKER)) assertEquals(s, ser.deserialize(1, ser.serialize(s)));
    assertEquals(SPLIT, ser.deserialize(1, HexFormat.of().parseHex(SPLIT_V1)), "version 1 bytes");
    assertEquals(SPLIT_V1, HexFormat.of().formatHex(ser.serialize(SPLIT)), "version 1 is what is written");
    assertThrows(IOException.class, () -> ser.deserialize(2, ser.serialize(SPLIT)));
    byte[] b = ser.serialize(SPLIT);
    assertThrows(IOException.class, () -> ser.deserialize(1, java.util.Arrays.copyOf(b, b.length + 1)), "trailing bytes");
    assertThrows(IOException.class, () -> ser.deserialize(1, java.util.Arrays.copyOf(b, b.length - 3)), "cut short");
  }

  @Test
  void enumeratorStateRoundTripsAndReadsVersion1() throws IOException {
    SluiceEnumeratorStateSerializer ser = SluiceEnumeratorStateSerializer.INSTANCE;
    assertEquals(1, ser.getVersion());
    SluiceEnumeratorState s = state();
    assertEquals(s, ser.deserialize(1, ser.serialize(s)));
    assertEquals(SluiceEnumeratorState.initial(), ser.deserialize(1, ser.serialize(SluiceEnumeratorState.initial())));
    assertEquals(s, ser.deserialize(1, HexFormat.of().parseHex(STATE_V1)), "version 1 bytes");
    assertEquals(STATE_V1, HexFormat.of().formatHex(ser.serialize(s)));
    byte[] damaged = ser.serialize(s);
    damaged[1] = 0x7f; // the split count's high byte: a count no state holds
    assertThrows(IOException.class, () -> ser.deserialize(1, damaged));
  }

  @Test
  void sourceEventsRoundTripThroughJavaSerializationAsVersionedBytes() throws Exception {
    var finished = new SourceEvents.SegmentsFinished(List.of("sc/s/0.#epoch.0", "sc/s/1.#epoch.0"), List.of(10L, 0L));
    var acked = new SourceEvents.FinishedAcknowledged(List.of("sc/s/0.#epoch.0"));
    assertEquals(finished, javaRoundTrip(finished));
    assertEquals(acked, javaRoundTrip(acked));
    assertArrayEquals(HexFormat.of().parseHex("0100000002000f73632f732f302e2365706f63682e30000000000000000a000f73632f732f312e2365706f63682e300000000000000000"), SourceEvents.serialize(finished), "version 1 bytes");
    assertEquals(finished, SourceEvents.deserialize(1, SourceEvents.serialize(finished)));
    assertEquals(acked, SourceEvents.deserialize(1, HexFormat.of().parseHex("0200000001000f73632f732f302e2365706f63682e30")));
    assertThrows(IOException.class, () -> SourceEvents.deserialize(2, SourceEvents.serialize(acked)));
    assertThrows(IOException.class, () -> SourceEvents.deserialize(1, HexFormat.of().parseHex("03000000")));
  }

  static Object javaRoundTrip(Object o) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return in.readObject();
    }
  }
}

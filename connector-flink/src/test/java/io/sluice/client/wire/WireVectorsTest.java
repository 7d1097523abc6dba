package io.sluice.client.wire;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.Utf8;
import io.sluice.client.Vectors;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/**
 * Proves FrameCodec and Events speak the bytes of proto/wire (TypeScript) by the shared vectors:
 * every frame of proto/vectors/frames.json decodes to the fields the TypeScript side encoded and
 * re-encodes byte for byte; every payload TypeScript refuses is refused here with the same code and
 * message; frame headers are judged alike (FRAME_TOO_LARGE before UNKNOWN_FRAME_TYPE); event data
 * (events.json) is validated and framed alike.
 */
class WireVectorsTest {
  private static final JsonNode FRAMES = Vectors.read("frames.json");
  private static final JsonNode EVENTS = Vectors.read("events.json");

  @Test
  void everyFrameDecodesToItsFieldsAndReencodesByteForByte() {
    Set<Integer> types = new HashSet<>();
    for (JsonNode v : FRAMES.get("frames")) {
      String name = v.get("name").asText();
      byte[] bytes = Vectors.bytes(v.get("hex"));
      // Decode from the middle of a larger buffer, as a connection's read buffer would hold it.
      byte[] padded = new byte[bytes.length + 5];
      System.arraycopy(bytes, 0, padded, 3, bytes.length);
      ByteBuffer wire = ByteBuffer.wrap(padded, 3, bytes.length).slice();
      int type = wire.getInt(0);
      int length = FrameCodec.checkHeader(type, Integer.toUnsignedLong(wire.getInt(4)));
      assertEquals(bytes.length - FrameCodec.HEADER_BYTES, length, name);
      Frame frame = FrameCodec.decode(type, wire.slice(FrameCodec.HEADER_BYTES, length));
      assertEquals(v.get("type").asInt(), frame.type(), name);
      assertEquals(name, frame.name());
      assertEquals(name.equals("Error") ? "ErrorFrame" : name, frame.getClass().getSimpleName());
      assertEquals(Vectors.plain(v.get("fields")), Vectors.jsonShape(frame), name + " fields");
      assertEquals(v.get("hex").asText(), Vectors.hex(FrameCodec.encode(frame)), name + " re-encoded");
      // Encoding twice gives the same bytes: the encoder does not consume the frame's data.
      assertEquals(v.get("hex").asText(), Vectors.hex(FrameCodec.encode(frame)), name + " encoded again");
      types.add(frame.type());
    }
    assertEquals(40, types.size(), "every frame type has a vector: " + types);
  }

  @Test
  void invalidPayloadsFailWithTheSameCodeAndMessage() {
    int checked = 0;
    for (JsonNode v : FRAMES.get("invalid")) {
      int type = (int) v.get("type").asLong();
      ByteBuffer payload = ByteBuffer.wrap(Vectors.bytes(v.get("payloadHex")));
      SluiceException e = assertThrows(SluiceException.class, () -> FrameCodec.decode(type, payload), v.get("why").asText());
      assertEquals(ErrorCode.valueOf(v.get("code").asText()), e.code(), v.get("why").asText());
      assertEquals(v.get("message").asText(), e.getMessage(), v.get("why").asText());
      checked++;
    }
    assertTrue(checked >= 40, checked + " invalid payloads");
  }

  @Test
  void headersAreJudgedAlike() {
    for (JsonNode v : FRAMES.get("headers")) {
      int type = (int) v.get("type").asLong();
      long length = v.get("payloadLength").asLong();
      if (v.get("code").isNull()) {
        assertEquals((int) length, assertDoesNotThrow(() -> FrameCodec.checkHeader(type, length)), v.get("why").asText());
      } else {
        SluiceException e = assertThrows(SluiceException.class, () -> FrameCodec.checkHeader(type, length), v.get("why").asText());
        assertEquals(ErrorCode.valueOf(v.get("code").asText()), e.code(), v.get("why").asText());
        assertEquals(v.get("message").asText(), e.getMessage(), v.get("why").asText());
      }
    }
  }

  @Test
  void eventDataIsValidatedAndFramedAlike() {
    for (JsonNode v : EVENTS.get("validate")) {
      ByteBuffer data = ByteBuffer.wrap(Vectors.bytes(v.get("dataHex")));
      int eventCount = v.get("eventCount").asInt();
      if (v.get("code").isNull()) {
        Events.validate(data, eventCount);
        assertEquals(eventCount, Events.count(data), v.get("why").asText());
      } else {
        SluiceException e = assertThrows(SluiceException.class, () -> Events.validate(data, eventCount), v.get("why").asText());
        assertEquals(ErrorCode.valueOf(v.get("code").asText()), e.code(), v.get("why").asText());
        assertEquals(v.get("message").asText(), e.getMessage(), v.get("why").asText());
      }
      assertEquals(0, data.position(), "validation does not move the data's position");
    }
    for (JsonNode v : EVENTS.get("frame")) {
      List<byte[]> payloads = new ArrayList<>();
      for (JsonNode p : v.get("payloads")) payloads.add(Utf8.encode(p.asText()));
      ByteBuffer framed = Events.frame(payloads);
      assertEquals(v.get("hex").asText(), Vectors.hex(framed));
      assertEquals(payloads.size(), Events.count(framed));
    }
  }
}

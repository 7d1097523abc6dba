package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/**
 * Proves StreamCut equals client/stream-cut.ts by proto/vectors/stream-cuts.json: each cut gives the
 * same bytes and text, both forms read back to the same positions in order (whitespace around the
 * text ignored), and every refused text, byte string and position list fails INVALID_ARGUMENT with
 * the same message. Also checks a cut survives Java serialization (Flink keeps it in state).
 */
class StreamCutVectorsTest {
  private static final JsonNode VECTORS = Vectors.read("stream-cuts.json");

  private static List<StreamCut.Position> positions(JsonNode array) {
    List<StreamCut.Position> out = new ArrayList<>();
    for (JsonNode p : array) out.add(new StreamCut.Position(p.get("segment").asText(), p.get("offset").asLong()));
    return out;
  }

  @Test
  void validCutsRoundTripBothForms() throws Exception {
    int checked = 0;
    for (JsonNode v : VECTORS.get("valid")) {
      List<StreamCut.Position> positions = positions(v.get("positions"));
      StreamCut cut = StreamCut.of(positions);
      assertEquals(v.get("hex").asText(), Vectors.hex(cut.toBytes()));
      assertEquals(v.get("text").asText(), cut.toText());
      assertEquals(positions, StreamCut.fromText(v.get("text").asText()).positions());
      assertEquals(positions, StreamCut.fromText(" \t" + v.get("text").asText() + "\n").positions());
      assertEquals(positions, StreamCut.fromBytes(Vectors.bytes(v.get("hex"))).positions());
      assertEquals(cut, StreamCut.fromText(cut.toString()));
      assertEquals(cut.hashCode(), StreamCut.fromBytes(cut.toBytes()).hashCode());
      SegmentNames.Parsed first = SegmentNames.parse(positions.get(0).segment());
      assertEquals(first.scope(), cut.scope());
      assertEquals(first.stream(), cut.stream());
      checked++;
    }
    assertEquals(4, checked);
  }

  @Test
  void invalidTextsFailLikeTypeScript() {
    for (JsonNode v : VECTORS.get("invalidTexts")) {
      SluiceException e = assertThrows(SluiceException.class, () -> StreamCut.fromText(v.get("text").asText()), v.get("text").asText());
      assertEquals(ErrorCode.valueOf(v.get("code").asText()), e.code());
      assertEquals(v.get("message").asText(), e.getMessage());
    }
  }

  @Test
  void invalidBytesFailLikeTypeScript() {
    for (JsonNode v : VECTORS.get("invalidBytes")) {
      SluiceException e = assertThrows(SluiceException.class, () -> StreamCut.fromBytes(Vectors.bytes(v.get("hex"))), v.get("hex").asText());
      assertEquals(ErrorCode.valueOf(v.get("code").asText()), e.code());
      assertEquals(v.get("message").asText(), e.getMessage());
    }
  }

  @Test
  void invalidCutsFailLikeTypeScript() {
    for (JsonNode v : VECTORS.get("invalidCuts")) {
      SluiceException e = assertThrows(SluiceException.class, () -> StreamCut.of(positions(v.get("positions"))), v.toString());
      assertEquals(ErrorCode.valueOf(v.get("code").asText()), e.code());
      assertEquals(v.get("message").asText(), e.getMessage());
    }
  }

  @Test
  void tooManyPositionsAndNullsAreRefused() {
    List<StreamCut.Position> many = new ArrayList<>();
    for (int i = 0; i <= StreamCut.POSITIONS_MAX; i++) many.add(new StreamCut.Position(SegmentNames.segment("s", "t", i, 0), 0));
    SluiceException e = assertThrows(SluiceException.class, () -> StreamCut.of(many));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertEquals("stream cut has 4097 positions; at most 4096 are allowed", e.getMessage());
    assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(SluiceException.class, () -> StreamCut.fromText(null)).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(SluiceException.class, () -> StreamCut.fromBytes(null)).code());
    // The largest cut still fits both forms.
    StreamCut largest = StreamCut.of(many.subList(0, StreamCut.POSITIONS_MAX));
    assertEquals(largest, StreamCut.fromText(largest.toText()));
  }

  @Test
  void survivesJavaSerialization() throws Exception {
    StreamCut cut = StreamCut.fromText(VECTORS.get("valid").get(1).get("text").asText());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ObjectOutputStream o = new ObjectOutputStream(out)) {
      o.writeObject(cut);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(out.toByteArray()))) {
      StreamCut back = (StreamCut) in.readObject();
      assertEquals(cut, back);
      assertArrayEquals(cut.toBytes(), back.toBytes());
      assertTrue(back.positions().size() == 3);
    }
  }
}

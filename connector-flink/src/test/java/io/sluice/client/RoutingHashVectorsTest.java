package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/**
 * Proves RoutingHash equals common/hash.ts by proto/vectors/routing-hash.json: the UTF-8 bytes of
 * each routing key (unpaired surrogates as U+FFFD, as Node writes them), its MurmurHash3, its key
 * position exactly (same double), hashes under other seeds, and container placement of segment names.
 */
class RoutingHashVectorsTest {
  private static final JsonNode VECTORS = Vectors.read("routing-hash.json");

  @Test
  void keysHashAndPlaceAsInTypeScript() {
    int checked = 0;
    for (JsonNode k : VECTORS.get("keys")) {
      String key = k.get("key").asText();
      byte[] utf8 = Utf8.encode(key);
      assertEquals(k.get("utf8Hex").asText(), Vectors.hex(utf8), "UTF-8 of " + key);
      assertEquals(utf8.length, Utf8.length(key), "UTF-8 length of " + key);
      assertEquals(k.get("murmur3").asLong(), Integer.toUnsignedLong(RoutingHash.murmur3x86_32(utf8, 0)), "murmur3 of " + key);
      double position = RoutingHash.keyPosition(key);
      assertEquals(Double.doubleToLongBits(k.get("keyPosition").asDouble()), Double.doubleToLongBits(position), "keyPosition of " + key);
      assertTrue(position >= 0 && position < 1);
      checked++;
    }
    assertTrue(checked >= 45, checked + " keys");
  }

  @Test
  void seedsHashAsInTypeScript() {
    for (JsonNode s : VECTORS.get("seeds")) {
      int seed = (int) s.get("seed").asLong();
      assertEquals(s.get("murmur3").asLong(), Integer.toUnsignedLong(RoutingHash.murmur3x86_32(Vectors.bytes(s.get("dataHex")), seed)),
          "murmur3 of " + s.get("dataHex").asText() + " seed " + Integer.toUnsignedString(seed));
    }
  }

  @Test
  void containersAsInTypeScript() {
    for (JsonNode c : VECTORS.get("containers")) {
      assertEquals(c.get("container").asInt(), RoutingHash.containerOf(c.get("segment").asText(), c.get("containerCount").asInt()),
          c.get("segment").asText() + " over " + c.get("containerCount").asInt());
    }
  }
}

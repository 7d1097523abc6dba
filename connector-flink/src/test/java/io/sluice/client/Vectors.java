package io.sluice.client;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Test support: reads the shared vectors of proto/vectors/ (written by the TypeScript generators)
 * and turns Java values into the same plain shapes the JSON holds, so a test compares them with
 * equals. The repository root comes from the system property {@code sluice.repo} (set by surefire),
 * else {@code ..}.
 */
public final class Vectors {
  private Vectors() {}

  /** Integers parse as Long, so numbers compare equal whatever their size. */
  public static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.USE_LONG_FOR_INTS);
  private static final HexFormat HEX = HexFormat.of();

  /** The parsed JSON file proto/vectors/{name}. */
  public static JsonNode read(String name) {
    Path file = Path.of(System.getProperty("sluice.repo", ".."), "proto", "vectors", name);
    try {
      return MAPPER.readTree(Files.readString(file));
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the shared vectors " + file.toAbsolutePath()
          + " (run node --import tsx proto/vectors/generate.ts)", e);
    }
  }

  /** A JSON value as plain Java: Map, List, Long, Double, String, Boolean or null. */
  public static Object plain(JsonNode node) {
    return MAPPER.convertValue(node, Object.class);
  }

  public static byte[] bytes(JsonNode hex) {
    return HEX.parseHex(hex.asText());
  }

  public static String hex(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  /** The remaining bytes of `buf` as hex, without moving its position. */
  public static String hex(ByteBuffer buf) {
    byte[] out = new byte[buf.remaining()];
    buf.duplicate().get(out);
    return hex(out);
  }

  /**
   * A Java value in the JSON shape of the vectors: ints as unsigned longs (they hold u32 and u16
   * fields), UUIDs and byte buffers as hex, records as maps of their components, lists element-wise.
   */
  public static Object jsonShape(Object value) {
    if (value == null || value instanceof String || value instanceof Boolean || value instanceof Long) return value;
    if (value instanceof Integer i) return Integer.toUnsignedLong(i);
    if (value instanceof UUID u) return String.format("%016x%016x", u.getMostSignificantBits(), u.getLeastSignificantBits());
    if (value instanceof ByteBuffer b) return hex(b);
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      for (Object item : list) out.add(jsonShape(item));
      return out;
    }
    if (value instanceof Record r) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (RecordComponent c : r.getClass().getRecordComponents()) {
        try {
          out.put(c.getName(), jsonShape(c.getAccessor().invoke(r)));
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException("cannot read " + c.getName() + " of " + r, e);
        }
      }
      return out;
    }
    throw new IllegalArgumentException("no JSON shape for " + value.getClass());
  }
}

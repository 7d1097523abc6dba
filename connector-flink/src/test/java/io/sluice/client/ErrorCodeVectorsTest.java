package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/**
 * Proves the Java error table equals common/errors.ts both ways, by proto/vectors/errors.json: every
 * TypeScript code exists here with the same wire id and retriable flag, and no Java code is missing
 * there; wire ids map back to their code and an unknown id becomes INTERNAL naming the id.
 */
class ErrorCodeVectorsTest {
  @Test
  void everyCodeMatchesBothWays() {
    JsonNode codes = Vectors.read("errors.json").get("codes");
    Set<String> tsCodes = new HashSet<>();
    for (JsonNode c : codes) {
      String name = c.get("code").asText();
      tsCodes.add(name);
      ErrorCode code = ErrorCode.valueOf(name);
      assertEquals(c.get("wireId").asInt(), code.wireId(), name + " wire id");
      assertEquals(c.get("retriable").asBoolean(), code.retriable(), name + " retriable");
      assertEquals(code, ErrorCode.fromWireId(code.wireId()), name + " from its wire id");
    }
    assertTrue(tsCodes.size() >= 48, "the TypeScript table has its codes: " + tsCodes.size());
    for (ErrorCode code : ErrorCode.values()) assertTrue(tsCodes.contains(code.name()), code + " exists in common/errors.ts");
    assertEquals(tsCodes.size(), ErrorCode.values().length);
  }

  @Test
  void unknownWireIdBecomesInternalNamingTheId() {
    assertEquals(ErrorCode.INTERNAL, ErrorCode.fromWireId(9999));
    assertNull(ErrorCode.lookupWireId(9999));
    SluiceException e = SluiceException.fromWire(9999, "boom");
    assertEquals(ErrorCode.INTERNAL, e.code());
    assertEquals("unknown error id 9999 from peer: boom", e.getMessage());
    SluiceException sealed = SluiceException.fromWire(21, "segment sealed");
    assertEquals(ErrorCode.SEGMENT_SEALED, sealed.code());
    assertEquals("segment sealed", sealed.getMessage());
    assertNotNull(sealed.toString());
    assertTrue(SluiceException.fromWire(20, "moved").retriable(), "WRONG_HOST is retriable");
  }
}

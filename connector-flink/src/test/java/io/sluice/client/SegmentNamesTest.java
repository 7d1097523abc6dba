package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Proves SegmentNames parses and refuses names as common/names.ts does (INVALID_NAME). */
class SegmentNamesTest {
  @Test
  void parsesSegmentsAndTransactionSegments() {
    SegmentNames.Parsed p = SegmentNames.parse("sc/st/4294967295.#epoch.3");
    assertEquals(new SegmentNames.Parsed("sc", "st", -1, 3, null), p);
    assertEquals(4294967295L, Integer.toUnsignedLong(p.number()));
    assertEquals("sc/st/4294967295.#epoch.3", SegmentNames.segment("sc", "st", p.number(), p.epoch()));
    SegmentNames.Parsed t = SegmentNames.parse("sc/st/0.#epoch.0#txn.0123456789abcdef0123456789abcdef");
    assertEquals("0123456789abcdef0123456789abcdef", t.txn());
    assertEquals("sc/st/0.#epoch.0", SegmentNames.parent("sc/st/0.#epoch.0#txn.0123456789abcdef0123456789abcdef"));
    assertNull(SegmentNames.parse("a.b/c-d_e/12.#epoch.0").txn());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "sc/st/0", "sc/st/00.#epoch.0", "sc/st/4294967296.#epoch.0", "sc/st/0.#epoch.4294967296",
      "sc/st/0.#epoch.0\n", "sc/st/0.#epoch.0#txn.0123", "sc/st/0.#epoch.0#txn.0123456789ABCDEF0123456789abcdef",
      "-sc/st/0.#epoch.0", "s c/st/0.#epoch.0", "sc/s\u00e9/0.#epoch.0", "sc/st/x/0.#epoch.0", "sc//0.#epoch.0"})
  void refusesBadNames(String name) {
    SluiceException e = assertThrows(SluiceException.class, () -> SegmentNames.parse(name));
    assertEquals(ErrorCode.INVALID_NAME, e.code());
  }

  @Test
  void quotesABoundedPrefixOfAHugeName() {
    String huge = "x".repeat(100_000);
    SluiceException e = assertThrows(SluiceException.class, () -> SegmentNames.parse(huge));
    assertEquals("invalid segment name \"" + "x".repeat(128) + "\u2026\" (100000 characters): expected scope/stream/N.#epoch.E "
        + "(N and E integers up to 4294967295) of at most 1024 bytes, optionally followed by #txn.<32 hex digits>", e.getMessage());
  }
}

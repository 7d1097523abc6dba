package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reader's event parser: raw segment bytes cut at every possible point (across length prefixes
 * and payloads, empty events included) give the same whole events with the same offsets, the
 * boundary stays at the last whole event, and a length above the event limit is DATA_CORRUPTION
 * before anything is allocated for it.
 */
class EventParserTest {
  private static ByteBuffer events(String... payloads) {
    int size = 0;
    for (String p : payloads) size += 4 + p.getBytes(StandardCharsets.UTF_8).length;
    ByteBuffer b = ByteBuffer.allocate(size);
    for (String p : payloads) {
      byte[] bytes = p.getBytes(StandardCharsets.UTF_8);
      b.putInt(bytes.length).put(bytes);
    }
    return b.flip();
  }

  @Test
  void everyCutGivesTheSameEvents() {
    String[] payloads = {"alpha", "", "b", "a longer payload of several bytes", ""};
    ByteBuffer all = events(payloads);
    long start = 100;
    for (int cut1 = 0; cut1 <= all.limit(); cut1++) {
      for (int cut2 = cut1; cut2 <= all.limit(); cut2++) {
        EventParser p = new EventParser("s/t/0.#epoch.0", start);
        List<ReadEvent> got = new ArrayList<>();
        got.addAll(p.push(all.slice(0, cut1)));
        assertEquals(start + boundaryAfter(all, cut1), p.boundary());
        got.addAll(p.push(all.slice(cut1, cut2 - cut1)));
        got.addAll(p.push(all.slice(cut2, all.limit() - cut2)));
        assertEquals(0, p.pendingBytes());
        assertEquals(payloads.length, got.size(), "cuts " + cut1 + "," + cut2);
        long offset = start;
        for (int i = 0; i < payloads.length; i++) {
          ReadEvent e = got.get(i);
          assertEquals(payloads[i], StandardCharsets.UTF_8.decode(e.payload()).toString());
          assertEquals(offset, e.offset());
          offset += 4 + payloads[i].getBytes(StandardCharsets.UTF_8).length;
          assertEquals(offset, e.nextOffset());
        }
      }
    }
  }

  /** The end of the last whole event within the first {@code n} bytes. */
  private static long boundaryAfter(ByteBuffer all, int n) {
    int at = 0;
    while (at + 4 <= n) {
      int len = all.getInt(at);
      if (at + 4 + len > n) break;
      at += 4 + len;
    }
    return at;
  }

  @Test
  void aLengthAboveTheEventLimitIsDataCorruption() {
    ByteBuffer bad = ByteBuffer.allocate(4).putInt(ClientConfig.EVENT_BYTES_MAX + 1).flip();
    SluiceException e = assertThrows(SluiceException.class, () -> new EventParser("s/t/0.#epoch.0", 0).push(bad));
    assertEquals(ErrorCode.DATA_CORRUPTION, e.code());
  }
}

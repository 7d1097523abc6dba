package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.wire.ConnectionPool;
import io.sluice.testing.SluiceStandalone;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Java client across a restart of the real standalone (same ports and data dir): a
 * SegmentAppender that loses its connection mid-write reconnects, sets up again and resends only
 * what was not stored (read back: every event exactly once, in order), and a SegmentReader reading
 * when the store goes away carries on from its offset after the restart.
 */
class ClientRestartTest {
  private SluiceStandalone standalone;
  private ControllerClient controller;
  private ConnectionPool pool;
  private static final ClientConfig CONFIG = ClientConfig.builder().readBytes(4 * 1024).retryCountMax(20).build();

  @BeforeEach
  void start() throws Exception {
    standalone = SluiceStandalone.start();
    controller = ControllerClient.connect(standalone.controllerUri(), CONFIG);
    pool = new ConnectionPool(CONFIG);
    controller.createScope("jr").get(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() {
    if (pool != null) pool.close();
    if (controller != null) controller.close();
    if (standalone != null) standalone.close();
  }

  static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(120, TimeUnit.SECONDS);
  }

  /** Reads {@code segment} from 0 until {@code count} events arrived (or 60 s passed). */
  List<Integer> readBack(String segment, int count) throws Exception {
    List<Integer> out = new ArrayList<>();
    try (SegmentReader r = new SegmentReader(controller, pool, CONFIG, segment, 0, -1)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (out.size() < count && System.nanoTime() < deadline) {
        ReadBatch b = await(r.read(500));
        for (ReadEvent e : b.events()) out.add(Integer.parseInt(StandardCharsets.UTF_8.decode(e.payload()).toString()));
        if (b.atTail() && b.events().isEmpty() && out.size() >= count) break;
      }
      // Nothing beyond the expected events (no duplicate appended at the end).
      ReadBatch extra = await(r.read(200));
      for (ReadEvent e : extra.events()) out.add(Integer.parseInt(StandardCharsets.UTF_8.decode(e.payload()).toString()));
    }
    return out;
  }

  @Test
  void appenderWritesExactlyOnceAcrossARestart() throws Exception {
    assertTrue(await(controller.createStream("jr", "once", 1)));
    String segment = await(controller.currentSegments("jr", "once")).get(0).segment();
    int total = 4_000;
    List<CompletableFuture<Long>> acks = new ArrayList<>();
    int unackedAtKill = 0;
    try (SegmentAppender a = new SegmentAppender(controller, pool, CONFIG, segment, UUID.randomUUID())) {
      for (int i = 0; i < total; i++) {
        acks.add(a.append(Integer.toString(i).getBytes(StandardCharsets.UTF_8)));
        if (i == total / 2) {
          // SIGKILL while blocks are in flight: some may be stored without their ack having arrived.
          standalone.kill();
          for (CompletableFuture<Long> f : acks) if (!f.isDone()) unackedAtKill++;
          standalone.restart();
        }
      }
      await(a.flush());
    }
    assertTrue(unackedAtKill > 0, "the kill came while events were unacknowledged");
    for (int i = 0; i < total; i++) assertEquals((long) i, acks.get(i).get(), "event number of event " + i);
    List<Integer> read = readBack(segment, total);
    assertEquals(total, read.size());
    for (int i = 0; i < total; i++) assertEquals(i, read.get(i));
  }

  @Test
  void readerCarriesOnAfterARestart() throws Exception {
    assertTrue(await(controller.createStream("jr", "reread", 1)));
    String segment = await(controller.currentSegments("jr", "reread")).get(0).segment();
    int total = 2_000;
    try (SegmentAppender a = new SegmentAppender(controller, pool, CONFIG, segment, UUID.randomUUID())) {
      for (int i = 0; i < total; i++) a.append(Integer.toString(i).getBytes(StandardCharsets.UTF_8));
      await(a.flush());
    }
    List<Integer> out = new ArrayList<>();
    try (SegmentReader r = new SegmentReader(controller, pool, CONFIG, segment, 0, -1)) {
      while (out.size() < total / 2) {
        for (ReadEvent e : await(r.read(0)).events()) out.add(Integer.parseInt(StandardCharsets.UTF_8.decode(e.payload()).toString()));
      }
      long offsetBefore = r.offset();
      standalone.kill();
      CompletableFuture<ReadBatch> during = r.read(0);
      standalone.restart();
      for (ReadEvent e : await(during).events()) out.add(Integer.parseInt(StandardCharsets.UTF_8.decode(e.payload()).toString()));
      assertTrue(r.offset() >= offsetBefore);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (out.size() < total && System.nanoTime() < deadline) {
        for (ReadEvent e : await(r.read(200)).events()) out.add(Integer.parseInt(StandardCharsets.UTF_8.decode(e.payload()).toString()));
      }
    }
    assertEquals(total, out.size());
    for (int i = 0; i < total; i++) assertEquals(i, out.get(i));
  }
}

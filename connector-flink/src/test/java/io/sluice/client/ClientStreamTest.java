package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.wire.ConnectionPool;
import io.sluice.client.wire.Frame;
import io.sluice.client.wire.WireConnection;
import io.sluice.testing.SluiceStandalone;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java client against a real standalone: events written by EventWriter over several keys are
 * read back by SegmentReader, none lost or duplicated and in per-key order, also across a split made
 * while writing (successors), and errors come back typed from the controller and the wire.
 */
class ClientStreamTest {
  private static SluiceStandalone standalone;
  private static ControllerClient controller;
  private static ConnectionPool pool;
  /** Events read per segment by the last readAll. */
  private static final Map<String, Integer> segmentEvents = new HashMap<>();
  private static final ClientConfig CONFIG = ClientConfig.builder().readBytes(64 * 1024).build();

  @BeforeAll
  static void start() throws Exception {
    standalone = SluiceStandalone.start();
    controller = ControllerClient.connect(standalone.controllerUri(), CONFIG);
    pool = new ConnectionPool(CONFIG);
    controller.createScope("jc").get(30, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() {
    if (pool != null) pool.close();
    if (controller != null) controller.close();
    if (standalone != null) standalone.close();
  }

  static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(60, TimeUnit.SECONDS);
  }

  /** Every event of the (sealed) stream, per segment, segments in epoch order. */
  static Map<String, List<Integer>> readAll(String scope, String stream) throws Exception {
    List<SegmentSpan> spans = new ArrayList<>(await(controller.segmentsBetween(scope, stream, null, null)));
    spans.sort(Comparator.comparingInt((SegmentSpan s) -> s.range().epoch()).thenComparingInt(s -> s.range().number()));
    Map<String, List<Integer>> perKey = new HashMap<>();
    for (SegmentSpan span : spans) {
      try (SegmentReader r = new SegmentReader(controller, pool, CONFIG, span.range().segment(), span.startOffset(), -1)) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!r.finished()) {
          assertTrue(System.nanoTime() < deadline, "reading " + span.range().segment() + " did not finish");
          ReadBatch b = await(r.read(1_000));
          for (ReadEvent e : b.events()) {
            String[] kv = StandardCharsets.UTF_8.decode(e.payload()).toString().split(":");
            perKey.computeIfAbsent(kv[0], k -> new ArrayList<>()).add(Integer.parseInt(kv[1]));
            segmentEvents.merge(span.range().segment(), 1, Integer::sum);
          }
        }
      }
    }
    return perKey;
  }

  static void assertInOrder(Map<String, List<Integer>> perKey, int keys, int perKeyCount) {
    assertEquals(keys, perKey.size());
    for (Map.Entry<String, List<Integer>> e : perKey.entrySet()) {
      List<Integer> seq = e.getValue();
      assertEquals(perKeyCount, seq.size(), "events of key " + e.getKey());
      for (int i = 0; i < seq.size(); i++) assertEquals(i, seq.get(i), "event " + i + " of key " + e.getKey());
    }
  }

  @Test
  void writesTenThousandEventsAndReadsThemBackInKeyOrder() throws Exception {
    assertTrue(await(controller.createStream("jc", "tenk", 4)));
    EventWriter writer = await(EventWriter.open(controller, pool, CONFIG, "jc", "tenk"));
    int keys = 16;
    int perKey = 625;
    List<CompletableFuture<Void>> writes = new ArrayList<>();
    for (int i = 0; i < perKey; i++) {
      for (int k = 0; k < keys; k++) writes.add(writer.writeEvent("key" + k, ("key" + k + ":" + i).getBytes(StandardCharsets.UTF_8)));
    }
    await(writer.flush());
    for (CompletableFuture<Void> w : writes) assertTrue(w.isDone() && !w.isCompletedExceptionally());
    writer.close();
    await(controller.sealStream("jc", "tenk"));
    assertInOrder(readAll("jc", "tenk"), keys, perKey);
  }

  @Test
  void keyOrderHoldsAcrossASplitMadeWhileWriting() throws Exception {
    assertTrue(await(controller.createStream("jc", "split", 1)));
    List<SegmentRange> first = await(controller.currentSegments("jc", "split"));
    EventWriter writer = await(EventWriter.open(controller, pool, CONFIG, "jc", "split"));
    int keys = 8;
    int perKey = 1_250;
    // The first event is durable in the original segment before the split; the split is asked for
    // while a third of the events is in flight, and the rest are written after it committed (to the
    // sealed segment first: the writer learns of the split from SEGMENT_SEALED).
    await(writer.writeEvent("k0", "k0:0".getBytes(StandardCharsets.UTF_8)));
    for (int i = 0; i < perKey; i++) {
      for (int k = 0; k < keys; k++) {
        if (i > 0 || k > 0) writer.writeEvent("k" + k, ("k" + k + ":" + i).getBytes(StandardCharsets.UTF_8));
      }
      if (i == perKey / 3) {
        List<SegmentRange> scaled = await(controller.scale("jc", "split", List.of(first.get(0).segment()),
            List.of(new double[] {0, 0.5}, new double[] {0.5, 1})));
        assertEquals(2, scaled.size());
      }
    }
    await(writer.flush());
    writer.close();
    List<Successor> successors = await(controller.successors(first.get(0).segment()));
    assertEquals(2, successors.size());
    for (Successor s : successors) assertEquals(List.of(first.get(0).segment()), s.predecessors());
    await(controller.sealStream("jc", "split"));
    Map<String, List<Integer>> read = readAll("jc", "split");
    assertInOrder(read, keys, perKey);
    // The split happened while events were in flight: both the sealed segment and its successors hold some.
    assertTrue(segmentEvents.getOrDefault(first.get(0).segment(), 0) > 0);
    for (Successor s : successors) assertTrue(segmentEvents.getOrDefault(s.range().segment(), 0) > 0, "events in " + s.range().segment());
  }

  @Test
  void controllerErrorsComeBackTyped() throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class, () -> await(controller.currentSegments("jc", "no-such-stream")));
    assertEquals(ErrorCode.NO_SUCH_STREAM, ((SluiceException) e.getCause()).code());
    ExecutionException s = assertThrows(ExecutionException.class, () -> await(controller.createStream("no-such-scope", "x", 1)));
    assertEquals(ErrorCode.NO_SUCH_SCOPE, ((SluiceException) s.getCause()).code());
  }

  @Test
  void wireErrorsComeBackTyped() throws Exception {
    try (WireConnection c = await(WireConnection.open("127.0.0.1", standalone.segmentStorePort(), CONFIG))) {
      CompletableFuture<Frame.SegmentRead> read =
          c.call(id -> new Frame.ReadSegment(id, "jc/nothing/7.#epoch.0", 0, 1024, 0), Frame.SegmentRead.class, 10_000);
      ExecutionException e = assertThrows(ExecutionException.class, () -> await(read));
      assertEquals(ErrorCode.NO_SUCH_SEGMENT, ((SluiceException) e.getCause()).code());
      assertTrue(c.isOpen());
    }
  }

  @Test
  void controllerUriFormsAndFailoverToTheNextTarget() throws Exception {
    assertThrows(SluiceException.class, () -> ControllerClient.connect("http://x"));
    // The first target refuses connections; the call moves on to the second.
    int port = standalone.controllerPort();
    try (ControllerClient two = ControllerClient.connect("tcp://127.0.0.1:1,127.0.0.1:" + port, CONFIG)) {
      assertTrue(await(two.currentSegments("jc", "failover-none").handle((v, e) -> e)) instanceof SluiceException se
          && se.code() == ErrorCode.NO_SUCH_STREAM);
    }
    try (ControllerClient bare = ControllerClient.connect("127.0.0.1:" + port, CONFIG)) {
      assertEquals(false, await(bare.createScope("jc")));
    }
    try (ControllerClient none = ControllerClient.connect("tcp://127.0.0.1:1", CONFIG)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> await(none.createScope("jc")));
      assertEquals(ErrorCode.UNAVAILABLE, ((SluiceException) e.getCause()).code());
    }
  }

  @Test
  void appenderFailsSealedAfterTheSealAndKeepsWhatWasStored() throws Exception {
    assertTrue(await(controller.createStream("jc", "sealme", 1)));
    String segment = await(controller.currentSegments("jc", "sealme")).get(0).segment();
    try (SegmentAppender a = new SegmentAppender(controller, pool, CONFIG, segment, java.util.UUID.randomUUID())) {
      assertEquals(0L, await(a.append("x:0".getBytes(StandardCharsets.UTF_8))));
      await(controller.sealStream("jc", "sealme"));
      ExecutionException e = assertThrows(ExecutionException.class, () -> await(a.append("x:1".getBytes(StandardCharsets.UTF_8))));
      assertEquals(ErrorCode.SEGMENT_SEALED, ((SluiceException) e.getCause()).code());
      assertEquals(0L, await(a.sealedAt()));
    }
    assertEquals(Map.of("x", List.of(0)), readAll("jc", "sealme"));
  }
}

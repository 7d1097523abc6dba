package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientConfig;
import io.sluice.client.PositionedSegment;
import io.sluice.client.SegmentSpan;
import io.sluice.client.Successor;
import java.util.List;
import org.apache.flink.api.connector.source.SourceEvent;
import org.junit.jupiter.api.Test;

/**
 * Proves the enumerator's handling of finished reports across checkpoints and restores, with a
 * scripted controller and context: successors are assigned exactly once, only after the fence, a
 * re-reported marker is acknowledged, and nothing stalls.
 */
class SluiceSplitEnumeratorTest {
  static final String A = "sc/s/0.#epoch.0";
  static final String B = "sc/s/1.#epoch.1";
  static final String C = "sc/s/2.#epoch.1";

  static SluiceSourceSettings settings(StreamPosition stop, OrderingMode mode) {
    return new SluiceSourceSettings("tcp://127.0.0.1:1", List.of("sc/s"), StreamPosition.head(), stop, mode, ClientConfig.defaults(), 1000, 100);
  }

  static ScriptedMetadata splitGraph() {
    ScriptedMetadata m = new ScriptedMetadata();
    m.head.add(new PositionedSegment(ScriptedMetadata.range(A, 0, 1), 0));
    m.successors.put(A, List.of(new Successor(ScriptedMetadata.range(B, 0, 0.5), List.of(A)), new Successor(ScriptedMetadata.range(C, 0.5, 1), List.of(A))));
    return m;
  }

  static SluiceSplitEnumerator start(ScriptedEnumeratorContext ctx, SluiceSourceSettings s, SluiceEnumeratorState state, ScriptedMetadata meta) {
    ctx.registerReader(0);
    ctx.registerReader(1);
    SluiceSplitEnumerator e = new SluiceSplitEnumerator(ctx, s, state, x -> meta);
    e.start();
    ctx.runAsync();
    e.addReader(0);
    e.addReader(1);
    return e;
  }

  static SluiceEnumeratorState roundTrip(SluiceEnumeratorState s) throws Exception {
    SluiceEnumeratorStateSerializer ser = SluiceEnumeratorStateSerializer.INSTANCE;
    return ser.deserialize(ser.getVersion(), ser.serialize(s));
  }

  static boolean acked(ScriptedEnumeratorContext ctx, int reader, String segment) {
    for (SourceEvent e : ctx.events.getOrDefault(reader, List.of())) {
      if (e instanceof SourceEvents.FinishedAcknowledged a && a.segments().contains(segment)) return true;
    }
    return false;
  }

  @Test
  void finishThenCheckpointBeforeTheAckThenRestoreOfBoth() throws Exception {
    ScriptedMetadata meta = splitGraph();
    SluiceSourceSettings s = settings(null, OrderingMode.CHECKPOINTED);
    ScriptedEnumeratorContext ctx1 = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e1 = start(ctx1, s, SluiceEnumeratorState.initial(), meta);
    assertEquals(List.of(A), ctx1.assignedSegments(), "the head segment is assigned once");

    assertEquals(1, ctx1.gauge("readySegments"), "A handed out");
    assertEquals(0, ctx1.gauge("pendingSegments"));
    e1.handleSourceEvent(0, new SourceEvents.SegmentsFinished(List.of(A), List.of(100L)));
    ctx1.runAsync();
    assertEquals(List.of(A), ctx1.assignedSegments(), "no successor before a checkpoint covers the report");
    assertEquals(2, ctx1.gauge("pendingSegments"), "B and C wait for the fence");
    assertEquals(0, ctx1.gauge("readySegments"), "A finished");
    SluiceEnumeratorState checkpoint1 = roundTrip(e1.snapshotState(1));
    // The reader's state of checkpoint 1 still holds its marker: the ack was never sent or never arrived.
    e1.notifyCheckpointComplete(1);
    assertEquals(List.of(A, B, C), ctx1.assignedSegments(), "successors after the checkpoint completed");
    assertEquals(2, ctx1.gauge("readySegments"));
    assertEquals(0, ctx1.gauge("pendingSegments"));
    assertEquals(0, ctx1.gauge("unassignedSplits"));
    e1.close();

    // Failure: restore the enumerator (and the reader, with its marker) from checkpoint 1.
    ScriptedEnumeratorContext ctx2 = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e2 = start(ctx2, s, checkpoint1, meta);
    assertEquals(List.of(B, C), ctx2.assignedSegments().stream().sorted().toList(), "the restored graph releases the successors");
    e2.handleSourceEvent(1, new SourceEvents.SegmentsFinished(List.of(A), List.of(100L)));
    ctx2.runAsync();
    assertTrue(acked(ctx2, 1, A), "a re-reported marker already covered is acknowledged at once");
    for (int i = 0; i < 3; i++) ctx2.tick();
    e2.notifyCheckpointComplete(2);
    assertEquals(2, ctx2.assignedSegments().size(), "each successor assigned exactly once: " + ctx2.assignedSegments());
  }

  @Test
  void aMarkerTheEnumeratorNeverSawIsReReportedAndReleasedAfterTheNextCheckpoint() throws Exception {
    ScriptedMetadata meta = splitGraph();
    SluiceSourceSettings s = settings(null, OrderingMode.CHECKPOINTED);
    ScriptedEnumeratorContext ctx1 = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e1 = start(ctx1, s, SluiceEnumeratorState.initial(), meta);
    // The enumerator snapshots first; the reader finishes A before its own snapshot of the same checkpoint.
    SluiceEnumeratorState checkpoint1 = roundTrip(e1.snapshotState(1));
    e1.close();

    ScriptedEnumeratorContext ctx2 = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e2 = start(ctx2, s, checkpoint1, meta);
    assertEquals(List.of(), ctx2.assignedSegments(), "A lives in the reader's state, not re-assigned");
    e2.handleSourceEvent(0, new SourceEvents.SegmentsFinished(List.of(A), List.of(100L)));
    ctx2.runAsync();
    assertEquals(List.of(), ctx2.assignedSegments(), "fenced: nothing before the next checkpoint");
    assertTrue(!acked(ctx2, 0, A), "not acknowledged before a checkpoint holds it");
    e2.snapshotState(2);
    e2.notifyCheckpointComplete(2);
    assertEquals(List.of(B, C), ctx2.assignedSegments().stream().sorted().toList());
    assertTrue(acked(ctx2, 0, A), "acknowledged once covered");
  }

  @Test
  void relaxedReleasesAtTheReport() {
    ScriptedMetadata meta = splitGraph();
    ScriptedEnumeratorContext ctx = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e = start(ctx, settings(null, OrderingMode.RELAXED), SluiceEnumeratorState.initial(), meta);
    e.handleSourceEvent(0, new SourceEvents.SegmentsFinished(List.of(A), List.of(10L)));
    ctx.runAsync();
    assertEquals(List.of(A, B, C), ctx.assignedSegments());
  }

  @Test
  void aLookupThatFindsNoSuccessorYetIsRetriedOnTheNextTick() {
    ScriptedMetadata meta = splitGraph();
    List<Successor> later = meta.successors.remove(A);
    ScriptedEnumeratorContext ctx = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e = start(ctx, settings(null, OrderingMode.RELAXED), SluiceEnumeratorState.initial(), meta);
    e.handleSourceEvent(0, new SourceEvents.SegmentsFinished(List.of(A), List.of(10L)));
    ctx.runAsync();
    assertEquals(List.of(A), ctx.assignedSegments(), "sealed, scale not committed yet");
    meta.successors.put(A, later);
    ctx.tick();
    assertEquals(List.of(A, B, C), ctx.assignedSegments());
  }

  @Test
  void aBoundedSourceSignalsNoMoreSplitsOnceEverySegmentBetweenItsCutsIsRead() {
    ScriptedMetadata meta = splitGraph();
    meta.spans.add(new SegmentSpan(ScriptedMetadata.range(A, 0, 1), 0, -1));
    meta.spans.add(new SegmentSpan(ScriptedMetadata.range(B, 0, 0.5), 0, 40));
    meta.spans.add(new SegmentSpan(ScriptedMetadata.range(C, 0.5, 1), 0, 70));
    ScriptedEnumeratorContext ctx = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e = start(ctx, settings(StreamPosition.tail(), OrderingMode.RELAXED), SluiceEnumeratorState.initial(), meta);
    e.handleSourceEvent(0, new SourceEvents.SegmentsFinished(List.of(A), List.of(10L)));
    ctx.runAsync();
    long endB = ctx.assigned.values().stream().flatMap(List::stream).filter(x -> x.segment().equals(B)).findFirst().orElseThrow().endOffset();
    assertEquals(40, endB, "a successor stops at the stop cut");
    assertEquals(List.of(), ctx.noMoreSplits);
    e.handleSourceEvent(1, new SourceEvents.SegmentsFinished(List.of(B, C), List.of(40L, 70L)));
    ctx.runAsync();
    assertEquals(List.of(0, 1), ctx.noMoreSplits.stream().sorted().toList());
  }

  @Test
  void aReaderThatFailsBeforeACheckpointCoveredItsReportMustReportAgain() {
    ScriptedMetadata meta = splitGraph();
    ScriptedEnumeratorContext ctx = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e = start(ctx, settings(null, OrderingMode.CHECKPOINTED), SluiceEnumeratorState.initial(), meta);
    int owner = ctx.assigned.keySet().iterator().next();
    e.handleSourceEvent(owner, new SourceEvents.SegmentsFinished(List.of(A), List.of(100L)));
    ctx.runAsync();
    // The reader fails before checkpoint 2 completes (a regional restart: the enumerator is kept).
    ctx.unregisterReader(owner);
    e.addSplitsBack(List.of(), owner);
    e.snapshotState(2);
    e.notifyCheckpointComplete(2);
    assertEquals(List.of(A), ctx.assignedSegments(), "no successor while A is read again from its checkpoint");
    assertTrue(!acked(ctx, owner, A) && !acked(ctx, 1 - owner, A), "A not acknowledged");
    ctx.registerReader(owner);
    e.addReader(owner);
    e.handleSourceEvent(owner, new SourceEvents.SegmentsFinished(List.of(A), List.of(100L)));
    ctx.runAsync();
    e.snapshotState(3);
    e.notifyCheckpointComplete(3);
    assertEquals(List.of(A, B, C), ctx.assignedSegments().stream().sorted().toList(), "released once A was reported again and covered");
  }

  @Test
  void splitsOfAFailedReaderWaitForItsNextAttemptNotForAFinishedReader() {
    ScriptedMetadata meta = new ScriptedMetadata();
    meta.head.add(new PositionedSegment(ScriptedMetadata.range(A, 0, 0.5), 0));
    meta.head.add(new PositionedSegment(ScriptedMetadata.range(B, 0.5, 1), 0));
    meta.spans.add(new SegmentSpan(ScriptedMetadata.range(A, 0, 0.5), 0, 10));
    meta.spans.add(new SegmentSpan(ScriptedMetadata.range(B, 0.5, 1), 0, 10));
    ScriptedEnumeratorContext ctx = new ScriptedEnumeratorContext();
    SluiceSplitEnumerator e = start(ctx, settings(StreamPosition.tail(), OrderingMode.RELAXED), SluiceEnumeratorState.initial(), meta);
    assertEquals(2, ctx.assignedSegments().size());
    int readerOfA = ctx.assigned.entrySet().stream().filter(x -> x.getValue().stream().anyMatch(s -> s.segment().equals(A))).findFirst().orElseThrow().getKey();
    int other = 1 - readerOfA;
    e.handleSourceEvent(readerOfA, new SourceEvents.SegmentsFinished(List.of(A), List.of(10L)));
    e.handleSourceEvent(other, new SourceEvents.SegmentsFinished(List.of(B), List.of(10L)));
    ctx.runAsync();
    assertEquals(List.of(0, 1), ctx.noMoreSplits.stream().sorted().toList(), "both read everything");
    // BATCH mode: the reader of A fails; its output is gone, so A comes back (no checkpoint ever covered it).
    ctx.unregisterReader(readerOfA);
    e.addSplitsBack(List.of(SluiceSplit.of("sc/s", ScriptedMetadata.range(A, 0, 0.5), 0, 10)), readerOfA);
    assertEquals(1, ctx.assigned.get(other).size(), "never handed to the reader that was told no more splits");
    ctx.registerReader(readerOfA);
    e.addReader(readerOfA);
    assertEquals(2, ctx.assigned.get(readerOfA).size(), "A goes to the failed reader's next attempt");
    assertEquals(2, ctx.noMoreSplits.size(), "no second 'no more splits' before A is read again");
    e.handleSourceEvent(readerOfA, new SourceEvents.SegmentsFinished(List.of(A), List.of(10L)));
    ctx.runAsync();
    assertEquals(3, ctx.noMoreSplits.size(), "the job may finish once A is read again");
  }

  @Test
  void anErrorNoRetryCanFixFailsTheJob() {
    ScriptedMetadata meta = new ScriptedMetadata() {
      @Override
      public java.util.concurrent.CompletableFuture<List<PositionedSegment>> segmentsAtCut(String scope, String stream, io.sluice.client.StreamCut cut) {
        return java.util.concurrent.CompletableFuture.failedFuture(new io.sluice.client.SluiceException(io.sluice.client.ErrorCode.NO_SUCH_STREAM, "stream sc/s does not exist"));
      }
    };
    ScriptedEnumeratorContext ctx = new ScriptedEnumeratorContext();
    ctx.registerReader(0);
    SluiceSplitEnumerator e = new SluiceSplitEnumerator(ctx, settings(null, OrderingMode.CHECKPOINTED), SluiceEnumeratorState.initial(), x -> meta);
    e.start();
    RuntimeException thrown = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, ctx::runAsync);
    assertTrue(thrown.getMessage().contains("does not exist"), thrown.getMessage());
  }
}

package io.sluice.flink.source;

import io.sluice.client.PositionedSegment;
import io.sluice.client.SegmentRange;
import io.sluice.client.SegmentSpan;
import io.sluice.client.StreamCut;
import io.sluice.client.StreamInfo;
import io.sluice.client.Successor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** A controller whose segment graph a test writes: initial segments, successors, and (bounded) spans. */
class ScriptedMetadata implements StreamMetadata {
  final List<PositionedSegment> head = new ArrayList<>();
  final Map<String, List<Successor>> successors = new HashMap<>();
  final List<SegmentSpan> spans = new ArrayList<>();
  int successorCalls;

  static SegmentRange range(String name, double from, double to) {
    return new SegmentRange(name, 0, 0, from, to);
  }

  @Override
  public CompletableFuture<StreamInfo> streamInfo(String scope, String stream) {
    return CompletableFuture.completedFuture(new StreamInfo(scope, stream, 0, List.of(), null, null, false));
  }

  @Override
  public CompletableFuture<List<PositionedSegment>> segmentsAtCut(String scope, String stream, StreamCut cut) {
    return CompletableFuture.completedFuture(List.copyOf(head));
  }

  @Override
  public CompletableFuture<List<SegmentSpan>> segmentsBetween(String scope, String stream, StreamCut from, StreamCut to) {
    return CompletableFuture.completedFuture(List.copyOf(spans));
  }

  @Override
  public CompletableFuture<List<Successor>> successors(String segment) {
    successorCalls++;
    return CompletableFuture.completedFuture(successors.getOrDefault(segment, List.of()));
  }

  @Override
  public void close() {}
}

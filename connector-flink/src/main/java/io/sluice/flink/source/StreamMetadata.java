package io.sluice.flink.source;

import io.sluice.client.ControllerClient;
import io.sluice.client.PositionedSegment;
import io.sluice.client.SegmentSpan;
import io.sluice.client.StreamCut;
import io.sluice.client.StreamInfo;
import io.sluice.client.Successor;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The controller calls the enumerator makes, as an interface so the enumerator's rules can be tested
 * against a scripted segment graph. {@link #of} is the real one.
 */
interface StreamMetadata extends AutoCloseable {
  CompletableFuture<StreamInfo> streamInfo(String scope, String stream);

  /** {@code cut} null: the head. */
  CompletableFuture<List<PositionedSegment>> segmentsAtCut(String scope, String stream, StreamCut cut);

  CompletableFuture<List<SegmentSpan>> segmentsBetween(String scope, String stream, StreamCut from, StreamCut to);

  CompletableFuture<List<Successor>> successors(String segment);

  @Override
  void close();

  static StreamMetadata of(ControllerClient c) {
    return new StreamMetadata() {
      @Override
      public CompletableFuture<StreamInfo> streamInfo(String scope, String stream) {
        return c.streamInfo(scope, stream);
      }

      @Override
      public CompletableFuture<List<PositionedSegment>> segmentsAtCut(String scope, String stream, StreamCut cut) {
        return c.segmentsAtCut(scope, stream, cut);
      }

      @Override
      public CompletableFuture<List<SegmentSpan>> segmentsBetween(String scope, String stream, StreamCut from, StreamCut to) {
        return c.segmentsBetween(scope, stream, from, to);
      }

      @Override
      public CompletableFuture<List<Successor>> successors(String segment) {
        return c.successors(segment);
      }

      @Override
      public void close() {
        c.close();
      }
    };
  }
}

package io.sluice.flink.source;

import io.sluice.client.PositionedSegment;
import io.sluice.client.SegmentNames;
import io.sluice.client.SegmentSpan;
import io.sluice.client.StreamCut;
import io.sluice.client.StreamInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Resolves where a source starts (and stops) through the controller: the segments at the start
 * position of each stream, and for a bounded source every segment between the start and the stop
 * cut with the offset it ends at. Runs on Flink's worker threads (the enumerator's callAsync), never
 * on its coordinator thread; the calls block, each with a deadline.
 */
final class StartResolver {
  private StartResolver() {}

  /** The start segments (and, when bounded, every segment between the cuts with its end) of every stream. */
  static Discovery resolve(SluiceSourceSettings settings, StreamMetadata controller) throws Exception {
    List<SluiceSplit> splits = new ArrayList<>();
    Map<String, Long> spans = settings.bounded() ? new LinkedHashMap<>() : null;
    for (String stream : settings.streams()) {
      String[] sc = SegmentNames.parseStreamName(stream);
      StreamInfo info = null;
      if (settings.start().kind() == StreamPosition.Kind.TAIL || (settings.bounded() && settings.stop().kind() == StreamPosition.Kind.TAIL)) {
        info = await(controller.streamInfo(sc[0], sc[1]), settings);
      }
      StreamCut from = switch (settings.start().kind()) {
        case HEAD -> null;
        case TAIL -> info.tail();
        case CUTS -> settings.start().cutOf(stream);
      };
      List<PositionedSegment> at = await(controller.segmentsAtCut(sc[0], sc[1], from), settings);
      if (spans != null) {
        StreamCut to = settings.stop().kind() == StreamPosition.Kind.TAIL ? info.tail() : settings.stop().cutOf(stream);
        for (SegmentSpan span : await(controller.segmentsBetween(sc[0], sc[1], from, to), settings)) {
          spans.put(span.range().segment(), span.endOffset());
        }
      }
      for (PositionedSegment p : at) {
        long end = SluiceSplit.NO_END;
        if (spans != null) {
          Long e = spans.get(p.range().segment());
          if (e == null) continue; // the stop cut lies before this segment: nothing of it to read
          end = e;
        }
        splits.add(SluiceSplit.of(stream, p.range(), p.offset(), end));
      }
    }
    return new Discovery(splits, spans);
  }

  /** What {@link #resolve} found: the splits to start with, and for a bounded source segment -> end offset. */
  record Discovery(List<SluiceSplit> splits, Map<String, Long> bounds) {}

  /** Waits for a controller call, a little longer than the call's own deadline; unwraps its error. */
  static <T> T await(CompletableFuture<T> f, SluiceSourceSettings settings) throws Exception {
    try {
      return f.get(settings.client().controllerCallTimeoutMs() + 5_000L, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Exception ex) throw ex;
      throw e;
    } catch (TimeoutException e) {
      f.cancel(true);
      throw e;
    }
  }
}

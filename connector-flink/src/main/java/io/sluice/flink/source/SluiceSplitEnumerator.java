package io.sluice.flink.source;

import io.sluice.client.PositionedSegment;
import io.sluice.client.SegmentSpan;
import io.sluice.client.StreamCut;
import io.sluice.client.StreamInfo;
import io.sluice.client.Successor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the segment graph of a source's streams and hands segments to readers as splits.
 *
 * <p>At start it resolves the start position (and, when bounded, every segment between the start
 * and the stop cut) through the controller; then it releases successors as {@link SegmentGraph}
 * allows: when all predecessors were reported finished and (by default) a completed checkpoint
 * covered those reports. Every controller call runs on Flink's worker threads through {@code
 * callAsync}; its result is applied on the coordinator thread, which never blocks.
 *
 * <p>Splits go to the registered reader with the fewest splits. A bounded source tells each reader
 * that no more splits come once every segment between its cuts was read to its end.
 */
final class SluiceSplitEnumerator implements SplitEnumerator<SluiceSplit, SluiceEnumeratorState> {
  private static final Logger LOG = LoggerFactory.getLogger(SluiceSplitEnumerator.class);

  private final SplitEnumeratorContext<SluiceSplit> context;
  private final SluiceSourceSettings settings;
  private final Function<SluiceSourceSettings, StreamMetadata> controllerFactory;
  private final SegmentGraph graph;
  private final Deque<SluiceSplit> unassigned = new ArrayDeque<>();
  private final Map<Integer, Integer> splitsPerReader = new HashMap<>();
  private final Set<String> lookupsInFlight = new HashSet<>();
  private final Set<Integer> toldNoMoreSplits = new HashSet<>();
  private Map<String, Long> bounds;
  private boolean initialized;
  private boolean discovering;
  private StreamMetadata controller;

  SluiceSplitEnumerator(SplitEnumeratorContext<SluiceSplit> context, SluiceSourceSettings settings, SluiceEnumeratorState state, Function<SluiceSourceSettings, StreamMetadata> controllerFactory) {
    this.context = context;
    this.settings = settings;
    this.controllerFactory = controllerFactory;
    this.graph = new SegmentGraph(settings.fence(), state.released(), state.finished(), state.successorsKnown(), state.waiting());
    this.unassigned.addAll(state.unassigned());
    this.bounds = state.bounds() == null ? null : new LinkedHashMap<>(state.bounds());
    this.initialized = state.initialized();
    context.metricGroup().gauge("readySegments", () -> unassigned.size() + splitsPerReader.values().stream().mapToInt(Integer::intValue).sum());
    context.metricGroup().gauge("pendingSegments", graph::waitingCount);
  }

  @Override
  public void start() {
    controller = controllerFactory.apply(settings);
    if (!initialized) discover();
    // Retries lookups that failed or found no successor yet (a scale seals first, then commits).
    context.callAsync(() -> null, (ignored, error) -> tick(), settings.successorPollMs(), settings.successorPollMs());
    // After a restore: successors the restored graph may already release, and lookups to redo.
    releaseReady();
    tick();
  }

  private void discover() {
    if (discovering) return;
    discovering = true;
    context.callAsync(this::resolveStart, (result, error) -> {
      discovering = false;
      if (error != null) {
        LOG.warn("Sluice source: resolving the start position of {} failed; retrying: {}", settings.streams(), error.toString());
        return; // tick() tries again
      }
      onDiscovered(result);
    });
  }

  /** Worker thread: the start segments (and bounds) of every stream. */
  private Discovery resolveStart() throws Exception {
    List<SluiceSplit> splits = new ArrayList<>();
    Map<String, Long> spans = settings.bounded() ? new LinkedHashMap<>() : null;
    for (String stream : settings.streams()) {
      String[] sc = stream.split("/", 2);
      StreamInfo info = null;
      if (settings.start().kind() == StreamPosition.Kind.TAIL || (settings.bounded() && settings.stop().kind() == StreamPosition.Kind.TAIL)) {
        info = await(controller.streamInfo(sc[0], sc[1]));
      }
      StreamCut from = switch (settings.start().kind()) {
        case HEAD -> null;
        case TAIL -> info.tail();
        case CUTS -> settings.start().cutOf(stream);
      };
      List<PositionedSegment> at = await(controller.segmentsAtCut(sc[0], sc[1], from));
      if (spans != null) {
        StreamCut to = settings.stop().kind() == StreamPosition.Kind.TAIL ? info.tail() : settings.stop().cutOf(stream);
        if (settings.stop().kind() == StreamPosition.Kind.HEAD) {
          throw new IllegalArgumentException("a source cannot stop at the head");
        }
        for (SegmentSpan span : await(controller.segmentsBetween(sc[0], sc[1], from, to))) {
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

  private record Discovery(List<SluiceSplit> splits, Map<String, Long> bounds) {}

  private void onDiscovered(Discovery d) {
    if (initialized) return;
    bounds = d.bounds();
    for (SluiceSplit s : d.splits()) {
      if (graph.release(s.segment())) unassigned.add(s);
    }
    initialized = true;
    LOG.info("Sluice source: {} from {} to {}: {} segments to start with{}", settings.streams(), settings.start(), settings.bounded() ? settings.stop() : "never", d.splits().size(), bounds == null ? "" : ", " + bounds.size() + " segments in all");
    assignPending();
    checkNoMoreSplits();
  }

  private void tick() {
    if (!initialized) {
      discover();
      return;
    }
    for (String segment : graph.successorsNeeded()) lookUpSuccessors(segment);
  }

  private void lookUpSuccessors(String segment) {
    if (!lookupsInFlight.add(segment)) return;
    context.callAsync(() -> await(controller.successors(segment)), (successors, error) -> {
      lookupsInFlight.remove(segment);
      if (error != null) {
        LOG.warn("Sluice source: successors of {} not found yet; retrying: {}", segment, error.toString());
        return;
      }
      if (successors.isEmpty() && bounds == null) return; // sealed but the scale is not committed yet (or the stream was sealed): ask again later
      graph.addSuccessors(segment, successors, bounds == null ? name -> true : bounds::containsKey);
      releaseReady();
    });
  }

  private void releaseReady() {
    if (!initialized) return;
    for (Successor s : graph.takeReady()) {
      String name = s.range().segment();
      long end = bounds == null ? SluiceSplit.NO_END : bounds.getOrDefault(name, SluiceSplit.NO_END);
      unassigned.add(SluiceSplit.of(streamOf(name), s.range(), 0, end));
      LOG.info("Sluice source: successor {} released (predecessors {} finished)", name, s.predecessors());
    }
    assignPending();
    checkNoMoreSplits();
  }

  private static String streamOf(String segment) {
    int second = segment.indexOf('/', segment.indexOf('/') + 1);
    return segment.substring(0, second);
  }

  private void assignPending() {
    if (context.registeredReaders().isEmpty()) return;
    while (!unassigned.isEmpty()) {
      SluiceSplit split = unassigned.poll();
      int reader = leastLoadedReader();
      splitsPerReader.merge(reader, 1, Integer::sum);
      context.assignSplit(split, reader);
    }
  }

  private int leastLoadedReader() {
    int best = -1;
    int bestLoad = Integer.MAX_VALUE;
    for (int r : context.registeredReaders().keySet()) {
      int load = splitsPerReader.getOrDefault(r, 0);
      if (load < bestLoad || (load == bestLoad && r < best)) {
        best = r;
        bestLoad = load;
      }
    }
    return best;
  }

  private void checkNoMoreSplits() {
    if (bounds == null || !initialized || !unassigned.isEmpty() || graph.waitingCount() > 0) return;
    for (String name : bounds.keySet()) if (!graph.isFinished(name)) return;
    for (int r : context.registeredReaders().keySet()) {
      if (toldNoMoreSplits.add(r)) context.signalNoMoreSplits(r);
    }
  }

  @Override
  public void handleSplitRequest(int subtaskId, String requesterHostname) {
    // Splits are pushed as they become ready; readers never need to ask.
  }

  @Override
  public void addSplitsBack(List<SluiceSplit> splits, int subtaskId) {
    splitsPerReader.merge(subtaskId, -splits.size(), Integer::sum);
    for (SluiceSplit s : splits) {
      if (s.finished()) continue;
      unassigned.add(s);
    }
    toldNoMoreSplits.remove(subtaskId);
    assignPending();
  }

  @Override
  public void addReader(int subtaskId) {
    splitsPerReader.putIfAbsent(subtaskId, 0);
    toldNoMoreSplits.remove(subtaskId);
    assignPending();
    checkNoMoreSplits();
  }

  @Override
  public void handleSourceEvent(int subtaskId, SourceEvent event) {
    if (!(event instanceof SourceEvents.SegmentsFinished finished)) {
      LOG.warn("Sluice source: unexpected event from reader {}: {}", subtaskId, event);
      return;
    }
    List<String> ackNow = new ArrayList<>();
    for (String segment : finished.segments()) {
      switch (graph.finish(segment)) {
        case NEW -> {
          splitsPerReader.merge(subtaskId, -1, (a, b) -> Math.max(0, a + b));
          lookUpSuccessors(segment);
        }
        case REPEATED -> { }
        case COVERED -> ackNow.add(segment);
      }
    }
    if (!ackNow.isEmpty()) context.sendEventToSourceReader(subtaskId, new SourceEvents.FinishedAcknowledged(ackNow));
    releaseReady();
  }

  @Override
  public SluiceEnumeratorState snapshotState(long checkpointId) {
    graph.snapshot(checkpointId);
    return new SluiceEnumeratorState(initialized, new ArrayList<>(unassigned), new ArrayList<>(graph.released()), graph.finished(), new ArrayList<>(graph.successorsKnown()), new ArrayList<>(graph.waiting()), bounds);
  }

  @Override
  public void notifyCheckpointComplete(long checkpointId) {
    List<String> covered = graph.checkpointComplete(checkpointId);
    if (covered.isEmpty()) return;
    // Any reader may hold the marker (markers move with reader state on rescaling): tell all.
    SourceEvents.FinishedAcknowledged ack = new SourceEvents.FinishedAcknowledged(covered);
    for (int r : context.registeredReaders().keySet()) context.sendEventToSourceReader(r, ack);
    releaseReady();
  }

  @Override
  public void close() {
    if (controller != null) controller.close();
  }

  private <T> T await(java.util.concurrent.CompletableFuture<T> f) throws Exception {
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

package io.sluice.flink.source;

import io.sluice.client.SegmentNames;
import io.sluice.client.SluiceException;
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
  /** Splits a failed reader gave back, kept for that subtask's next attempt. */
  private final Map<Integer, List<SluiceSplit>> returned = new HashMap<>();
  private long lastSnapshotNs = System.nanoTime();
  private boolean warnedNoCheckpoint;
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
    // Metrics: segments released and not finished (handed out, or waiting for a reader), successors
    // waiting for their predecessors or the fence, and Flink's standard unassigned-splits gauge.
    context.metricGroup().gauge("readySegments", () -> (long) (unassignedCount() + splitsPerReader.values().stream().mapToInt(Integer::intValue).sum()));
    context.metricGroup().gauge("pendingSegments", () -> (long) graph.waitingCount());
    context.metricGroup().setUnassignedSplitsGauge(() -> (long) unassignedCount());
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
    context.callAsync(() -> StartResolver.resolve(settings, controller), (result, error) -> {
      discovering = false;
      if (error != null) {
        failIfFinal("resolving the start position of " + settings.streams(), error);
        LOG.warn("Sluice source: resolving the start position of {} failed; retrying: {}", settings.streams(), error.toString());
        return; // tick() tries again
      }
      onDiscovered(result);
    });
  }

  private void onDiscovered(StartResolver.Discovery d) {
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
    if (!warnedNoCheckpoint && graph.waitingForCheckpoint() && System.nanoTime() - lastSnapshotNs > TimeUnit.MILLISECONDS.toNanos(NO_CHECKPOINT_WARN_MS)) {
      warnedNoCheckpoint = true;
      LOG.warn("Sluice source: successors of {} wait for a checkpoint (OrderingMode.CHECKPOINTED), but none was taken for {} s: "
          + "enable checkpointing (env.enableCheckpointing) or build the source with OrderingMode.RELAXED", settings.streams(), NO_CHECKPOINT_WARN_MS / 1000);
    }
  }

  /** How long successors may wait for a checkpoint before the enumerator warns that none is being taken. */
  static final long NO_CHECKPOINT_WARN_MS = 60_000;

  private void lookUpSuccessors(String segment) {
    if (!lookupsInFlight.add(segment)) return;
    context.callAsync(() -> await(controller.successors(segment)), (successors, error) -> {
      lookupsInFlight.remove(segment);
      if (error != null) {
        failIfFinal("looking up the successors of " + segment, error);
        LOG.warn("Sluice source: successors of {} not found yet; retrying: {}", segment, error.toString());
        return;
      }
      if (successors.isEmpty() && bounds == null) {
        // Sealed by a scale not committed yet (ask again), or the whole stream was sealed (stop asking).
        checkStreamSealed(segment);
        return;
      }
      graph.addSuccessors(segment, successors, bounds == null ? name -> true : bounds::containsKey);
      releaseReady();
    });
  }

  private int unassignedCount() {
    int n = unassigned.size();
    for (List<SluiceSplit> back : returned.values()) n += back.size();
    return n;
  }

  private void checkStreamSealed(String segment) {
    if (!lookupsInFlight.add(segment)) return;
    SegmentNames.Parsed of = SegmentNames.parse(segment);
    context.callAsync(() -> await(controller.streamInfo(of.scope(), of.stream())), (info, error) -> {
      lookupsInFlight.remove(segment);
      if (error != null) {
        failIfFinal("reading stream " + of.scope() + "/" + of.stream(), error);
        return;
      }
      if (info.sealed()) {
        LOG.info("Sluice source: {} ends {}: the stream is sealed", segment, info.scope() + "/" + info.stream());
        graph.addSuccessors(segment, List.of(), name -> true);
      }
    });
  }

  /**
   * An error no retry can fix (the stream was deleted, a cut does not fit it, a name is invalid)
   * fails the job: thrown from a callAsync handler, Flink fails the job with it.
   */
  private static void failIfFinal(String what, Throwable error) {
    Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
    boolean retriable = cause instanceof SluiceException se ? se.retriable() : cause instanceof TimeoutException || cause instanceof java.io.IOException;
    if (!retriable) {
      String code = cause instanceof SluiceException se ? se.code() + ": " : "";
      throw new SluiceSourceException("Sluice source: " + what + " failed: " + code + cause.getMessage(), cause);
    }
  }

  /** The error a source fails its job with when the controller says something no retry can fix. */
  static final class SluiceSourceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    SluiceSourceException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private void releaseReady() {
    if (!initialized) return;
    for (Successor s : graph.takeReady()) {
      String name = s.range().segment();
      long end = bounds == null ? SluiceSplit.NO_END : bounds.getOrDefault(name, SluiceSplit.NO_END);
      SegmentNames.Parsed parsed = SegmentNames.parse(name);
      unassigned.add(SluiceSplit.of(parsed.scope() + "/" + parsed.stream(), s.range(), 0, end));
      LOG.info("Sluice source: successor {} released (predecessors {} finished)", name, s.predecessors());
    }
    assignPending();
    checkNoMoreSplits();
  }

  private void assignPending() {
    while (!unassigned.isEmpty()) {
      int reader = leastLoadedReader();
      if (reader < 0) return; // no reader to take it yet
      SluiceSplit split = unassigned.poll();
      splitsPerReader.merge(reader, 1, Integer::sum);
      context.assignSplit(split, reader);
    }
  }

  private int leastLoadedReader() {
    int best = -1;
    int bestLoad = Integer.MAX_VALUE;
    for (int r : context.registeredReaders().keySet()) {
      if (toldNoMoreSplits.contains(r)) continue; // it may have finished: a split sent now would be lost
      int load = splitsPerReader.getOrDefault(r, 0);
      if (load < bestLoad || (load == bestLoad && r < best)) {
        best = r;
        bestLoad = load;
      }
    }
    return best;
  }

  private void checkNoMoreSplits() {
    if (bounds == null || !initialized || !unassigned.isEmpty() || !returned.isEmpty() || graph.waitingCount() > 0) return;
    for (String name : bounds.keySet()) if (!graph.isFinished(name)) return;
    for (int r : context.registeredReaders().keySet()) {
      if (toldNoMoreSplits.add(r)) context.signalNoMoreSplits(r);
    }
  }

  @Override
  public void handleSplitRequest(int subtaskId, String requesterHostname) {
    // Splits are pushed as they become ready; readers never need to ask.
  }

  /**
   * Splits of a failed reader come back here (those assigned after its last checkpoint). They wait
   * for that subtask's next attempt, as in Flink's Kafka source: another reader may already have
   * been told that no more splits come. The failed reader's reports not yet covered by a checkpoint
   * no longer count (SegmentGraph rule 5): it re-reads those segments' ends from its checkpoint.
   */
  @Override
  public void addSplitsBack(List<SluiceSplit> splits, int subtaskId) {
    List<String> forgotten = graph.forgetUncoveredReportsOf(subtaskId);
    if (!forgotten.isEmpty()) LOG.info("Sluice source: reader {} failed before a checkpoint covered its reports of {}; waiting for them again", subtaskId, forgotten);
    splitsPerReader.put(subtaskId, 0);
    for (SluiceSplit s : splits) {
      if (!s.finished()) returned.computeIfAbsent(subtaskId, k -> new ArrayList<>()).add(s);
    }
    toldNoMoreSplits.remove(subtaskId);
    if (context.registeredReaders().containsKey(subtaskId)) assignReturned(subtaskId);
  }

  @Override
  public void addReader(int subtaskId) {
    splitsPerReader.putIfAbsent(subtaskId, 0);
    toldNoMoreSplits.remove(subtaskId);
    assignReturned(subtaskId);
    assignPending();
    checkNoMoreSplits();
  }

  private void assignReturned(int subtaskId) {
    List<SluiceSplit> back = returned.remove(subtaskId);
    if (back == null) return;
    for (SluiceSplit s : back) {
      splitsPerReader.merge(subtaskId, 1, Integer::sum);
      context.assignSplit(s, subtaskId);
    }
  }

  @Override
  public void handleSourceEvent(int subtaskId, SourceEvent event) {
    if (!(event instanceof SourceEvents.SegmentsFinished finished)) {
      LOG.warn("Sluice source: unexpected event from reader {}: {}", subtaskId, event);
      return;
    }
    List<String> ackNow = new ArrayList<>();
    for (String segment : finished.segments()) {
      switch (graph.finish(segment, subtaskId)) {
        case NEW -> {
          splitsPerReader.computeIfPresent(subtaskId, (r, n) -> Math.max(0, n - 1));
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
    lastSnapshotNs = System.nanoTime();
    warnedNoCheckpoint = false;
    graph.snapshot(checkpointId);
    // Splits kept for a failed reader's next attempt are released splits not yet handed out.
    List<SluiceSplit> pending = new ArrayList<>(unassigned);
    for (List<SluiceSplit> back : returned.values()) pending.addAll(back);
    return new SluiceEnumeratorState(initialized, pending, new ArrayList<>(graph.released()), graph.finished(), new ArrayList<>(graph.successorsKnown()), new ArrayList<>(graph.waiting()), bounds);
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
    return StartResolver.await(f, settings);
  }

}

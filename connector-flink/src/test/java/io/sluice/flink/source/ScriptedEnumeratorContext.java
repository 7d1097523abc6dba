package io.sluice.flink.source;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;
import org.apache.flink.api.connector.source.ReaderInfo;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.groups.SplitEnumeratorMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;

/**
 * A split enumerator context for unit tests: async calls queue up and run when the test says
 * ({@link #runAsync}), their handlers on the test thread as on a coordinator thread; periodic calls
 * are recorded, not repeated; assignments and events are recorded.
 */
final class ScriptedEnumeratorContext implements SplitEnumeratorContext<SluiceSplit> {
  private final Map<Integer, ReaderInfo> readers = new HashMap<>();
  private final Deque<Runnable> async = new ArrayDeque<>();
  final List<Runnable> periodic = new ArrayList<>();
  final Map<Integer, List<SluiceSplit>> assigned = new HashMap<>();
  final Map<Integer, List<SourceEvent>> events = new HashMap<>();
  final List<Integer> noMoreSplits = new ArrayList<>();

  void registerReader(int subtask) {
    readers.put(subtask, new ReaderInfo(subtask, "localhost"));
  }

  void unregisterReader(int subtask) {
    readers.remove(subtask);
  }

  /** Runs queued async calls (and what they queue) until none is left. */
  void runAsync() {
    while (!async.isEmpty()) async.poll().run();
  }

  List<String> assignedSegments() {
    List<String> out = new ArrayList<>();
    for (List<SluiceSplit> l : assigned.values()) for (SluiceSplit s : l) out.add(s.segment());
    return out;
  }

  final Map<String, Gauge<?>> gauges = new HashMap<>();
  private final SplitEnumeratorMetricGroup metrics = new RecordingMetricGroup();

  /** Keeps the gauges an enumerator registers, so a test can read them. */
  private final class RecordingMetricGroup extends UnregisteredMetricsGroup implements SplitEnumeratorMetricGroup {
    @Override
    public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
      gauges.put(name, gauge);
      return gauge;
    }

    @Override
    public <G extends Gauge<Long>> G setUnassignedSplitsGauge(G gauge) {
      gauges.put("unassignedSplits", gauge);
      return gauge;
    }
  }

  long gauge(String name) {
    return ((Number) gauges.get(name).getValue()).longValue();
  }

  @Override
  public SplitEnumeratorMetricGroup metricGroup() {
    return metrics;
  }

  @Override
  public void sendEventToSourceReader(int subtaskId, SourceEvent event) {
    events.computeIfAbsent(subtaskId, k -> new ArrayList<>()).add(event);
  }

  @Override
  public int currentParallelism() {
    return readers.size();
  }

  @Override
  public Map<Integer, ReaderInfo> registeredReaders() {
    return readers;
  }

  @Override
  public void assignSplits(SplitsAssignment<SluiceSplit> assignment) {
    assignment.assignment().forEach((r, splits) -> assigned.computeIfAbsent(r, k -> new ArrayList<>()).addAll(splits));
  }

  @Override
  public void signalNoMoreSplits(int subtask) {
    noMoreSplits.add(subtask);
  }

  @Override
  public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler) {
    async.add(() -> {
      T result = null;
      Throwable error = null;
      try {
        result = callable.call();
      } catch (Throwable t) {
        error = t;
      }
      handler.accept(result, error);
    });
  }

  @Override
  public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler, long initialDelay, long period) {
    periodic.add(() -> callAsync(callable, handler));
  }

  /** One round of every periodic call. */
  void tick() {
    for (Runnable r : periodic) r.run();
    runAsync();
  }

  @Override
  public void runInCoordinatorThread(Runnable runnable) {
    runnable.run();
  }
}

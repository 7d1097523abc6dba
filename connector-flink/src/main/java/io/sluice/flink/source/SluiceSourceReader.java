package io.sluice.flink.source;

import io.sluice.client.ReadEvent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.source.reader.SourceReaderBase;
import org.apache.flink.connector.base.source.reader.fetcher.SingleThreadFetcherManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Sluice source reader: reads its splits through {@link SluiceSplitReader} and reports each segment
 * read to its end to the enumerator, which may then release the segment's successors.
 *
 * <p>A report is kept as a marker (a finished {@link SluiceSplit}) in this reader's checkpointed
 * state until the enumerator acknowledges it, which it does only once a completed checkpoint holds
 * the report on its side too. After a restore the reader re-reports every marker it gets back, so a
 * report that a failure cut off is never lost (the enumerator ignores repeats).
 */
final class SluiceSourceReader<T> extends SourceReaderBase<ReadEvent, T, SluiceSplit, SluiceSplitState> {
  private static final Logger LOG = LoggerFactory.getLogger(SluiceSourceReader.class);

  private final Map<String, SluiceSplit> markers = new LinkedHashMap<>();
  private boolean idle;
  /** With the checkpoint fence, a reader whose segments were just sealed is not idle until acknowledged. */
  private final boolean idleWithMarkers;
  private final AutoCloseable resources;

  SluiceSourceReader(SingleThreadFetcherManager<ReadEvent, SluiceSplit> fetchers, SluiceRecordEmitter<T> emitter, Configuration config, SourceReaderContext context, AutoCloseable resources, boolean idleWithMarkers) {
    super(fetchers, emitter, config, context);
    this.resources = resources;
    this.idleWithMarkers = idleWithMarkers;
  }

  /**
   * A reader with no split marks its output idle, so downstream watermarks do not wait for it (a
   * stream has fewer segments than the job has subtasks, or a scale took its segments away); it is
   * active again as soon as it has a split. With the checkpoint fence it stays active while it holds
   * unacknowledged markers: the successors of its segments are about to be read elsewhere, and an
   * idle reader would let the watermark run ahead of their first events (late for event-time windows).
   */
  @Override
  public InputStatus pollNext(ReaderOutput<T> output) throws Exception {
    boolean none = getNumberOfCurrentlyAssignedSplits() == 0 && (idleWithMarkers || markers.isEmpty());
    if (none && !idle) {
      output.markIdle();
      idle = true;
    } else if (!none && idle) {
      output.markActive();
      idle = false;
    }
    return super.pollNext(output);
  }

  @Override
  public void addSplits(List<SluiceSplit> splits) {
    List<SluiceSplit> work = new ArrayList<>(splits.size());
    List<SluiceSplit> restoredMarkers = new ArrayList<>();
    for (SluiceSplit s : splits) {
      if (s.finished()) {
        markers.put(s.splitId(), s);
        restoredMarkers.add(s);
      } else {
        work.add(s);
      }
    }
    if (!restoredMarkers.isEmpty()) report(restoredMarkers);
    if (!work.isEmpty()) super.addSplits(work);
  }

  @Override
  protected void onSplitFinished(Map<String, SluiceSplitState> finished) {
    List<SluiceSplit> now = new ArrayList<>(finished.size());
    for (SluiceSplitState st : finished.values()) {
      SluiceSplit marker = st.split.asFinished(st.offset);
      markers.put(marker.splitId(), marker);
      now.add(marker);
    }
    report(now);
  }

  private void report(List<SluiceSplit> finished) {
    List<String> segments = new ArrayList<>(finished.size());
    List<Long> ends = new ArrayList<>(finished.size());
    for (SluiceSplit s : finished) {
      segments.add(s.segment());
      ends.add(s.offset());
    }
    LOG.debug("Sluice source reader {}: finished {}", context.getIndexOfSubtask(), segments);
    context.sendSourceEventToCoordinator(new SourceEvents.SegmentsFinished(segments, ends));
  }

  @Override
  public List<SluiceSplit> snapshotState(long checkpointId) {
    List<SluiceSplit> state = new ArrayList<>(super.snapshotState(checkpointId));
    state.addAll(markers.values());
    return state;
  }

  @Override
  public void handleSourceEvents(SourceEvent event) {
    if (event instanceof SourceEvents.FinishedAcknowledged ack) {
      for (String s : ack.segments()) markers.remove(s);
    } else {
      super.handleSourceEvents(event);
    }
  }

  @Override
  protected SluiceSplitState initializedState(SluiceSplit split) {
    return new SluiceSplitState(split);
  }

  @Override
  protected SluiceSplit toSplitType(String splitId, SluiceSplitState state) {
    return state.toSplit();
  }

  @Override
  public void close() throws Exception {
    try {
      super.close();
    } finally {
      resources.close();
    }
  }
}

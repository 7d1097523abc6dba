package io.sluice.flink.source;

import io.sluice.client.Successor;
import java.util.List;
import java.util.Map;

/**
 * What the enumerator checkpoints: whether the start position was resolved, splits released but
 * not yet handed to a reader, the segment graph (released, finished, successors known, successors
 * waiting), and for a bounded source the segments between its cuts with the offset each ends at
 * ({@link SluiceSplit#NO_END}: the segment's sealed end). Read positions are not here: they are in
 * the readers' state.
 *
 * @param bounds null for an unbounded source
 */
public record SluiceEnumeratorState(
    boolean initialized,
    List<SluiceSplit> unassigned,
    List<String> released,
    List<String> finished,
    List<String> successorsKnown,
    List<Successor> waiting,
    Map<String, Long> bounds) {

  public SluiceEnumeratorState {
    unassigned = List.copyOf(unassigned);
    released = List.copyOf(released);
    finished = List.copyOf(finished);
    successorsKnown = List.copyOf(successorsKnown);
    waiting = List.copyOf(waiting);
    bounds = bounds == null ? null : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(bounds));
  }

  /** The state of a source that has not resolved its start yet. */
  static SluiceEnumeratorState initial() {
    return new SluiceEnumeratorState(false, List.of(), List.of(), List.of(), List.of(), List.of(), null);
  }
}

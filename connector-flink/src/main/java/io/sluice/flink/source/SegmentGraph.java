package io.sluice.flink.source;

import io.sluice.client.Successor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The segment graph of the streams a source reads, as its enumerator sees it: which segments were
 * released as splits, which were read to their end, and which successors wait for their
 * predecessors. Pure bookkeeping (no I/O, no Flink calls), driven by the enumerator on its
 * coordinator thread, so every rule is testable table by table.
 *
 * <p>Rules it keeps:
 *
 * <ol>
 *   <li>A segment is released (becomes a split) at most once: the segments at the start position,
 *       and every other one as a successor. Reports and successor lists may repeat (a merge's
 *       successor is listed by each predecessor; a marker is re-reported after a restore); each
 *       repetition changes nothing.
 *   <li>A successor is released only when every one of its predecessors is finished. With {@link
 *       Fence#CHECKPOINT} "finished" means reported read to its end AND covered by a completed
 *       checkpoint (taken after the report), so the old reader's last records have passed every
 *       operator before the successor's first record is read: per-key order holds downstream. With
 *       {@link Fence#NONE} the report alone is enough.
 *   <li>A report is acknowledged to the readers only once a completed checkpoint covers it (this
 *       graph's state then holds it), in both modes: a reader drops its marker only when a restore
 *       can no longer lose the report.
 *   <li>Every report in a snapshot is covered by the checkpoint of that snapshot; a graph restored
 *       from it treats all its reports as covered.
 *   <li>A report not yet covered is forgotten when the reader that made it fails ({@link
 *       #forgetUncoveredReportsOf}): that reader restores from a checkpoint before the report and reads
 *       the segment's end again, so its successors must wait for the new report.
 * </ol>
 *
 * <p>Bound: the graph keeps one name per segment it ever released (and per finished segment), so
 * its size grows with the number of segments a job has read, not with events.
 */
final class SegmentGraph {
  /** When a finished predecessor lets its successors go. */
  enum Fence {
    /** After a completed checkpoint covered the report (the default, keeps per-key order). */
    CHECKPOINT,
    /** As soon as it is reported (relaxed: records of the old and new reader may interleave). */
    NONE
  }

  /** What a finished report changed. */
  enum Report {
    /** First report: look up the segment's successors. */
    NEW,
    /** Reported before and not yet covered: wait for the checkpoint. */
    REPEATED,
    /** Reported before and covered: acknowledge it again at once. */
    COVERED
  }

  private static final long NOT_SNAPSHOTTED = Long.MAX_VALUE;

  private final Fence fence;
  private final Set<String> released;
  /** Reported, not yet covered: segment -> id of the first checkpoint whose snapshot holds it. */
  private final Map<String, Long> uncovered = new LinkedHashMap<>();
  /** Reported, not yet covered: segment -> the subtask that reported it last. */
  private final Map<String, Integer> reporters = new HashMap<>();
  private final Set<String> covered;
  private final Set<String> successorsKnown;
  private final Map<String, Successor> waiting;

  SegmentGraph(Fence fence) {
    this(fence, List.of(), List.of(), List.of(), List.of());
  }

  /** A graph restored from a snapshot: every finished segment in it is covered (rule 4). */
  SegmentGraph(Fence fence, Collection<String> released, Collection<String> finished, Collection<String> successorsKnown, Collection<Successor> waiting) {
    this.fence = fence;
    this.released = new LinkedHashSet<>(released);
    this.covered = new LinkedHashSet<>(finished);
    this.successorsKnown = new LinkedHashSet<>(successorsKnown);
    this.waiting = new LinkedHashMap<>();
    for (Successor s : waiting) this.waiting.put(s.range().segment(), s);
  }

  /** Marks {@code segment} released; false if it was released before (it must not become a split again). */
  boolean release(String segment) {
    return released.add(segment);
  }

  /**
   * Records that subtask {@code reporter} read {@code segment} to its end. A report of a segment never
   * released is taken as released.
   */
  Report finish(String segment, int reporter) {
    if (covered.contains(segment)) return Report.COVERED;
    if (uncovered.containsKey(segment)) {
      reporters.put(segment, reporter);
      return Report.REPEATED;
    }
    released.add(segment);
    uncovered.put(segment, NOT_SNAPSHOTTED);
    reporters.put(segment, reporter);
    return Report.NEW;
  }

  /** Rule 5: subtask {@code reporter} failed; its reports not yet covered no longer count. Returns them. */
  List<String> forgetUncoveredReportsOf(int reporter) {
    List<String> forgotten = new ArrayList<>();
    for (Iterator<Map.Entry<String, Long>> it = uncovered.entrySet().iterator(); it.hasNext(); ) {
      String segment = it.next().getKey();
      if (reporters.get(segment) == reporter) {
        it.remove();
        reporters.remove(segment);
        forgotten.add(segment);
      }
    }
    return forgotten;
  }

  /**
   * Whether some successor has every predecessor reported and waits only for a checkpoint to cover
   * the reports (with {@link Fence#CHECKPOINT}): a job without checkpoints would wait forever.
   */
  boolean waitingForCheckpoint() {
    if (fence != Fence.CHECKPOINT || uncovered.isEmpty()) return false;
    for (Successor s : waiting.values()) {
      boolean allReported = true;
      boolean someUncovered = false;
      for (String p : s.predecessors()) {
        if (uncovered.containsKey(p)) someUncovered = true;
        else if (!covered.contains(p)) allReported = false;
      }
      if (allReported && someUncovered) return true;
    }
    return false;
  }

  /** Whether {@code segment} was reported finished (covered or not). */
  boolean isFinished(String segment) {
    return covered.contains(segment) || uncovered.containsKey(segment);
  }

  /** Finished segments whose successors were not added yet (after a restore, or a failed lookup). */
  List<String> successorsNeeded() {
    List<String> out = new ArrayList<>();
    for (String s : covered) if (!successorsKnown.contains(s)) out.add(s);
    for (String s : uncovered.keySet()) if (!successorsKnown.contains(s)) out.add(s);
    return out;
  }

  /**
   * Adds the successors of finished {@code predecessor} that lie within {@code inBounds} and were not
   * released yet; they wait until {@link #takeReady} finds all their predecessors finished.
   */
  void addSuccessors(String predecessor, List<Successor> successors, Predicate<String> inBounds) {
    successorsKnown.add(predecessor);
    for (Successor s : successors) {
      String name = s.range().segment();
      if (released.contains(name) || !inBounds.test(name)) continue;
      waiting.putIfAbsent(name, s);
    }
  }

  /** Successors whose predecessors are all finished (rule 2), released now, in the order they were added. */
  List<Successor> takeReady() {
    List<Successor> ready = new ArrayList<>();
    for (Iterator<Successor> it = waiting.values().iterator(); it.hasNext(); ) {
      Successor s = it.next();
      boolean all = true;
      for (String p : s.predecessors()) {
        if (!(covered.contains(p) || (fence == Fence.NONE && uncovered.containsKey(p)))) {
          all = false;
          break;
        }
      }
      if (all && released.add(s.range().segment())) {
        it.remove();
        ready.add(s);
      } else if (all) {
        it.remove();
      }
    }
    return ready;
  }

  /** The snapshot of checkpoint {@code checkpointId} is being taken: reports not in an earlier one are in this one. */
  void snapshot(long checkpointId) {
    for (Map.Entry<String, Long> e : uncovered.entrySet()) if (e.getValue() == NOT_SNAPSHOTTED) e.setValue(checkpointId);
  }

  /** Checkpoint {@code checkpointId} completed: reports in its snapshot (or an earlier one) are covered. Returns them, to acknowledge. */
  List<String> checkpointComplete(long checkpointId) {
    List<String> now = new ArrayList<>();
    for (Iterator<Map.Entry<String, Long>> it = uncovered.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Long> e = it.next();
      if (e.getValue() <= checkpointId) {
        it.remove();
        reporters.remove(e.getKey());
        covered.add(e.getKey());
        now.add(e.getKey());
      }
    }
    return now;
  }

  int waitingCount() {
    return waiting.size();
  }

  Set<String> released() {
    return released;
  }

  /** Every finished segment, covered or not (a snapshot holds them all, rule 4). */
  List<String> finished() {
    List<String> out = new ArrayList<>(covered);
    out.addAll(uncovered.keySet());
    return out;
  }

  Set<String> successorsKnown() {
    return successorsKnown;
  }

  Collection<Successor> waiting() {
    return waiting.values();
  }
}

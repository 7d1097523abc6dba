package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.client.SegmentRange;
import io.sluice.client.Successor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Proves the segment graph's release rules table by table: a successor is released once, and only
 * when all its predecessors are finished (and, with the checkpoint fence, covered by a completed
 * checkpoint). Each case is a script of steps; "expect X,Y" checks what the steps since the last
 * expectation released.
 *
 * <p>Steps: {@code start a b} (initial segments), {@code finish a}, {@code succ a > b[a] c[a,x]}
 * (successors of a with their predecessors), {@code snap N}, {@code done N}, {@code expect b,c} or
 * {@code expect -} (nothing).
 */
class SegmentGraphTest {
  static Stream<Arguments> cases() {
    return Stream.of(
        // split 1 -> 2
        Arguments.of("split, fenced", SegmentGraph.Fence.CHECKPOINT,
            "start a; finish a; succ a > b[a] c[a]; expect -; snap 1; expect -; done 1; expect b,c"),
        Arguments.of("split, relaxed", SegmentGraph.Fence.NONE,
            "start a; finish a; succ a > b[a] c[a]; expect b,c"),
        // merge 2 -> 1: the successor waits for both
        Arguments.of("merge waits for every predecessor", SegmentGraph.Fence.NONE,
            "start a b; finish a; succ a > c[a,b]; expect -; finish b; succ b > c[a,b]; expect c"),
        Arguments.of("merge, fenced: both covered", SegmentGraph.Fence.CHECKPOINT,
            "start a b; finish a; succ a > c[a,b]; snap 1; done 1; expect -; finish b; succ b > c[a,b]; expect -; snap 2; expect -; done 2; expect c"),
        Arguments.of("a checkpoint taken before the report does not cover it", SegmentGraph.Fence.CHECKPOINT,
            "start a; snap 1; finish a; succ a > b[a]; done 1; expect -; snap 2; done 2; expect b"),
        Arguments.of("a failed checkpoint's reports are covered by the next one", SegmentGraph.Fence.CHECKPOINT,
            "start a; finish a; succ a > b[a]; snap 1; snap 2; done 2; expect b"),
        // chains: 1 -> 2 -> 1
        Arguments.of("chain split then merge", SegmentGraph.Fence.NONE,
            "start a; finish a; succ a > b[a] c[a]; expect b,c; finish c; succ c > d[b,c]; expect -; finish b; succ b > d[b,c]; expect d; finish d; succ d > e[d]; expect e"),
        // one scale that splits and merges: seal a,b -> c[a] d[a,b] e[b]
        Arguments.of("split and merge in one scale", SegmentGraph.Fence.NONE,
            "start a b; finish a; succ a > c[a] d[a,b]; expect c; finish b; succ b > d[a,b] e[b]; expect d,e"),
        // rolling-commit duplicates: same number, later epoch; lists repeated
        Arguments.of("rolling-commit duplicate successors", SegmentGraph.Fence.NONE,
            "start s/1.#epoch.0 s/2.#epoch.0; finish s/1.#epoch.0; succ s/1.#epoch.0 > s/1.#epoch.3[s/1.#epoch.0]; expect s/1.#epoch.3; succ s/1.#epoch.0 > s/1.#epoch.3[s/1.#epoch.0]; expect -; finish s/1.#epoch.0; expect -"),
        Arguments.of("repeated reports and successor lists release once", SegmentGraph.Fence.CHECKPOINT,
            "start a b; finish a; finish a; succ a > c[a,b]; finish b; succ b > c[a,b]; succ a > c[a,b]; snap 1; finish b; done 1; expect c; finish a; succ a > c[a,b]; snap 2; done 2; expect -"),
        Arguments.of("a successor already released is never waiting", SegmentGraph.Fence.NONE,
            "start a b; finish a; succ a > b[a]; expect -"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void releasesSuccessorsOnlyWhenAllPredecessorsFinished(String name, SegmentGraph.Fence fence, String script) {
    SegmentGraph g = new SegmentGraph(fence);
    List<String> releasedSince = new ArrayList<>();
    int step = 0;
    for (String raw : script.split(";")) {
      String s = raw.trim();
      step++;
      String[] w = s.split(" ");
      switch (w[0]) {
        case "start" -> {
          for (int i = 1; i < w.length; i++) assertEquals(true, g.release(w[i]), "step " + step);
        }
        case "finish" -> g.finish(w[1], 0);
        case "succ" -> g.addSuccessors(w[1], parseSuccessors(s.substring(s.indexOf('>') + 1)), x -> true);
        case "snap" -> g.snapshot(Long.parseLong(w[1]));
        case "done" -> g.checkpointComplete(Long.parseLong(w[1]));
        case "expect" -> {
          for (Successor r : g.takeReady()) releasedSince.add(r.range().segment());
          List<String> want = w[1].equals("-") ? List.of() : Arrays.asList(w[1].split(","));
          assertEquals(want, releasedSince, name + ", step " + step + " (" + s + ")");
          releasedSince.clear();
        }
        default -> throw new IllegalArgumentException("unknown step " + s);
      }
    }
  }

  static List<Successor> parseSuccessors(String text) {
    List<Successor> out = new ArrayList<>();
    for (String item : text.trim().split(" ")) {
      String n = item.substring(0, item.indexOf('['));
      List<String> preds = Arrays.asList(item.substring(item.indexOf('[') + 1, item.indexOf(']')).split(","));
      out.add(new Successor(range(n), preds));
    }
    return out;
  }

  static SegmentRange range(String name) {
    return new SegmentRange(name, 0, 0, 0.0, 1.0);
  }
}

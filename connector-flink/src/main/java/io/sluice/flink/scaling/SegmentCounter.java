package io.sluice.flink.scaling;

/** Where the rescaler reads a stream's current segment count; tests give a fake. */
@FunctionalInterface
interface SegmentCounter {
  /** The stream's current segment count; throws when the controller gives no answer in time. */
  int segments() throws Exception;
}

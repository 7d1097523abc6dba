package io.sluice.flink.source;

/** A split being read: the split as assigned and the offset after the last event emitted downstream. */
final class SluiceSplitState {
  final SluiceSplit split;
  long offset;

  SluiceSplitState(SluiceSplit split) {
    this.split = split;
    this.offset = split.offset();
  }

  SluiceSplit toSplit() {
    return split.withOffset(offset);
  }
}

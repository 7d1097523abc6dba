package io.sluice.flink.sink;

/**
 * What an exactly-once writer subtask keeps in a checkpoint: the tag prefix of its transactions and
 * its subtask index, so that after a restore the transactions it opened after that checkpoint can
 * be found (by tag) and aborted, even when the job's parallelism changed.
 */
public record SluiceWriterState(String tagPrefix, int subtask) {}

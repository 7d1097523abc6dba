package io.sluice.flink.scaling;

/**
 * One poll of {@link SegmentCountRescaler}: at {@code timeMs} (epoch ms) the stream had {@code
 * segments} segments (-1: the controller gave no answer), the rescaler's current requested
 * parallelism was {@code requested}, the job's vertices ran at {@code observed} (-1: REST gave no
 * answer) and the job was {@code running} (job and every vertex RUNNING).
 */
public record Sample(long timeMs, int segments, int requested, int observed, boolean running) {}

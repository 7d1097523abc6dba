package io.sluice.flink.scaling;

/**
 * One completed rescale of {@link SegmentCountRescaler}, from parallelism {@code from} to {@code
 * to}: the first poll that saw the segment count asking for {@code to} ({@code
 * segmentsChangedAtMs}), the accepted request ({@code requestedAtMs}), the first observation of
 * the job running with every vertex at {@code to} ({@code runningAtMs}), and {@code pauseMs}, how
 * long the job (or a vertex) was not RUNNING in between, as {@code GET /jobs/:jobid} showed it to the
 * rescaler's watch (resolution {@link SegmentCountRescaler#WATCH_INTERVAL}). Not the job's per-state
 * timestamps: under the adaptive scheduler a rescale builds a new execution graph whose timestamps
 * start afresh (CREATED and RUNNING only, milliseconds apart), so they do not show the pause. Times
 * are epoch ms.
 */
public record RescaleEvent(int from, int to, long segmentsChangedAtMs, long requestedAtMs, long runningAtMs, long pauseMs) {}

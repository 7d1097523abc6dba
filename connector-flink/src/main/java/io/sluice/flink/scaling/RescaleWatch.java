package io.sluice.flink.scaling;

/**
 * One accepted rescale request being watched until every vertex of the job runs at its
 * parallelism. The pause is the time the job (or a vertex) was seen not RUNNING in between, at the
 * resolution of the observations (the rescaler makes one every {@link
 * SegmentCountRescaler#WATCH_INTERVAL}).
 */
final class RescaleWatch {
  private final int from;
  private final int to;
  private final long changedAtMs;
  private final long requestedAtMs;
  private long notRunningSinceMs = -1;
  private long notRunningMs;

  RescaleWatch(int from, int to, long changedAtMs, long requestedAtMs) {
    this.from = from;
    this.to = to;
    this.changedAtMs = changedAtMs;
    this.requestedAtMs = requestedAtMs;
  }

  /** Takes one observation ({@code view} null: REST gave no answer); returns the event once the job runs at {@code to}, else null. */
  RescaleEvent observe(long nowMs, FlinkRestClient.JobView view) {
    boolean running = view != null && view.running();
    if (!running) {
      if (notRunningSinceMs < 0) notRunningSinceMs = nowMs;
      return null;
    }
    if (notRunningSinceMs >= 0) {
      notRunningMs += nowMs - notRunningSinceMs;
      notRunningSinceMs = -1;
    }
    if (view.parallelism() != to) return null;
    return new RescaleEvent(from, to, changedAtMs, requestedAtMs, nowMs, notRunningMs);
  }
}

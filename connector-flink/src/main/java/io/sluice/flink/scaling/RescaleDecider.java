package io.sluice.flink.scaling;

/**
 * The rescaler's decision rules as a pure state machine over (time, segment count); no clock, no
 * I/O, so they are tested table-driven. Rules:
 *
 * <ul>
 *   <li>target = clamp(segments, min, max); a poll with no answer (segments < 1) changes nothing;
 *   <li>hysteresis: a target different from the current parallelism is requested only once it was
 *       the target on {@code stablePolls} consecutive polls (a different target restarts the count,
 *       the current parallelism as target clears it);
 *   <li>cooldown: no request within {@code cooldownMs} of the last accepted one;
 *   <li>a failed request changes nothing, so the next poll asks again.
 * </ul>
 */
final class RescaleDecider {
  private final int min;
  private final int max;
  private final int stablePolls;
  private final long cooldownMs;

  private int current;
  private int candidate = -1;
  private int candidatePolls;
  private long candidateSinceMs;
  private long lastRequestMs = Long.MIN_VALUE;

  RescaleDecider(int min, int max, int stablePolls, long cooldownMs, int initial) {
    if (min < 1 || max < min) throw new IllegalArgumentException("need 1 <= min " + min + " <= max " + max);
    if (stablePolls < 1) throw new IllegalArgumentException("stablePolls " + stablePolls + " must be >= 1");
    if (cooldownMs < 0) throw new IllegalArgumentException("cooldownMs " + cooldownMs + " must be >= 0");
    this.min = min;
    this.max = max;
    this.stablePolls = stablePolls;
    this.cooldownMs = cooldownMs;
    this.current = initial;
  }

  /** clamp(segments, min, max). */
  int target(int segments) {
    return Math.max(min, Math.min(max, segments));
  }

  /** The parallelism last requested (or the initial one). */
  int current() {
    return current;
  }

  /** When the pending candidate target was first seen (epoch ms), -1 without one. */
  long candidateSinceMs() {
    return candidate < 0 ? -1 : candidateSinceMs;
  }

  /** Takes one poll; returns the parallelism to request now, or -1 for none. */
  int onPoll(long nowMs, int segments) {
    if (segments < 1) return -1;
    int t = target(segments);
    if (t == current) {
      candidate = -1;
      candidatePolls = 0;
      return -1;
    }
    if (t != candidate) {
      candidate = t;
      candidatePolls = 1;
      candidateSinceMs = nowMs;
    } else {
      candidatePolls++;
    }
    if (candidatePolls < stablePolls) return -1;
    if (lastRequestMs != Long.MIN_VALUE && nowMs - lastRequestMs < cooldownMs) return -1;
    return t;
  }

  /** Records an accepted request of {@code parallelism} at {@code nowMs}. */
  void requested(long nowMs, int parallelism) {
    current = parallelism;
    lastRequestMs = nowMs;
    candidate = -1;
    candidatePolls = 0;
  }
}

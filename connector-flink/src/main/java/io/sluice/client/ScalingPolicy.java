package io.sluice.client;

import java.io.Serializable;

/**
 * A stream's scaling policy, as controller.proto's ScalingPolicy: FIXED keeps {@code minSegments};
 * the rate policies split above {@code targetRate} (events/s, or KiB/s) into at most
 * {@code scaleFactor} parts and never go below {@code minSegments}.
 */
public record ScalingPolicy(Type type, int minSegments, int targetRate, int scaleFactor) implements Serializable {
  /** How a stream scales. */
  public enum Type {
    FIXED,
    BY_EVENT_RATE,
    BY_DATA_RATE
  }

  public ScalingPolicy {
    if (type == null) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "scaling type is null");
    if (minSegments < 1) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "minSegments " + minSegments + " must be >= 1");
  }

  /** A fixed number of segments. */
  public static ScalingPolicy fixed(int segments) {
    return new ScalingPolicy(Type.FIXED, segments, 0, 0);
  }
}

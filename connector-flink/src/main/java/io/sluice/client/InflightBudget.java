package io.sluice.client;

import java.util.concurrent.TimeUnit;

/**
 * The bound on a writer's unacknowledged bytes: {@link #acquire} blocks the calling thread while
 * taking {@code bytes} would pass the limit, up to the request deadline. One event larger than the
 * whole budget still passes when nothing else is outstanding, so no event waits forever.
 */
final class InflightBudget {
  private final long bytesMax;
  private final long waitMsMax;
  private long outstandingBytes = 0;

  InflightBudget(long bytesMax, long waitMsMax) {
    this.bytesMax = bytesMax;
    this.waitMsMax = waitMsMax;
  }

  /**
   * Takes {@code bytes} of the budget; returns null, or the failure to report: TIMEOUT when the
   * budget stayed full for the request deadline (it names {@code what}), CLOSED when interrupted.
   */
  synchronized SluiceException acquire(long bytes, String what) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMsMax);
    while (outstandingBytes > 0 && outstandingBytes + bytes > bytesMax) {
      long leftNs = deadline - System.nanoTime();
      if (leftNs <= 0) return new SluiceException(ErrorCode.TIMEOUT, what + " stayed full for " + waitMsMax + " ms");
      try {
        TimeUnit.NANOSECONDS.timedWait(this, leftNs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new SluiceException(ErrorCode.CLOSED, "interrupted while writing to " + what, e);
      }
    }
    outstandingBytes += bytes;
    return null;
  }

  /** Gives back bytes taken by {@link #acquire}. */
  synchronized void release(long bytes) {
    outstandingBytes -= bytes;
    notifyAll();
  }
}

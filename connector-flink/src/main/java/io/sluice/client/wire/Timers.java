package io.sluice.client.wire;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The client's one timer thread: deadlines of wire calls and retry backoffs. Tasks must be short
 * (they complete futures or hand work on); cancelled tasks are removed at once, so a deadline that
 * is met costs no memory until it would have fired.
 */
public final class Timers {
  private static final ScheduledThreadPoolExecutor EXECUTOR = create();

  private Timers() {}

  private static ScheduledThreadPoolExecutor create() {
    ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "sluice-client-timers");
      t.setDaemon(true);
      return t;
    });
    e.setRemoveOnCancelPolicy(true);
    return e;
  }

  /** Runs {@code task} after {@code delayMs}. */
  public static ScheduledFuture<?> schedule(Runnable task, long delayMs) {
    return EXECUTOR.schedule(task, delayMs, TimeUnit.MILLISECONDS);
  }
}

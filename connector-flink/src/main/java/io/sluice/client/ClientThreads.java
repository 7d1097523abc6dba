package io.sluice.client;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The client's shared worker pools: daemon threads that end after a second without work. Their
 * queues hold what their callers already bound: one pending send per appender, one settle per
 * unacknowledged event of a writer (bounded by its in-flight bytes).
 */
final class ClientThreads {
  private static final long IDLE_MS = 1_000;

  private ClientThreads() {}

  /** A pool of at most {@code threads} daemon threads named {@code name}; tasks queue (in order for one thread). */
  static ExecutorService pool(String name, int threads) {
    ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, IDLE_MS, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }
}

package io.sluice.flink.source;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ControllerClient;
import io.sluice.client.EventWriter;
import io.sluice.client.wire.ConnectionPool;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A test load: writes k0..k(keys-1) round robin, each key numbered from 0 ("k3:17"), one round every
 * {@code periodMs}, on its own thread, until stopped. It waits for the acknowledgements of every
 * {@code ackWindow} events before going on, so {@link #written()} counts acknowledged events.
 */
public final class PacedKeyWriter implements AutoCloseable {
  private final String uri;
  private final String scope;
  private final String stream;
  private final int keys;
  private final long periodMs;
  private final int ackWindow;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicLong written = new AtomicLong();
  private final CompletableFuture<long[]> done = new CompletableFuture<>();
  private Thread thread;

  public PacedKeyWriter(String uri, String scope, String stream, int keys, long periodMs, int ackWindow) {
    this.uri = uri;
    this.scope = scope;
    this.stream = stream;
    this.keys = keys;
    this.periodMs = periodMs;
    this.ackWindow = ackWindow;
  }

  public PacedKeyWriter start() {
    thread = new Thread(this::run, "paced-key-writer");
    thread.setDaemon(true);
    thread.start();
    return this;
  }

  /** Events acknowledged so far. */
  public long written() {
    return written.get();
  }

  /** Waits (60 s at most) until {@code n} events were acknowledged; fails if the writer stopped first. */
  public void awaitWritten(long n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (written.get() < n) {
      assertTrue(!done.isDone(), "writer stopped early: " + done);
      assertTrue(System.nanoTime() < deadline, "the writer wrote " + n + " events within 60 s");
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  /** Stops, waits for every write's acknowledgement; returns each key's last sequence number. */
  public long[] stop() throws Exception {
    stop.set(true);
    return done.get(60, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    stop.set(true);
    try {
      if (thread != null) thread.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    try (ControllerClient c = ControllerClient.connect(uri, SourceItSupport.clientConfig());
        ConnectionPool pool = new ConnectionPool(SourceItSupport.clientConfig());
        EventWriter w = EventWriter.open(c, pool, SourceItSupport.clientConfig(), scope, stream).get(30, TimeUnit.SECONDS)) {
      long seq = 0;
      long next = System.nanoTime();
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      while (!stop.get()) {
        for (int k = 0; k < keys; k++) acks.add(w.writeEvent("k" + k, ("k" + k + ":" + seq).getBytes(StandardCharsets.UTF_8)));
        seq++;
        if (acks.size() >= ackWindow) {
          CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
          written.addAndGet(acks.size());
          acks.clear();
        }
        next += TimeUnit.MILLISECONDS.toNanos(periodMs); // pacing the load, not synchronisation
        LockSupport.parkNanos(next - System.nanoTime());
      }
      CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      written.addAndGet(acks.size());
      long[] last = new long[keys];
      Arrays.fill(last, seq - 1);
      done.complete(last);
    } catch (Exception | AssertionError e) {
      done.completeExceptionally(e);
    }
  }
}

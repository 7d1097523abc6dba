package io.sluice.client;

import io.sluice.client.wire.ConnectionPool;
import io.sluice.client.wire.Frame;
import io.sluice.client.wire.Timers;
import io.sluice.client.wire.WireConnection;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Appends events to one segment as one writer ({@code writerId}), exactly once. Events queued while a
 * send is pending join one AppendBlock (at most {@link ClientConfig#WRITER_BLOCK_BYTES_MAX} of data);
 * blocks are pipelined on the shared connection, and cumulative DataAppended acks complete every
 * event future up to the acked event number, in order, with its event number (0, 1, 2, ...).
 *
 * <p>Every event is kept until acked. After a lost connection or a retriable error (WRONG_HOST,
 * CONTAINER_NOT_READY, OVERLOADED, ..., and WRITER_NOT_SET_UP) the appender sets up again (asking the controller for the
 * endpoint when it may have moved), learns from AppendSetup the last event number the segment stored
 * for this writer, drops what was stored and resends only the rest: nothing is lost or applied twice.
 * A block not acknowledged within the request deadline counts as TIMEOUT and is handled the same
 * way. Retries are bounded ({@link ClientConfig#retryCountMax()} without any progress in between,
 * doubling delays), then every pending event fails UNAVAILABLE.
 *
 * <p>SEGMENT_SEALED: the appender stops sending, waits until the controller names the segment's
 * successors (the seal is then durable) or the stream is sealed, asks the sealed segment what it
 * stored of this writer, completes those events and fails every other pending and later event with
 * SEGMENT_SEALED, in event order; the caller re-routes them ({@link EventWriter} does).
 * {@link #sealedAt()} completes with that last stored event number. Other non-retriable errors
 * (NO_SUCH_SEGMENT, EVENT_TOO_LARGE, ...) fail every pending and later event.
 *
 * <p>Memory: {@link #append} blocks the calling thread while the appender holds
 * {@link ClientConfig#writerInflightBytesMax()} unacknowledged bytes, up to the request deadline (then
 * its future fails TIMEOUT). Do not call it from a thread that completes client futures. Futures
 * complete outside the appender's lock, on a client thread (a connection's reader, a sender).
 */
public final class SegmentAppender implements AutoCloseable {
  /** Runs sends, so that appends made meanwhile join one block and callers never wait on the socket. */
  private static final ExecutorService SENDERS = ClientThreads.pool("sluice-appender", 4);

  private record Pending(long number, byte[] payload, CompletableFuture<Long> future) {}

  private final SegmentConnector connector;
  private final ControllerClient controller;
  private final ClientConfig config;
  private final String segment;
  private final UUID writerId;
  /** Unacked events in event-number order; the first {@code sentCount} went out on {@code conn}. */
  private final ArrayDeque<Pending> unacked = new ArrayDeque<>();
  private long unackedBytes = 0;
  private long nextEventNumber = 0;
  private long sentUpTo = -1;
  private WireConnection conn;
  private Runnable detachConn;
  private final Set<Integer> requestIds = new HashSet<>();
  /** Bumped at each detach: blocks cut for an earlier set-up are not sent (or not tracked) after it. */
  private long generation = 0;
  private boolean connecting = false;
  private boolean sendScheduled = false;
  private boolean sealed = false;
  private int retries = 0;
  private SluiceException failure;
  private final CompletableFuture<Long> sealedAt = new CompletableFuture<>();
  /** Future completions queued under the lock and run outside it, in order, by one thread at a time. */
  private final ArrayDeque<Runnable> completions = new ArrayDeque<>();
  private boolean draining = false;

  public SegmentAppender(ControllerClient controller, ConnectionPool pool, ClientConfig config, String segment, UUID writerId) {
    this.connector = new SegmentConnector(controller, pool, config, segment);
    this.controller = controller;
    this.config = config;
    this.segment = segment;
    this.writerId = writerId;
  }

  public String segment() {
    return segment;
  }

  /**
   * Appends one event; the future completes with its event number once it (and every earlier one) is
   * durable, or fails as the class comment says. EVENT_TOO_LARGE at once for a payload above the limit.
   */
  public CompletableFuture<Long> append(byte[] payload) {
    if (payload.length > ClientConfig.EVENT_BYTES_MAX) {
      return CompletableFuture.failedFuture(new SluiceException(ErrorCode.EVENT_TOO_LARGE,
          "event of " + payload.length + " bytes exceeds the " + ClientConfig.EVENT_BYTES_MAX + "-byte limit"));
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.requestTimeoutMs());
    synchronized (this) {
      while (failure == null && unackedBytes > 0 && unackedBytes + payload.length + 4 > config.writerInflightBytesMax()) {
        long leftNs = deadline - System.nanoTime();
        if (leftNs <= 0) {
          return CompletableFuture.failedFuture(new SluiceException(ErrorCode.TIMEOUT,
              "appender of " + segment + " held " + unackedBytes + " unacknowledged bytes for " + config.requestTimeoutMs() + " ms"));
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(this, leftNs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return CompletableFuture.failedFuture(new SluiceException(ErrorCode.CLOSED, "interrupted while appending to " + segment, e));
        }
      }
      return enqueue(payload);
    }
  }

  /** As {@link #append(byte[])} with the buffer's remaining bytes (copied). */
  public CompletableFuture<Long> append(ByteBuffer payload) {
    byte[] bytes = new byte[payload.remaining()];
    payload.duplicate().get(bytes);
    return append(bytes);
  }

  /** Queues without waiting for room (for events whose bytes a caller already bounds). */
  synchronized CompletableFuture<Long> enqueue(byte[] payload) {
    if (failure != null) return CompletableFuture.failedFuture(failure);
    CompletableFuture<Long> future = new CompletableFuture<>();
    unacked.add(new Pending(nextEventNumber++, payload, future));
    unackedBytes += payload.length + 4;
    scheduleSend();
    return future;
  }

  /** Completes when every event appended before the call is durable; fails with the first failure among them. */
  public synchronized CompletableFuture<Void> flush() {
    List<CompletableFuture<Long>> all = new ArrayList<>(unacked.size());
    for (Pending p : unacked) all.add(p.future());
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
  }

  /** After SEGMENT_SEALED: the last event number the sealed segment stored of this writer (-1: none). */
  public CompletableFuture<Long> sealedAt() {
    return sealedAt;
  }

  /** Fails every pending event CLOSED and stops; flush() first to wait for them. */
  @Override
  public void close() {
    abandon(new SluiceException(ErrorCode.CLOSED, "appender of " + segment + " is closed"));
  }

  private void scheduleSend() {
    if (sendScheduled) return; // a pump is queued or running; it sends what is queued now
    sendScheduled = true;
    SENDERS.execute(this::pump);
  }

  /** One AppendBlock's worth of events, built under the lock and sent outside it. */
  private record Block(ByteBuffer data, int count, long lastEventNumber) {}

  /**
   * Sends every event not yet sent on the set-up connection, in blocks, or sets up first. The blocks
   * are cut under the lock and sent outside it: a send may wait for room in the connection's write
   * queue, and the connection's reader thread must meanwhile still be able to deliver acks (it takes
   * this lock). {@code sendScheduled} stays set while a pump runs, so pumps never overlap and blocks
   * leave in event order.
   */
  private void pump() {
    List<Block> blocks = new ArrayList<>();
    WireConnection c;
    long cutFor;
    synchronized (this) {
      if (failure != null || sealed || connecting || conn == null || !conn.isOpen()) {
        sendScheduled = false;
        if (failure == null && !sealed && !connecting && !unacked.isEmpty()) setUp();
        return;
      }
      c = conn;
      cutFor = generation;
      List<byte[]> run = new ArrayList<>();
      int runBytes = 0;
      long last = sentUpTo;
      for (Pending p : unacked) {
        if (p.number() <= sentUpTo) continue;
        if (!run.isEmpty() && runBytes + 4 + p.payload().length > ClientConfig.WRITER_BLOCK_BYTES_MAX) {
          blocks.add(block(run, runBytes, last));
          run.clear();
          runBytes = 0;
        }
        run.add(p.payload());
        runBytes += 4 + p.payload().length;
        last = p.number();
      }
      if (!run.isEmpty()) blocks.add(block(run, runBytes, last));
      sentUpTo = Math.max(sentUpTo, last);
    }
    try {
      for (Block b : blocks) {
        // A retry may have detached (and set up again, possibly on this same pooled connection) while
        // this pump sent: the rest is resent after the new set-up, and a block that went out anyway
        // is not tracked (the store drops or dedups it; errors about it are not this set-up's).
        synchronized (this) {
          if (generation != cutFor) break;
        }
        int id = c.send(requestId -> new Frame.AppendBlock(requestId, writerId, segment, b.lastEventNumber(), b.count(), b.data()));
        synchronized (this) {
          if (generation != cutFor) break;
          requestIds.add(id);
        }
        Timers.schedule(() -> checkAcked(c, b.lastEventNumber()), config.requestTimeoutMs());
      }
    } catch (SluiceException e) {
      // The connection closed under the send (its close listener retries) or its queue stayed full.
      retry(c, e);
    } finally {
      synchronized (this) {
        sendScheduled = false;
        // Appends made while this pump sent found it scheduled: send them now.
        if (!unacked.isEmpty() && unacked.peekLast().number() > sentUpTo) scheduleSend();
      }
    }
  }

  private static Block block(List<byte[]> run, int runBytes, long lastEventNumber) {
    ByteBuffer data = ByteBuffer.allocate(runBytes);
    for (byte[] p : run) data.putInt(p.length).put(p);
    data.flip();
    return new Block(data, run.size(), lastEventNumber);
  }

  /**
   * The ack deadline of a block: if {@code lastEventNumber} is still unacked on {@code c} after the
   * request deadline, the appender sets up again (TIMEOUT, retriable); the store drops what it had.
   */
  private void checkAcked(WireConnection c, long lastEventNumber) {
    boolean late;
    synchronized (this) {
      late = c == conn && !connecting && !unacked.isEmpty() && unacked.peek().number() <= lastEventNumber;
    }
    if (late) {
      retry(c, new SluiceException(ErrorCode.TIMEOUT,
          "append to " + segment + " up to event " + lastEventNumber + " not acknowledged within " + config.requestTimeoutMs() + " ms"));
    }
  }

  /** Connects (via the controller if stale), subscribes, and sets up; then sends what the store lacks. Lock held. */
  private void setUp() {
    connecting = true;
    detach();
    connector.connect().thenCompose(c -> {
      synchronized (this) {
        if (failure != null) throw failure;
        conn = c;
        Runnable unsubscribe = c.subscribe(f -> onFrame(c, f));
        Runnable closeOff = c.onClose(err -> retry(c, err));
        detachConn = () -> {
          unsubscribe.run();
          closeOff.run();
        };
      }
      return c.call(id -> new Frame.SetupAppend(id, writerId, segment), Frame.AppendSetup.class, config.requestTimeoutMs());
    }).whenComplete((setup, err) -> {
      synchronized (this) {
        connecting = false;
        if (failure != null || sealed) return;
        if (err == null) {
          acked(setup.lastEventNumber());
          sentUpTo = setup.lastEventNumber();
          requestIds.clear();
          scheduleSend();
        }
      }
      if (err == null) drain();
      else retry(null, SluiceException.of(err));
    });
  }

  private void onFrame(WireConnection c, Frame f) {
    if (f instanceof Frame.DataAppended d) {
      if (d.writerId().equals(writerId) && d.segment().equals(segment)) {
        synchronized (this) {
          requestIds.remove(d.requestId());
          acked(d.eventNumber());
        }
        drain();
      }
    } else if (f instanceof Frame.ErrorFrame e) {
      boolean ours;
      synchronized (this) {
        ours = c == conn && requestIds.contains(e.requestId());
      }
      if (ours) retry(c, WireConnection.errorOf(e));
    }
  }

  /** Completes every event up to {@code eventNumber}, in order. */
  private synchronized void acked(long eventNumber) {
    // Progress ends a run of retries: the bound counts failures in a row, not over a lifetime.
    if (!unacked.isEmpty() && unacked.peek().number() <= eventNumber) retries = 0;
    while (!unacked.isEmpty() && unacked.peek().number() <= eventNumber) {
      Pending p = unacked.poll();
      unackedBytes -= p.payload().length + 4;
      completions.add(() -> p.future().complete(p.number()));
    }
    notifyAll();
  }

  /** Handles a failure seen on {@code c} (null: during set-up): retry after a delay, follow a seal, or give up. */
  private void retry(WireConnection c, SluiceException err) {
    if (retryLocked(c, err)) followSeal();
    drain();
  }

  /** The locked part of retry(); true when the seal must be followed. */
  private synchronized boolean retryLocked(WireConnection c, SluiceException err) {
    {
      if (failure != null || sealed) return false;
      if (c != null && c != conn) return false;
      if (c != null && connecting) return false;
      connector.observe(err);
      detach();
      if (err.code() == ErrorCode.SEGMENT_SEALED) {
        sealed = true;
      } else if (!setUpAgain(err) || retries >= config.retryCountMax()) {
        SluiceException why = setUpAgain(err) ? SegmentConnector.retriesSpent("writing " + segment, retries, err) : err;
        abandonLocked(why);
        return false;
      } else {
        if (unacked.isEmpty()) return false;
        connecting = true;
        Timers.schedule(() -> {
          synchronized (this) {
            connecting = false;
            if (failure == null && !sealed) setUp();
          }
        }, config.retryDelayMs(retries++));
        return false;
      }
    }
    return true;
  }

  /**
   * Whether {@code err} is answered by setting up again: a retriable error, or WRITER_NOT_SET_UP. The
   * store drops a writer's set-up when one of its blocks fails, and a block a pump cut before a new
   * set-up can reach the store after it (pumps send outside the lock) and fail there, dropping the
   * new set-up; setting up again learns what the store kept.
   */
  private static boolean setUpAgain(SluiceException err) {
    return err.retriable() || err.code() == ErrorCode.WRITER_NOT_SET_UP;
  }

  /** After SEGMENT_SEALED: waits for the seal to be durable, then settles the events (class comment). */
  private void followSeal() {
    String[] parts = segment.split("/", 3);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.sealWaitMsMax());
    SealWait.untilDurable(controller, segment, parts[0], parts.length > 1 ? parts[1] : "", deadline, 50)
        .thenCompose(ignored -> connector.request("asking sealed " + segment + " what it stored",
            c -> c.call(id -> new Frame.SetupAppend(id, writerId, segment), Frame.AppendSetup.class, config.requestTimeoutMs()),
            () -> null))
        .whenComplete((setup, err) -> {
          if (err != null) {
            abandon(SluiceException.of(err));
            sealedAt.completeExceptionally(SluiceException.of(err));
            return;
          }
          synchronized (this) {
            acked(setup.lastEventNumber());
            abandonLocked(new SluiceException(ErrorCode.SEGMENT_SEALED, "segment " + segment + " is sealed"));
          }
          drain();
          sealedAt.complete(setup.lastEventNumber());
        });
  }

  private void detach() {
    generation++;
    if (detachConn != null) detachConn.run();
    detachConn = null;
    conn = null;
    requestIds.clear();
  }

  private void abandon(SluiceException err) {
    synchronized (this) {
      abandonLocked(err);
    }
    drain();
  }

  /** Fails every unacked event with {@code err}, in order; later appends fail at once. */
  private void abandonLocked(SluiceException err) {
    if (failure != null) return;
    failure = err;
    detach();
    List<Pending> failed = new ArrayList<>(unacked);
    unacked.clear();
    unackedBytes = 0;
    notifyAll();
    for (Pending p : failed) completions.add(() -> p.future().completeExceptionally(err));
  }

  /**
   * Runs the queued future completions outside the lock, so that callers' continuations never run
   * under it (they may call back into this appender, or take their own locks). Called after every
   * lock section that may have queued some; from inside one, it hands the work to a sender thread.
   */
  private void drain() {
    if (Thread.holdsLock(this)) {
      SENDERS.execute(this::drain);
      return;
    }
    synchronized (this) {
      if (draining) return;
      draining = true;
    }
    for (;;) {
      Runnable r;
      synchronized (this) {
        r = completions.poll();
        if (r == null) {
          draining = false;
          return;
        }
      }
      r.run();
    }
  }
}

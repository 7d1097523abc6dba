package io.sluice.client.wire;

import io.sluice.client.ClientConfig;
import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * The client end of a data-plane connection to a segment store (proto/wire/wire.md). One TCP
 * connection carries many requests at once: request ids are allocated by the connection (u32, never
 * 0, unique among the calls in flight), and replies are matched to calls by request id. Frames that
 * answer no pending call (DataAppended acks of pipelined appends, their Error frames) go to
 * subscribers, in arrival order.
 *
 * <p>Threads: one reader thread reads frames (checking each header's length before it allocates the
 * payload) and completes futures and calls listeners; one writer thread writes queued frames. Futures
 * complete and listeners run on the reader thread: they must not block. Writes are bounded: a caller
 * whose frame would pass {@link #WRITE_QUEUE_BYTES_MAX} of queued bytes waits (up to the config's
 * request deadline, then TIMEOUT) until the writer catches up.
 *
 * <p>Failures: a call fails with the typed error of an Error reply (SluiceException carrying the
 * code and the message, which names the segment), MALFORMED_FRAME for a reply of another type than
 * expected, TIMEOUT after its deadline, OVERLOADED at once when {@link #CALLS_PENDING_MAX} calls are
 * in flight, and CONNECTION_CLOSED (cause: why) when the connection closes first or is closed.
 */
public final class WireConnection implements AutoCloseable {
  /** Calls in flight on one connection (common/limits.ts connectionRequestsMax). */
  public static final int CALLS_PENDING_MAX = 10_000;
  /** Encoded bytes waiting for the writer thread before send() waits. */
  public static final long WRITE_QUEUE_BYTES_MAX = 32L * 1024 * 1024;

  private final Socket socket;
  private final String address;
  private final ClientConfig config;
  private final Object lock = new Object();
  private final Map<Integer, Pending> pending = new HashMap<>();
  private final ArrayDeque<ByteBuffer> writeQueue = new ArrayDeque<>();
  private long writeQueueBytes = 0;
  private int requestIdLast = 0;
  private SluiceException closeReason;
  private final List<Consumer<Frame>> listeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<SluiceException>> closeListeners = new CopyOnWriteArrayList<>();

  private record Pending(CompletableFuture<Frame> future, String what, ScheduledFuture<?> timer) {}

  private WireConnection(Socket socket, String address, ClientConfig config) {
    this.socket = socket;
    this.address = address;
    this.config = config;
  }

  /**
   * Connects to {@code host:port} and exchanges Hello, on a new reader thread; the future completes
   * with the open connection. Fails with the server's typed error if it answers Error,
   * UNSUPPORTED_VERSION if its version range excludes ours, TIMEOUT after the config's connect
   * timeout, UNAVAILABLE (cause set) if the TCP connection fails or closes during the handshake.
   */
  public static CompletableFuture<WireConnection> open(String host, int port, ClientConfig config) {
    CompletableFuture<WireConnection> result = new CompletableFuture<>();
    String address = host + ":" + port;
    Thread t = new Thread(() -> {
      Socket socket = new Socket();
      WireConnection conn = new WireConnection(socket, address, config);
      DataInputStream in;
      try {
        in = conn.handshake(host, port);
      } catch (SluiceException e) {
        closeQuietly(socket, e);
        result.completeExceptionally(e);
        return;
      }
      Thread writer = new Thread(conn::writeLoop, "sluice-wire-writer-" + address);
      writer.setDaemon(true);
      writer.start();
      result.complete(conn);
      conn.readLoop(in);
    }, "sluice-wire-reader-" + address);
    t.setDaemon(true);
    t.start();
    return result;
  }

  private DataInputStream handshake(String host, int port) {
    long timeoutMs = config.connectTimeoutMs();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    try {
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(host, port), (int) timeoutMs);
      OutputStream out = socket.getOutputStream();
      ByteBuffer hello = FrameCodec.encode(new Frame.Hello(Frame.PROTOCOL_VERSION, Frame.PROTOCOL_VERSION));
      out.write(hello.array(), hello.arrayOffset() + hello.position(), hello.remaining());
      out.flush();
      int left = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
      socket.setSoTimeout(left);
      DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
      Frame first = readFrame(in);
      socket.setSoTimeout(0);
      if (first instanceof Frame.Hello h) {
        if (h.lowVersion() > Frame.PROTOCOL_VERSION || h.highVersion() < Frame.PROTOCOL_VERSION) {
          throw new SluiceException(ErrorCode.UNSUPPORTED_VERSION,
              address + " speaks versions [" + h.lowVersion() + ", " + h.highVersion() + "], not " + Frame.PROTOCOL_VERSION);
        }
        return in;
      }
      if (first instanceof Frame.ErrorFrame e) throw errorOf(e);
      throw new SluiceException(ErrorCode.MALFORMED_FRAME, address + " sent " + first.name() + " before Hello");
    } catch (java.net.SocketTimeoutException e) {
      throw new SluiceException(ErrorCode.TIMEOUT, "no Hello from " + address + " within " + timeoutMs + " ms", e);
    } catch (IOException e) {
      throw new SluiceException(ErrorCode.UNAVAILABLE, "cannot connect to " + address + ": " + e.getMessage(), e);
    }
  }

  /** Reads one frame: the header's length is checked (FRAME_TOO_LARGE) before the payload is allocated. */
  private static Frame readFrame(DataInputStream in) throws IOException {
    int type = in.readInt();
    long length = Integer.toUnsignedLong(in.readInt());
    FrameCodec.checkHeader(type, length);
    byte[] payload = new byte[(int) length];
    in.readFully(payload);
    return FrameCodec.decode(type, ByteBuffer.wrap(payload));
  }

  /** The typed error an Error frame carries. */
  public static SluiceException errorOf(Frame.ErrorFrame e) {
    return SluiceException.fromWire(e.errorId(), e.message());
  }

  /** {@code host:port}, for messages. */
  public String address() {
    return address;
  }

  public boolean isOpen() {
    synchronized (lock) {
      return closeReason == null;
    }
  }

  /**
   * Sends the frame {@code build} makes with a fresh request id and completes with the reply of type
   * {@code expect} to it (see the class comment for failures). The deadline is {@code timeoutMs}.
   */
  public <T extends Frame> CompletableFuture<T> call(IntFunction<Frame> build, Class<T> expect, long timeoutMs) {
    CompletableFuture<T> result = new CompletableFuture<>();
    call(build, timeoutMs).whenComplete((reply, err) -> {
      if (err != null) result.completeExceptionally(err);
      else if (expect.isInstance(reply)) result.complete(expect.cast(reply));
      else result.completeExceptionally(new SluiceException(ErrorCode.MALFORMED_FRAME,
          "request to " + address + ": expected " + expect.getSimpleName() + ", got " + reply.name()));
    });
    return result;
  }

  /** As {@link #call(IntFunction, Class, long)}, completing with whatever non-Error frame answers. */
  public CompletableFuture<Frame> call(IntFunction<Frame> build, long timeoutMs) {
    CompletableFuture<Frame> future = new CompletableFuture<>();
    int requestId;
    Frame frame;
    synchronized (lock) {
      if (closeReason != null) return CompletableFuture.failedFuture(closedError());
      if (pending.size() >= CALLS_PENDING_MAX) {
        return CompletableFuture.failedFuture(new SluiceException(ErrorCode.OVERLOADED, CALLS_PENDING_MAX + " requests already pending on " + address));
      }
      requestId = nextRequestIdLocked();
      frame = build.apply(requestId);
      ScheduledFuture<?> timer = Timers.schedule(() -> expire(requestId, future, frame.name(), timeoutMs), timeoutMs);
      pending.put(requestId, new Pending(future, frame.name(), timer));
    }
    try {
      enqueue(FrameCodec.encode(frame));
    } catch (RuntimeException e) {
      Pending p;
      synchronized (lock) {
        p = pending.remove(requestId);
      }
      if (p != null) p.timer().cancel(false);
      future.completeExceptionally(e);
    }
    return future;
  }

  /**
   * Sends the frame {@code build} makes with a fresh request id, without waiting for a reply: replies
   * and Error frames for it go to subscribers. Returns the request id. Throws CONNECTION_CLOSED once
   * closed, TIMEOUT when the write queue stays full past the request deadline.
   */
  public int send(IntFunction<Frame> build) {
    int requestId;
    Frame frame;
    synchronized (lock) {
      if (closeReason != null) throw closedError();
      requestId = nextRequestIdLocked();
      frame = build.apply(requestId);
    }
    enqueue(FrameCodec.encode(frame));
    return requestId;
  }

  /** Frames that answer no pending call go to {@code listener} (on the reader thread). Returns the unsubscribe. */
  public Runnable subscribe(Consumer<Frame> listener) {
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Calls {@code listener} once with the reason when the connection closes (at once if it is closed). Returns the removal. */
  public Runnable onClose(Consumer<SluiceException> listener) {
    SluiceException reason;
    synchronized (lock) {
      reason = closeReason;
      if (reason == null) closeListeners.add(listener);
    }
    if (reason != null) listener.accept(reason);
    return () -> closeListeners.remove(listener);
  }

  /** Ends the connection; pending calls fail CONNECTION_CLOSED. Idempotent. */
  @Override
  public void close() {
    shutdown(new SluiceException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " closed locally"));
  }

  private int nextRequestIdLocked() {
    // Bounded: at most CALLS_PENDING_MAX ids are pending, so a free one is found quickly.
    do {
      requestIdLast = requestIdLast == -1 ? 1 : requestIdLast + 1;
      if (requestIdLast == 0) requestIdLast = 1;
    } while (pending.containsKey(requestIdLast));
    return requestIdLast;
  }

  private void expire(int requestId, CompletableFuture<Frame> future, String what, long timeoutMs) {
    synchronized (lock) {
      Pending p = pending.get(requestId);
      if (p == null || p.future() != future) return;
      pending.remove(requestId);
    }
    future.completeExceptionally(new SluiceException(ErrorCode.TIMEOUT,
        what + " request " + Integer.toUnsignedLong(requestId) + " to " + address + " timed out after " + timeoutMs + " ms"));
  }

  private void enqueue(ByteBuffer encoded) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.requestTimeoutMs());
    synchronized (lock) {
      // A frame larger than the whole bound still goes once the queue is empty.
      while (closeReason == null && !writeQueue.isEmpty() && writeQueueBytes + encoded.remaining() > WRITE_QUEUE_BYTES_MAX) {
        long leftNs = deadline - System.nanoTime();
        if (leftNs <= 0) throw new SluiceException(ErrorCode.TIMEOUT, "write queue to " + address + " stayed full for " + config.requestTimeoutMs() + " ms");
        try {
          TimeUnit.NANOSECONDS.timedWait(lock, leftNs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new SluiceException(ErrorCode.CLOSED, "interrupted while writing to " + address, e);
        }
      }
      if (closeReason != null) throw closedError();
      writeQueue.add(encoded);
      writeQueueBytes += encoded.remaining();
      lock.notifyAll();
    }
  }

  private void writeLoop() {
    try (OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024)) {
      List<ByteBuffer> batch = new ArrayList<>();
      for (;;) {
        synchronized (lock) {
          while (closeReason == null && writeQueue.isEmpty()) lock.wait();
          if (closeReason != null) return;
          batch.addAll(writeQueue);
          writeQueue.clear();
        }
        long bytes = 0;
        // Pipelined frames of one batch leave in one flush.
        for (ByteBuffer b : batch) {
          bytes += b.remaining();
          if (b.hasArray()) out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
          else {
            byte[] copy = new byte[b.remaining()];
            b.duplicate().get(copy);
            out.write(copy);
          }
        }
        out.flush();
        batch.clear();
        synchronized (lock) {
          writeQueueBytes -= bytes;
          lock.notifyAll();
        }
      }
    } catch (IOException e) {
      shutdown(new SluiceException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " failed to write: " + e.getMessage(), e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      shutdown(new SluiceException(ErrorCode.CONNECTION_CLOSED, "writer of " + address + " interrupted", e));
    }
  }

  private void readLoop(DataInputStream in) {
    SluiceException peerError = null;
    try {
      for (;;) {
        Frame frame = readFrame(in);
        if (frame instanceof Frame.KeepAlive) continue;
        if (frame instanceof Frame.ErrorFrame e && e.requestId() == 0) peerError = errorOf(e);
        Pending p = null;
        if (frame.hasRequestId()) {
          synchronized (lock) {
            p = pending.remove(frame.requestId());
          }
        }
        if (p != null) {
          p.timer().cancel(false);
          if (frame instanceof Frame.ErrorFrame e) p.future().completeExceptionally(errorOf(e));
          else p.future().complete(frame);
        } else {
          for (Consumer<Frame> l : listeners) l.accept(frame);
        }
      }
    } catch (SluiceException e) {
      shutdown(e);
    } catch (IOException e) {
      String detail = peerError != null ? ": " + peerError.getMessage() : e.getMessage() == null ? "" : ": " + e.getMessage();
      shutdown(new SluiceException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " closed by peer" + detail, peerError != null ? peerError : e));
    } catch (RuntimeException e) {
      // A listener that throws is a bug in the client: the connection is not trusted after it.
      shutdown(new SluiceException(ErrorCode.INTERNAL, "connection to " + address + " failed: " + e, e));
    }
  }

  private SluiceException closedError() {
    SluiceException reason = closeReason;
    if (reason.code() == ErrorCode.CONNECTION_CLOSED) return reason;
    return new SluiceException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " closed: " + reason.getMessage(), reason);
  }

  /** Closes with {@code reason} (the first reason wins) and fails everything waiting. */
  private void shutdown(SluiceException reason) {
    List<Pending> failed;
    SluiceException closed;
    synchronized (lock) {
      if (closeReason != null) return;
      closeReason = reason;
      closed = closedError();
      failed = new ArrayList<>(pending.values());
      pending.clear();
      writeQueue.clear();
      writeQueueBytes = 0;
      lock.notifyAll();
    }
    closeQuietly(socket, reason);
    for (Pending p : failed) {
      p.timer().cancel(false);
      p.future().completeExceptionally(closed);
    }
    for (Consumer<SluiceException> l : closeListeners) l.accept(reason);
    closeListeners.clear();
  }

  private static void closeQuietly(Socket socket, SluiceException why) {
    try {
      socket.close();
    } catch (IOException e) {
      // The connection is already failing with `why`; a failed close adds nothing the caller can act on.
      why.addSuppressed(e);
    }
  }
}

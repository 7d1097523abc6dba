package io.sluice.client;

import io.sluice.client.wire.ConnectionPool;
import io.sluice.client.wire.Frame;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Reads the events of one segment in order from {@code startOffset}, either up to {@code endOffset}
 * (exclusive) or, with endOffset -1, to the end of the segment once it is sealed, following the tail
 * until then (each read at the tail waits on the store until data arrives or {@code waitMs} passes).
 *
 * <p>{@link #read(int)} returns whole events only: an event split across reads is joined (bounded by
 * the event size limit), and {@link #offset()} is always the event boundary after the last event
 * returned. At most one read may be outstanding; a second concurrent read fails INVALID_ARGUMENT.
 * Reads are idempotent: after a lost connection or another retriable error the reader connects again
 * and asks from the same offset, with bounded, doubling delays, asking the controller again where the
 * segment is served after WRONG_HOST, CONTAINER_NOT_READY or a lost connection (store failover).
 *
 * <p>A read fails with NO_SUCH_SEGMENT, SEGMENT_TRUNCATED, DATA_CORRUPTION (a bad length prefix, or a
 * sealed segment ending inside an event), INVALID_ARGUMENT (endOffset inside an event or beyond the
 * sealed length), UNAVAILABLE after the retries, CLOSED after close(). After a failure the reader
 * stays usable at its last boundary only for retriable errors; the caller decides.
 */
public final class SegmentReader implements AutoCloseable {
  private final SegmentConnector connector;
  private final ClientConfig config;
  private final String segment;
  private final long endOffset;
  private final EventParser parser;
  /** Offset of the next byte to ask for. */
  private long requestOffset;
  private volatile boolean finished = false;
  private volatile boolean closed = false;
  private final AtomicBoolean reading = new AtomicBoolean(false);

  public SegmentReader(ControllerClient controller, ConnectionPool pool, ClientConfig config, String segment, long startOffset, long endOffset) {
    if (startOffset < 0) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "startOffset " + startOffset + " of " + segment + " must be >= 0");
    if (endOffset != -1 && endOffset < startOffset) {
      throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "endOffset " + endOffset + " of " + segment + " must be -1 or >= startOffset " + startOffset);
    }
    this.connector = new SegmentConnector(controller, pool, config, segment);
    this.config = config;
    this.segment = segment;
    this.endOffset = endOffset;
    this.parser = new EventParser(segment, startOffset);
    this.requestOffset = startOffset;
    this.finished = endOffset == startOffset;
  }

  public String segment() {
    return segment;
  }

  /** The boundary after the last event returned: where a reader restarted from a checkpoint resumes. */
  public synchronized long offset() {
    return parser.boundary();
  }

  /** True once every event up to the end offset (or the end of the sealed segment) has been returned. */
  public boolean finished() {
    return finished;
  }

  /**
   * The next whole events (possibly none: a tail read that timed out, or part of a large event). A read
   * at the tail waits up to {@code waitMs} (0..60000) on the store. See the class comment for failures.
   */
  public CompletableFuture<ReadBatch> read(int waitMs) {
    if (closed) return CompletableFuture.failedFuture(new SluiceException(ErrorCode.CLOSED, "reader of " + segment + " is closed"));
    if (waitMs < 0 || waitMs > ClientConfig.READ_WAIT_MS_MAX) {
      return CompletableFuture.failedFuture(new SluiceException(ErrorCode.INVALID_ARGUMENT, "waitMs " + waitMs + " must be in [0, " + ClientConfig.READ_WAIT_MS_MAX + "]"));
    }
    if (finished) return CompletableFuture.completedFuture(new ReadBatch(List.of(), true, true));
    if (!reading.compareAndSet(false, true)) {
      return CompletableFuture.failedFuture(new SluiceException(ErrorCode.INVALID_ARGUMENT, "a read of " + segment + " is already outstanding"));
    }
    long offset;
    int maxBytes;
    synchronized (this) {
      offset = requestOffset;
      maxBytes = endOffset == -1 ? config.readBytes() : (int) Math.min(config.readBytes(), endOffset - offset);
    }
    long timeoutMs = waitMs + config.requestTimeoutMs();
    CompletableFuture<ReadBatch> result = connector
        .request("reading " + segment,
            conn -> conn.call(id -> new Frame.ReadSegment(id, segment, offset, maxBytes, waitMs), Frame.SegmentRead.class, timeoutMs),
            () -> closed ? new SluiceException(ErrorCode.CLOSED, "reader of " + segment + " is closed") : null)
        .thenApply(reply -> accept(offset, reply));
    return result.whenComplete((batch, err) -> reading.set(false));
  }

  private synchronized ReadBatch accept(long offset, Frame.SegmentRead reply) {
    if (closed) throw new SluiceException(ErrorCode.CLOSED, "reader of " + segment + " is closed");
    if (reply.offset() != offset) {
      throw new SluiceException(ErrorCode.MALFORMED_FRAME, "read of " + segment + " answered offset " + reply.offset() + ", asked " + offset);
    }
    int bytes = reply.data().remaining();
    List<ReadEvent> events = parser.push(reply.data());
    requestOffset = offset + bytes;
    if (reply.endOfSegment()) {
      if (parser.pendingBytes() != 0) {
        throw new SluiceException(ErrorCode.DATA_CORRUPTION,
            segment + " is sealed at " + requestOffset + " inside an event (" + parser.pendingBytes() + " bytes of it)");
      }
      if (endOffset != -1 && requestOffset < endOffset) {
        throw new SluiceException(ErrorCode.INVALID_ARGUMENT, segment + " is sealed at " + requestOffset + ", before the range end " + endOffset);
      }
      finished = true;
    }
    if (endOffset != -1 && requestOffset >= endOffset) {
      if (parser.pendingBytes() != 0) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "range end " + endOffset + " of " + segment + " falls inside an event");
      finished = true;
    }
    return new ReadBatch(events, reply.atTail(), finished);
  }

  /**
   * The segment's length now (GetSegmentInfo), for lag: bytes between {@link #offset()} and it are
   * still to be read. Follows the same endpoint and retry rules as {@link #read}; fails as it does.
   * May be called while a read is outstanding.
   */
  public CompletableFuture<Long> length() {
    if (closed) return CompletableFuture.failedFuture(new SluiceException(ErrorCode.CLOSED, "reader of " + segment + " is closed"));
    return connector
        .request("asking the length of " + segment,
            conn -> conn.call(id -> new Frame.GetSegmentInfo(id, segment), Frame.SegmentInfo.class, config.requestTimeoutMs()),
            () -> closed ? new SluiceException(ErrorCode.CLOSED, "reader of " + segment + " is closed") : null)
        .thenApply(Frame.SegmentInfo::length);
  }

  /** Stops the reader: an outstanding read fails CLOSED (or completes if its answer came first); no read is sent after. */
  @Override
  public void close() {
    closed = true;
  }
}

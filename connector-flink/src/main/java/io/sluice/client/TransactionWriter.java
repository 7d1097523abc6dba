package io.sluice.client;

import io.sluice.client.wire.ConnectionPool;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes the events of one open transaction: the transaction has one segment per segment of the
 * stream's epoch when it was created, and a routing key picks the one whose parent's [keyStart,
 * keyEnd) holds {@link RoutingHash#keyPosition(String)}, so one key's events keep their order. Each
 * transaction segment gets its own {@link SegmentAppender} (made at its first event), so writes are
 * pipelined, durable when acknowledged, exactly once, and invisible to readers until the controller
 * commits the transaction (which merges every transaction segment into its parent, all or nothing).
 *
 * <p>This class writes only: committing, aborting and keeping the lease alive are the caller's
 * (through {@link ControllerClient}), so a transaction can be written by one process and committed
 * by another. A transaction segment is never sealed by scaling; a commit after a scale is the
 * controller's work.
 *
 * <p>Memory: {@link #write} blocks the calling thread while {@link ClientConfig#writerInflightBytesMax()}
 * bytes are unacknowledged, up to the request deadline (then the future fails TIMEOUT).
 */
public final class TransactionWriter implements AutoCloseable {
  private record Route(SegmentRange parent, String txnSegment, SegmentAppender[] appender) {}

  private final ControllerClient controller;
  private final ConnectionPool pool;
  private final ClientConfig config;
  private final String scope;
  private final String stream;
  private final TxnInfo txn;
  private final List<Route> routes = new ArrayList<>();
  private final InflightBudget budget;
  private long events = 0;
  private long bytes = 0;
  private boolean closed = false;

  /** A writer for {@code txn} (from {@link ControllerClient#createTransaction}) of scope/stream. */
  public TransactionWriter(ControllerClient controller, ConnectionPool pool, ClientConfig config, String scope, String stream, TxnInfo txn) {
    if (txn.segments().isEmpty()) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "transaction " + txn.txnId() + " of " + scope + "/" + stream + " has no segments");
    this.controller = controller;
    this.pool = pool;
    this.config = config;
    this.scope = scope;
    this.stream = stream;
    this.txn = txn;
    this.budget = new InflightBudget(config.writerInflightBytesMax(), config.requestTimeoutMs());
    for (TxnSegment s : txn.segments()) routes.add(new Route(s.parent(), s.txnSegment(), new SegmentAppender[1]));
  }

  public String txnId() {
    return txn.txnId();
  }

  public TxnInfo txn() {
    return txn;
  }

  /** Events written so far (accepted by {@link #write}, durable or not). */
  public synchronized long events() {
    return events;
  }

  /** Payload bytes written so far. */
  public synchronized long bytes() {
    return bytes;
  }

  /**
   * Writes one event into the transaction, routed by {@code routingKey} (null: a random position);
   * completes when it is durable (still invisible). Fails EVENT_TOO_LARGE, CLOSED, TIMEOUT (class
   * comment), or with the appender's error (UNAVAILABLE after its retries, NO_SUCH_SEGMENT when the
   * transaction was aborted and its segments deleted, ...).
   */
  public CompletableFuture<Long> write(String routingKey, byte[] payload) {
    if (payload.length > ClientConfig.EVENT_BYTES_MAX) {
      return CompletableFuture.failedFuture(new SluiceException(ErrorCode.EVENT_TOO_LARGE,
          "event of " + payload.length + " bytes exceeds the " + ClientConfig.EVENT_BYTES_MAX + "-byte limit"));
    }
    long cost = payload.length + 4L;
    SluiceException full = budget.acquire(cost, "transaction " + txn.txnId() + " of " + scope + "/" + stream);
    if (full != null) return CompletableFuture.failedFuture(full);
    double position = routingKey == null ? ThreadLocalRandom.current().nextDouble() : RoutingHash.keyPosition(routingKey);
    CompletableFuture<Long> f;
    synchronized (this) {
      if (closed) {
        f = CompletableFuture.failedFuture(new SluiceException(ErrorCode.CLOSED, "writer of transaction " + txn.txnId() + " is closed"));
      } else {
        events++;
        bytes += payload.length;
        f = appenderFor(position).enqueue(payload);
      }
    }
    f.whenComplete((n, err) -> budget.release(cost));
    return f;
  }

  /** Completes when every event written before the call is durable; fails with the first failure among them. */
  public CompletableFuture<Void> flush() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    synchronized (this) {
      for (Route r : routes) {
        if (r.appender[0] != null) all.add(r.appender[0].flush());
      }
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
  }

  /** Stops writing: events not yet durable fail CLOSED. Neither commits nor aborts the transaction. */
  @Override
  public void close() {
    List<SegmentAppender> all = new ArrayList<>();
    synchronized (this) {
      closed = true;
      for (Route r : routes) {
        if (r.appender[0] != null) all.add(r.appender[0]);
      }
    }
    for (SegmentAppender a : all) a.close();
  }

  /** The appender of the route holding {@code position} (the last route for position 1.0); lock held. */
  private SegmentAppender appenderFor(double position) {
    Route route = routes.get(routes.size() - 1);
    for (Route r : routes) {
      if (r.parent.holds(position)) {
        route = r;
        break;
      }
    }
    if (route.appender[0] == null) route.appender[0] = new SegmentAppender(controller, pool, config, route.txnSegment, UUID.randomUUID());
    return route.appender[0];
  }
}

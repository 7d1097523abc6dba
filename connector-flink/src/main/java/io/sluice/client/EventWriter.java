package io.sluice.client;

import io.sluice.client.wire.ConnectionPool;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes events to a stream: a routing key picks the current segment whose [keyStart, keyEnd) holds
 * {@link RoutingHash#keyPosition(String)}, so the events of one key go to one segment, in order. One
 * {@link SegmentAppender} per segment (each with its own writer id) pipelines and batches them.
 *
 * <p>Scaling: when a segment is sealed under the writer, its appender settles (events it stored
 * complete, the rest fail SEGMENT_SEALED); the writer holds new events for that segment's range,
 * asks the controller for the successors, and then sends the unstored events, in their order, and
 * then the held ones, to the successor holding each key. Per key the order holds across the seal,
 * and each event is stored in exactly one segment. If the stream itself was sealed the events fail
 * STREAM_SEALED.
 *
 * <p>{@link #writeEvent} completes when the event is durable; it blocks the calling thread while the
 * writer holds {@link ClientConfig#writerInflightBytesMax()} unacknowledged bytes, up to the request
 * deadline (then the future fails TIMEOUT). Other failures: EVENT_TOO_LARGE, CLOSED, the appenders'
 * errors (UNAVAILABLE after their retries, NO_SUCH_SEGMENT, ...).
 */
public final class EventWriter implements AutoCloseable {
  private static final class Entry {
    final double position;
    final byte[] payload;
    final CompletableFuture<Void> done = new CompletableFuture<>();

    Entry(double position, byte[] payload) {
      this.position = position;
      this.payload = payload;
    }
  }

  private static final class Route {
    final SegmentRange range;
    final SegmentAppender appender;
    /** Events handed to the appender and not yet settled, in order. */
    final ArrayDeque<Map.Entry<Entry, CompletableFuture<Long>>> sent = new ArrayDeque<>();
    /** Events that arrived while the segment's seal was followed. */
    final List<Entry> held = new ArrayList<>();
    boolean sealed = false;

    Route(SegmentRange range, SegmentAppender appender) {
      this.range = range;
      this.appender = appender;
    }
  }

  /**
   * Settles every writer's acknowledged events (short tasks, in completion order). Its thread ends
   * after a second without work, so an idle JVM (or a Flink job's class loader) is not pinned by it.
   */
  private static final ExecutorService SETTLER = ClientThreads.pool("sluice-writer-settle", 1);

  private final ControllerClient controller;
  private final ConnectionPool pool;
  private final ClientConfig config;
  private final String scope;
  private final String stream;
  private final List<Route> routes = new ArrayList<>();
  private final Map<String, Route> bySegment = new HashMap<>();
  private final InflightBudget budget;
  private boolean closed = false;

  private EventWriter(ControllerClient controller, ConnectionPool pool, ClientConfig config, String scope, String stream, List<SegmentRange> current) {
    this.controller = controller;
    this.pool = pool;
    this.config = config;
    this.scope = scope;
    this.stream = stream;
    this.budget = new InflightBudget(config.writerInflightBytesMax(), config.requestTimeoutMs());
    for (SegmentRange r : current) addRoute(r);
  }

  /** Opens a writer on the stream's current segments; fails NO_SUCH_STREAM, or INVALID_ARGUMENT for a stream without segments. */
  public static CompletableFuture<EventWriter> open(ControllerClient controller, ConnectionPool pool, ClientConfig config, String scope, String stream) {
    return controller.currentSegments(scope, stream).thenApply(current -> {
      if (current.isEmpty()) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "stream " + scope + "/" + stream + " has no open segments");
      return new EventWriter(controller, pool, config, scope, stream, current);
    });
  }

  /**
   * Writes one event routed by {@code routingKey} (null: a random key position, so keyless events spread
   * over the segments); completes when it is durable (class comment).
   */
  public CompletableFuture<Void> writeEvent(String routingKey, byte[] payload) {
    if (payload.length > ClientConfig.EVENT_BYTES_MAX) {
      return CompletableFuture.failedFuture(new SluiceException(ErrorCode.EVENT_TOO_LARGE,
          "event of " + payload.length + " bytes exceeds the " + ClientConfig.EVENT_BYTES_MAX + "-byte limit"));
    }
    long bytes = payload.length + 4L;
    SluiceException full = budget.acquire(bytes, "writer of " + scope + "/" + stream);
    if (full != null) return CompletableFuture.failedFuture(full);
    Entry entry = new Entry(routingKey == null ? ThreadLocalRandom.current().nextDouble() : RoutingHash.keyPosition(routingKey), payload);
    entry.done.whenComplete((v, err) -> budget.release(bytes));
    synchronized (this) {
      if (closed) entry.done.completeExceptionally(new SluiceException(ErrorCode.CLOSED, "writer of " + scope + "/" + stream + " is closed"));
      else dispatch(entry);
    }
    return entry.done;
  }

  /** Completes when every event written before the call is durable (scales followed); fails with the first failure. */
  public CompletableFuture<Void> flush() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    synchronized (this) {
      for (Route r : routes) {
        for (Map.Entry<Entry, CompletableFuture<Long>> e : r.sent) all.add(e.getKey().done);
        for (Entry e : r.held) all.add(e.done);
      }
      for (Route r : bySegment.values()) {
        if (!routes.contains(r)) for (Map.Entry<Entry, CompletableFuture<Long>> e : r.sent) all.add(e.getKey().done);
      }
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
  }

  /** Closes the appenders: events not yet durable fail CLOSED (flush first to wait for them). */
  @Override
  public void close() {
    List<Route> all;
    synchronized (this) {
      closed = true;
      all = new ArrayList<>(bySegment.values());
    }
    for (Route r : all) r.appender.close();
  }

  private Route addRoute(SegmentRange r) {
    Route route = new Route(r, new SegmentAppender(controller, pool, config, r.segment(), UUID.randomUUID()));
    routes.add(route);
    bySegment.put(r.segment(), route);
    return route;
  }

  /** Hands {@code entry} to the route holding its key; lock held. */
  private void dispatch(Entry entry) {
    Route route = null;
    for (Route r : routes) {
      if (r.range.holds(entry.position)) {
        route = r;
        break;
      }
    }
    if (route == null) {
      entry.done.completeExceptionally(new SluiceException(ErrorCode.INTERNAL, "no segment of " + scope + "/" + stream + " holds key position " + entry.position));
      return;
    }
    if (route.sealed) {
      route.held.add(entry);
      return;
    }
    CompletableFuture<Long> f = route.appender.enqueue(entry.payload);
    Route target = route;
    route.sent.add(Map.entry(entry, f));
    // Settled on another thread, so a future that failed at once does not re-enter dispatch. Not the
    // default async pool: with fewer than 3 cores CompletableFuture starts a thread per task.
    f.whenCompleteAsync((n, err) -> settled(target, entry, f, err), SETTLER);
  }

  private void settled(Route route, Entry entry, CompletableFuture<Long> f, Throwable err) {
    SluiceException e = err == null ? null : SluiceException.of(err);
    synchronized (this) {
      if (e != null && e.code() == ErrorCode.SEGMENT_SEALED) {
        if (!route.sealed) {
          route.sealed = true;
          route.appender.sealedAt().whenComplete((last, sealErr) -> follow(route));
        }
        return;
      }
      // Acks settle in event order (almost always: settling runs on a pool), so the head is the usual match.
      Map.Entry<Entry, CompletableFuture<Long>> head = route.sent.peekFirst();
      if (head != null && head.getValue() == f) route.sent.pollFirst();
      else route.sent.removeIf(s -> s.getValue() == f);
    }
    if (e == null) entry.done.complete(null);
    else entry.done.completeExceptionally(e);
  }

  /** Replaces a sealed route by its successors and re-sends its unstored and held events, in order. */
  private void follow(Route route) {
    controller.successors(route.range.segment()).whenComplete((successors, err) -> {
      List<Entry> redo = new ArrayList<>();
      synchronized (this) {
        for (Map.Entry<Entry, CompletableFuture<Long>> s : route.sent) {
          CompletableFuture<Long> f = s.getValue();
          if (f.isCompletedExceptionally() && SluiceException.of(f.handle((v, x) -> x).join()).code() == ErrorCode.SEGMENT_SEALED) redo.add(s.getKey());
        }
        route.sent.clear();
        redo.addAll(route.held);
        route.held.clear();
        routes.remove(route);
        SluiceException failure = null;
        if (err != null) failure = SluiceException.of(err);
        else if (successors.isEmpty()) failure = new SluiceException(ErrorCode.STREAM_SEALED, "stream " + scope + "/" + stream + " is sealed");
        if (failure == null && !closed) {
          for (Successor s : successors) {
            if (!bySegment.containsKey(s.range().segment())) addRoute(s.range());
          }
          for (Entry e : redo) dispatch(e);
          return;
        }
        if (failure == null) failure = new SluiceException(ErrorCode.CLOSED, "writer of " + scope + "/" + stream + " is closed");
        for (Entry e : redo) e.done.completeExceptionally(failure);
      }
    });
  }
}

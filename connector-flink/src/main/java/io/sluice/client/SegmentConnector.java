package io.sluice.client;

import io.sluice.client.wire.ConnectionPool;
import io.sluice.client.wire.Timers;
import io.sluice.client.wire.WireConnection;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * How one reader or appender reaches the segment store serving its segment, and retries a request
 * there (as client/connection/segment-retry.ts): retriable errors are retried up to
 * {@link ClientConfig#retryCountMax()} times with doubling delays; after an error that says the
 * segment may be served elsewhere (WRONG_HOST, CONTAINER_NOT_READY, CONNECTION_CLOSED, UNAVAILABLE)
 * the next attempt asks the controller for the endpoint again instead of using the cached one.
 * After the retries a request fails UNAVAILABLE (cause: the last error), or with the last error's own
 * code for conditions an operator must fix (STORAGE_FULL, TOO_MANY_CONNECTIONS, NO_SEGMENT_STORE).
 */
final class SegmentConnector {
  private final ControllerClient controller;
  private final ConnectionPool pool;
  private final ClientConfig config;
  private final String segment;
  private volatile Endpoint endpoint;
  private volatile boolean stale = false;

  SegmentConnector(ControllerClient controller, ConnectionPool pool, ClientConfig config, String segment) {
    this.controller = controller;
    this.pool = pool;
    this.config = config;
    this.segment = segment;
  }

  ClientConfig config() {
    return config;
  }

  /** A connection to the store serving the segment: the cached endpoint, or the controller's answer when stale. */
  CompletableFuture<WireConnection> connect() {
    Endpoint known = endpoint;
    if (known != null && !stale) return pool.get(known);
    stale = false;
    return controller.endpoint(segment).thenCompose(e -> {
      endpoint = e;
      return pool.get(e);
    });
  }

  /** Notes {@code err}: after one that says the segment may have moved, the next connect asks the controller. */
  void observe(SluiceException err) {
    if (endpointMayBeStale(err.code())) stale = true;
  }

  static boolean endpointMayBeStale(ErrorCode code) {
    return switch (code) {
      case WRONG_HOST, CONTAINER_NOT_READY, CONNECTION_CLOSED, UNAVAILABLE -> true;
      default -> false;
    };
  }

  /**
   * Runs {@code send} on a connection to the store serving the segment, retrying as the class comment
   * says. {@code stopped} is asked before each attempt; a non-null answer ends the request with it.
   */
  <T> CompletableFuture<T> request(String what, Function<WireConnection, CompletableFuture<T>> send, Supplier<SluiceException> stopped) {
    CompletableFuture<T> result = new CompletableFuture<>();
    attempt(what, send, stopped, 0, null, result);
    return result;
  }

  private <T> void attempt(String what, Function<WireConnection, CompletableFuture<T>> send, Supplier<SluiceException> stopped, int attempt,
      SluiceException last, CompletableFuture<T> result) {
    SluiceException stop = stopped.get();
    if (stop != null) {
      result.completeExceptionally(stop);
      return;
    }
    CompletableFuture<T> f;
    try {
      f = connect().thenCompose(send);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((value, err) -> {
      if (err == null) {
        result.complete(value);
        return;
      }
      SluiceException e = SluiceException.of(err);
      observe(e);
      if (!e.retriable()) result.completeExceptionally(e);
      else if (attempt >= config.retryCountMax()) result.completeExceptionally(retriesSpent(what, attempt, e));
      else Timers.schedule(() -> attempt(what, send, stopped, attempt + 1, e, result), config.retryDelayMs(attempt));
    });
  }

  /** The error a request fails with once its retries are spent on {@code last}. */
  static SluiceException retriesSpent(String what, int retries, SluiceException last) {
    String message = "gave up " + what + " after " + retries + " retries: " + last.getMessage();
    return switch (last.code()) {
      case STORAGE_FULL, TOO_MANY_CONNECTIONS, NO_SEGMENT_STORE -> new SluiceException(last.code(), message, last);
      default -> new SluiceException(ErrorCode.UNAVAILABLE, message, last);
    };
  }

}

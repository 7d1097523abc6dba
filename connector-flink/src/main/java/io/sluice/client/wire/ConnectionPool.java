package io.sluice.client.wire;

import io.sluice.client.ClientConfig;
import io.sluice.client.Endpoint;
import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One shared data-plane connection per segment store ({@code host:port}), opened on first use and
 * opened again on the next {@link #get} after it was lost (a failed open is not cached either). All
 * readers and appenders of a client share the pool. At most {@link #ENDPOINTS_MAX} stores are held.
 */
public final class ConnectionPool implements AutoCloseable {
  /** Stores the pool keeps connections to (common/limits.ts endpointsCachedMax). */
  public static final int ENDPOINTS_MAX = 10_000;

  private final ClientConfig config;
  private final Map<String, CompletableFuture<WireConnection>> connections = new HashMap<>();
  private boolean closed = false;

  public ConnectionPool(ClientConfig config) {
    this.config = config;
  }

  public ClientConfig config() {
    return config;
  }

  /**
   * The open connection to {@code endpoint}'s store, or one being opened. Fails as
   * {@link WireConnection#open} fails, CLOSED after close(), OVERLOADED beyond ENDPOINTS_MAX stores.
   */
  public CompletableFuture<WireConnection> get(Endpoint endpoint) {
    String key = endpoint.address();
    synchronized (connections) {
      if (closed) return CompletableFuture.failedFuture(new SluiceException(ErrorCode.CLOSED, "connection pool is closed"));
      CompletableFuture<WireConnection> existing = connections.get(key);
      if (existing != null && (!existing.isDone() || (!existing.isCompletedExceptionally() && existing.join().isOpen()))) return existing;
      if (existing == null && connections.size() >= ENDPOINTS_MAX) {
        return CompletableFuture.failedFuture(new SluiceException(ErrorCode.OVERLOADED, "connection pool holds " + ENDPOINTS_MAX + " stores already"));
      }
      CompletableFuture<WireConnection> opening = WireConnection.open(endpoint.host(), endpoint.port(), config);
      connections.put(key, opening);
      opening.whenComplete((conn, err) -> {
        if (err != null) {
          synchronized (connections) {
            connections.remove(key, opening);
          }
        } else {
          conn.onClose(reason -> {
            synchronized (connections) {
              connections.remove(key, opening);
            }
          });
          boolean poolClosed;
          synchronized (connections) {
            poolClosed = closed;
          }
          if (poolClosed) conn.close();
        }
      });
      return opening;
    }
  }

  /** Closes every connection; calls in flight fail CONNECTION_CLOSED, later get()s fail CLOSED. */
  @Override
  public void close() {
    List<CompletableFuture<WireConnection>> all;
    synchronized (connections) {
      closed = true;
      all = new ArrayList<>(connections.values());
      connections.clear();
    }
    for (CompletableFuture<WireConnection> f : all) {
      if (f.isDone() && !f.isCompletedExceptionally()) f.join().close();
    }
  }
}

package io.sluice.client;

import java.io.Serializable;

/** Where a segment is served: the data-plane address of the segment store and the segment's container. */
public record Endpoint(String host, int port, int container) implements Serializable {
  /** {@code host:port}, the connection pool's key. */
  public String address() {
    return host + ":" + port;
  }
}

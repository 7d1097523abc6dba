package io.sluice.client;

import java.io.Serializable;
import java.util.List;

/** A created transaction: its id, the epoch it writes in, its segments, and when its lease expires (epoch ms). */
public record TxnInfo(String txnId, int epoch, List<TxnSegment> segments, long leaseExpiresAtMs) implements Serializable {
  public TxnInfo {
    segments = List.copyOf(segments);
  }
}

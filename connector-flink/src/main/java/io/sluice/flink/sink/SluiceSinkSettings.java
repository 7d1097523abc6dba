package io.sluice.flink.sink;

import io.sluice.client.ClientConfig;
import io.sluice.client.SluiceException;
import java.io.Serializable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * What a {@link SluiceSink} was built with (checked by {@link SluiceSinkBuilder}).
 *
 * @param tagPrefix the prefix of its transactions' tags; null: one made from the job id at first start
 */
record SluiceSinkSettings(String controllerUri, String scope, String stream, DeliveryGuarantee delivery, int leaseMs, String tagPrefix, ClientConfig client)
    implements Serializable {
  String streamName() {
    return scope + "/" + stream;
  }

  /** Waits for a client call with the controller deadline (plus a second); its failure as a SluiceException. */
  <V> V await(CompletableFuture<V> call) throws InterruptedException {
    try {
      return call.get(client.controllerCallTimeoutMs() + 1_000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      throw SluiceException.of(e);
    }
  }

  /** As {@link #await}, with the deadline of a data-plane request (flushing a writer). */
  void awaitFlush(CompletableFuture<Void> flush) throws InterruptedException {
    try {
      flush.get(client.requestTimeoutMs() * 2, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      throw SluiceException.of(e);
    }
  }
}

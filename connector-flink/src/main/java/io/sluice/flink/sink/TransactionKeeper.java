package io.sluice.flink.sink;

import io.sluice.client.ControllerClient;
import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the leases of a writer subtask's transactions alive: the open one, and those handed to the
 * committer that may not be committed yet. Every {@code leaseMs / 3} it pings each; a transaction
 * whose ping answers TRANSACTION_CLOSED has ended (committed, or aborted: then the committer fails
 * loudly) and is no longer pinged. A retriable failure is retried at the next round, so two lost
 * rounds still leave a third of the lease.
 *
 * <p>A transaction that ends while it is still the open one (its lease ran out, someone aborted it)
 * is remembered: {@link #closedWhileOpen} reports it so the writer fails instead of writing on.
 * At most {@link #TRANSACTIONS_MAX} transactions are kept; {@link #keep} refuses more (commits that
 * never happen are a failure to report, not a list to grow).
 */
final class TransactionKeeper implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TransactionKeeper.class);
  static final int TRANSACTIONS_MAX = 10_000;

  private final ControllerClient controller;
  private final String scope;
  private final String stream;
  private final int leaseMs;
  private final ScheduledExecutorService timer;
  /** txn id -> true while it is the writer's open transaction. */
  private final Map<String, Boolean> kept = new LinkedHashMap<>();
  private SluiceException closedWhileOpen;

  TransactionKeeper(ControllerClient controller, String scope, String stream, int leaseMs) {
    this.controller = controller;
    this.scope = scope;
    this.stream = stream;
    this.leaseMs = leaseMs;
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "sluice-sink-lease-" + scope + "/" + stream);
      t.setDaemon(true);
      return t;
    });
    long everyMs = Math.max(100, leaseMs / 3);
    timer.scheduleWithFixedDelay(this::pingAll, everyMs, everyMs, TimeUnit.MILLISECONDS);
  }

  /** Starts keeping {@code txnId} as the open transaction. Fails INVALID_ARGUMENT past the bound. */
  synchronized void keepOpen(String txnId) {
    if (kept.size() >= TRANSACTIONS_MAX) {
      throw new SluiceException(ErrorCode.INVALID_ARGUMENT, kept.size() + " transactions of " + scope + "/" + stream
          + " are waiting for their commit; the sink keeps at most " + TRANSACTIONS_MAX + ": checkpoints complete but commits do not happen");
    }
    kept.put(txnId, true);
  }

  /** {@code txnId} is no longer the open one: it waits for its commit (pinged until it ends). */
  synchronized void handedOff(String txnId) {
    kept.computeIfPresent(txnId, (id, open) -> false);
  }

  /** Stops keeping {@code txnId} (aborted by the writer). */
  synchronized void forget(String txnId) {
    kept.remove(txnId);
  }

  /** The failure of the open transaction if it ended under the writer, else null. */
  synchronized SluiceException closedWhileOpen() {
    return closedWhileOpen;
  }

  synchronized int size() {
    return kept.size();
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }

  private void pingAll() {
    Map<String, Boolean> now;
    synchronized (this) {
      now = new LinkedHashMap<>(kept);
    }
    for (Map.Entry<String, Boolean> e : now.entrySet()) {
      String id = e.getKey();
      try {
        controller.pingTransaction(scope, stream, id, leaseMs).get(controller.config().controllerCallTimeoutMs() + 1_000, TimeUnit.MILLISECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception err) {
        ended(id, SluiceException.of(err));
      }
    }
  }

  private void ended(String id, SluiceException err) {
    if (err.retriable()) {
      LOG.warn("could not renew the lease of transaction {} of {}/{}; retrying at the next round: {}", id, scope, stream, err.getMessage());
      return;
    }
    synchronized (this) {
      Boolean open = kept.remove(id);
      if (Boolean.TRUE.equals(open) && closedWhileOpen == null) {
        closedWhileOpen = new SluiceException(err.code(), "transaction " + id + " of " + scope + "/" + stream + " ended while the sink was writing it: " + err.getMessage(), err);
      }
    }
  }
}

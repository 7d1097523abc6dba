package io.sluice.flink.sink;

import io.sluice.client.ControllerClient;
import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.TxnState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the leases of a writer subtask's transactions alive: the open one, and those handed to the
 * committer that may not be committed yet. Every {@code leaseMs / 3} it pings all of them at once; a
 * transaction whose ping answers that it has ended (TRANSACTION_CLOSED: committed, or aborted, when
 * the committer fails loudly; NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE) is no longer pinged. Any
 * other failure is tried again at the next round, so two lost rounds still leave a third of the lease.
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
    List<String> ids;
    synchronized (this) {
      ids = new ArrayList<>(kept.keySet());
    }
    List<CompletableFuture<TxnState>> pings = new ArrayList<>(ids.size());
    for (String id : ids) pings.add(controller.pingTransaction(scope, stream, id, leaseMs));
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(controller.config().controllerCallTimeoutMs() + 1_000);
    for (int i = 0; i < ids.size(); i++) {
      try {
        pings.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception err) {
        failed(ids.get(i), SluiceException.of(err));
      }
    }
  }

  private void failed(String id, SluiceException err) {
    boolean ended = err.code() == ErrorCode.TRANSACTION_CLOSED || err.code() == ErrorCode.NO_SUCH_TRANSACTION || err.code() == ErrorCode.TRANSACTION_RECORD_GONE;
    if (!ended) {
      LOG.warn("could not renew the lease of transaction {} of {}/{}; trying again at the next round: {}", id, scope, stream, err.getMessage());
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

package io.sluice.flink.sink;

import io.sluice.client.ControllerClient;
import io.sluice.client.SluiceException;
import io.sluice.client.TxnCommit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commits the sink's transactions by id once their checkpoint completed (all of a call's requests
 * at once). Committing is idempotent on the controller: a transaction committed before (a commit
 * that was retried, or one restored from a checkpoint after it landed) is signalled as already
 * committed. A retriable failure (UNAVAILABLE, TIMEOUT, OVERLOADED, ...) is retried later, by
 * Flink, up to {@link #RETRIES_MAX} times.
 *
 * <p>A commit that can no longer succeed (the transaction was aborted or its lease ran out, its
 * record is gone, the stream was sealed or deleted) fails the job with the transaction's id and the
 * events at stake; it is counted in {@code transactionsLost} and never logged and dropped.
 */
final class SluiceCommitter implements Committer<SluiceCommittable> {
  private static final Logger LOG = LoggerFactory.getLogger(SluiceCommitter.class);
  /** Retries of a retriable failure before the commit counts as failed (about a minute with Flink's back-off). */
  static final int RETRIES_MAX = 30;

  private final SluiceSinkSettings settings;
  private final Counter committed;
  private final Counter alreadyCommitted;
  private final Counter retried;
  private final Counter lost;
  private ControllerClient controller;

  SluiceCommitter(SluiceSinkSettings settings, MetricGroup metrics) {
    this.settings = settings;
    this.committed = metrics.counter("transactionsCommitted");
    this.alreadyCommitted = metrics.counter("transactionsAlreadyCommitted");
    this.retried = metrics.counter("transactionCommitRetries");
    this.lost = metrics.counter("transactionsLost");
  }

  @Override
  public void commit(Collection<CommitRequest<SluiceCommittable>> requests) throws InterruptedException {
    if (requests.isEmpty()) return;
    if (controller == null) controller = ControllerClient.connect(settings.controllerUri(), settings.client());
    List<CompletableFuture<TxnCommit>> calls = new ArrayList<>(requests.size());
    for (CommitRequest<SluiceCommittable> r : requests) {
      calls.add(controller.commitTransaction(settings.scope(), settings.stream(), r.getCommittable().txnId()));
    }
    int i = 0;
    for (CommitRequest<SluiceCommittable> r : requests) {
      settle(r, calls.get(i++));
    }
  }

  private void settle(CommitRequest<SluiceCommittable> request, CompletableFuture<TxnCommit> call) throws InterruptedException {
    SluiceCommittable c = request.getCommittable();
    TxnCommit outcome;
    try {
      outcome = settings.await(call);
    } catch (SluiceException e) {
      if (e.retriable() && request.getNumberOfRetries() < RETRIES_MAX) {
        retried.inc();
        LOG.warn("committing {} failed ({}); retrying later", c.describe(), e.getMessage());
        request.retryLater();
        return;
      }
      lost.inc();
      request.signalFailedWithUnknownReason(lostError(c, e));
      return;
    }
    if (outcome.alreadyCommitted()) {
      alreadyCommitted.inc();
      LOG.info("{} was already committed", c.describe());
      request.signalAlreadyCommitted();
    } else {
      committed.inc();
    }
  }

  /** The job's failure for a transaction that cannot be committed: its id, its events, and why. */
  static SluiceException lostError(SluiceCommittable c, SluiceException cause) {
    String why = switch (cause.code()) {
      case TRANSACTION_CLOSED -> "it was aborted or its lease ran out before the commit, so its events are not in the stream (make the sink's "
          + "transaction lease longer than the longest restart plus checkpoint)";
      case TRANSACTION_RECORD_GONE -> "the controller no longer knows whether it was committed (it ended longer ago than the controller keeps "
          + "records, --txn-record-kept-ms: the job restored a checkpoint that old)";
      default -> "its events may not be in the stream";
    };
    return new SluiceException(cause.code(), "cannot commit " + c.describe() + ": " + why + ": " + cause.getMessage(), cause);
  }

  @Override
  public void close() {
    if (controller != null) controller.close();
  }
}

package io.sluice.flink.sink;

import io.sluice.client.ControllerClient;
import io.sluice.client.SluiceException;
import io.sluice.client.TxnCommit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commits the sink's transactions by id once their checkpoint completed (all of a call's requests
 * at once). Committing is idempotent on the controller: a transaction committed before (a commit
 * that was retried, or one restored from a checkpoint after it landed) is signalled as already
 * committed. A retriable failure (UNAVAILABLE, TIMEOUT, OVERLOADED, ...) is retried here, backing
 * off from 200 ms to 5 s, for up to {@link #RETRY_MS_MAX} (a controller's leader hand-over takes
 * seconds); then the request is handed back to Flink ({@code retryLater}), which calls again at
 * once and fails the job after {@code sink.committer.retries} such rounds. The transactions' leases
 * are kept alive meanwhile by the writer (a third of the lease between pings).
 *
 * <p>A commit that can no longer succeed (the transaction was aborted or its lease ran out, its
 * record is gone, the stream was sealed or deleted) fails the job with the transaction's id and the
 * events at stake; it is counted in {@code transactionsLost} and never logged and dropped.
 */
final class SluiceCommitter implements Committer<SluiceCommittable> {
  private static final Logger LOG = LoggerFactory.getLogger(SluiceCommitter.class);
  /** How long one commit call keeps retrying retriable failures before handing them back to Flink. */
  static final long RETRY_MS_MAX = 60_000;
  static final long RETRY_DELAY_MS_MIN = 200;
  static final long RETRY_DELAY_MS_MAX = 5_000;

  private final SluiceSinkSettings settings;
  private final Counter committed;
  private final Counter alreadyCommitted;
  private final Counter retried;
  private final Counter lost;
  private final long retryMs;
  private ControllerClient controller;

  SluiceCommitter(SluiceSinkSettings settings, MetricGroup metrics) {
    this(settings, metrics, RETRY_MS_MAX);
  }

  /** As the committer Flink makes, retrying retriable failures for {@code retryMs} per call. */
  SluiceCommitter(SluiceSinkSettings settings, MetricGroup metrics, long retryMs) {
    this.settings = settings;
    this.retryMs = retryMs;
    this.committed = metrics.counter("transactionsCommitted");
    this.alreadyCommitted = metrics.counter("transactionsAlreadyCommitted");
    this.retried = metrics.counter("transactionCommitRetries");
    this.lost = metrics.counter("transactionsLost");
  }

  @Override
  public void commit(Collection<CommitRequest<SluiceCommittable>> requests) throws InterruptedException {
    if (requests.isEmpty()) return;
    if (controller == null) controller = ControllerClient.connect(settings.controllerUri(), settings.client());
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(retryMs);
    long delayMs = RETRY_DELAY_MS_MIN;
    List<CommitRequest<SluiceCommittable>> pending = new ArrayList<>(requests);
    while (true) {
      List<CompletableFuture<TxnCommit>> calls = new ArrayList<>(pending.size());
      for (CommitRequest<SluiceCommittable> r : pending) {
        calls.add(controller.commitTransaction(settings.scope(), settings.stream(), r.getCommittable().txnId()));
      }
      List<CommitRequest<SluiceCommittable>> again = new ArrayList<>();
      for (int i = 0; i < pending.size(); i++) {
        if (!settle(pending.get(i), calls.get(i))) again.add(pending.get(i));
      }
      if (again.isEmpty()) return;
      if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMs) > deadline) {
        for (CommitRequest<SluiceCommittable> r : again) r.retryLater();
        return;
      }
      Thread.sleep(delayMs);
      delayMs = Math.min(delayMs * 2, RETRY_DELAY_MS_MAX);
      pending = again;
    }
  }

  /** Settles one request from its call's outcome; false when a retriable failure leaves it to retry. */
  private boolean settle(CommitRequest<SluiceCommittable> request, CompletableFuture<TxnCommit> call) throws InterruptedException {
    SluiceCommittable c = request.getCommittable();
    TxnCommit outcome;
    try {
      outcome = settings.await(call);
    } catch (SluiceException e) {
      if (e.retriable()) {
        retried.inc();
        LOG.warn("committing {} failed ({}); retrying", c.describe(), e.getMessage());
        return false;
      }
      lost.inc();
      request.signalFailedWithUnknownReason(lostError(c, e));
      return true;
    }
    if (outcome.alreadyCommitted()) {
      alreadyCommitted.inc();
      LOG.info("{} was already committed", c.describe());
      request.signalAlreadyCommitted();
    } else {
      committed.inc();
    }
    return true;
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

package io.sluice.flink.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.client.TransactionWriter;
import io.sluice.client.TxnInfo;
import io.sluice.client.TxnState;
import io.sluice.client.wire.ConnectionPool;
import io.sluice.testing.SluiceStandaloneExtension;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The two-phase-commit edges against a real Sluice: a commit run twice succeeds once and then
 * reports "already committed"; a restore aborts the transactions the previous run opened after the
 * restored checkpoint (its own and, after a scale-in, those of subtasks that are gone) and keeps the
 * one waiting for its commit; a transaction left to expire before its commit fails the commit with
 * its id and the events at stake.
 */
class SinkTransactionsTest {
  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final ClientConfig CONFIG = ClientConfig.defaults();
  static ControllerClient controller;
  static ConnectionPool pool;

  /** A commit request that records what the committer signalled (Flink's own throws on an unknown failure). */
  static final class Request implements Committer.CommitRequest<SluiceCommittable> {
    final SluiceCommittable committable;
    String outcome = "committed";
    Throwable failure;

    Request(SluiceCommittable committable) {
      this.committable = committable;
    }

    @Override
    public SluiceCommittable getCommittable() {
      return committable;
    }

    @Override
    public int getNumberOfRetries() {
      return 0;
    }

    @Override
    public void signalFailedWithKnownReason(Throwable t) {
      outcome = "failedKnown";
      failure = t;
    }

    @Override
    public void signalFailedWithUnknownReason(Throwable t) {
      outcome = "failedUnknown";
      failure = t;
    }

    @Override
    public void retryLater() {
      outcome = "retryLater";
    }

    @Override
    public void updateAndRetryLater(SluiceCommittable committable) {
      outcome = "updateAndRetryLater";
    }

    @Override
    public void signalAlreadyCommitted() {
      outcome = "alreadyCommitted";
    }
  }

  @BeforeAll
  static void connect() throws Exception {
    controller = ControllerClient.connect(SLUICE.get().controllerUri(), CONFIG);
    pool = new ConnectionPool(CONFIG);
    controller.createScope("tx").get(30, TimeUnit.SECONDS);
  }

  static SluiceSinkSettings settings(String stream, String tagPrefix) {
    return new SluiceSinkSettings(SLUICE.get().controllerUri(), "tx", stream, DeliveryGuarantee.EXACTLY_ONCE, 60_000, tagPrefix, CONFIG);
  }

  static SluiceCommittable written(String stream, int leaseMs, String... events) throws Exception {
    TxnInfo t = controller.createTransaction("tx", stream, leaseMs, "test/0/1").get(30, TimeUnit.SECONDS);
    try (TransactionWriter w = new TransactionWriter(controller, pool, CONFIG, "tx", stream, t)) {
      for (String e : events) w.write(e, e.getBytes(StandardCharsets.UTF_8));
      w.flush().get(30, TimeUnit.SECONDS);
      return new SluiceCommittable("tx/" + stream, t.txnId(), 0, 1, w.events(), w.bytes());
    }
  }

  static void commit(SluiceCommitter committer, Request r) throws Exception {
    committer.commit(List.<Committer.CommitRequest<SluiceCommittable>>of(r));
  }

  static TxnState status(String stream, String txnId) throws Exception {
    return controller.transactionStatus("tx", stream, txnId).get(30, TimeUnit.SECONDS);
  }

  @Test
  void aCommitRunTwiceSucceedsOnceThenReportsAlreadyCommitted() throws Exception {
    controller.createStream("tx", "twice", 2).get(30, TimeUnit.SECONDS);
    SluiceCommittable c = written("twice", 30_000, "a", "b", "c");
    try (SluiceCommitter committer = new SluiceCommitter(settings("twice", null), new UnregisteredMetricsGroup())) {
      Request first = new Request(c);
      commit(committer, first);
      assertEquals("committed", first.outcome);
      Request second = new Request(c);
      commit(committer, second);
      assertEquals("alreadyCommitted", second.outcome);
    }
    assertEquals(List.of("a", "b", "c"), sorted(SLUICE.get().cli(60_000, "read", "tx/twice")), "the events are in the stream once");
  }

  @Test
  void aTransactionLeftToExpireFailsItsCommitWithItsIdAndEvents() throws Exception {
    controller.createStream("tx", "expired", 1).get(30, TimeUnit.SECONDS);
    SluiceCommittable c = written("expired", 1_000, "x", "y");
    Thread.sleep(1_500); // the lease (1 s) runs out: nothing pings this transaction
    Request r = new Request(c);
    try (SluiceCommitter committer = new SluiceCommitter(settings("expired", null), new UnregisteredMetricsGroup())) {
      commit(committer, r);
    }
    assertEquals("failedUnknown", r.outcome, "the job fails (Flink fails it on an unknown reason)");
    SluiceException e = (SluiceException) r.failure;
    assertEquals(ErrorCode.TRANSACTION_CLOSED, e.code());
    assertTrue(e.getMessage().contains(c.txnId()) && e.getMessage().contains("2 events"), e.getMessage());
    assertEquals(List.of(), SLUICE.get().cli(60_000, "read", "tx/expired"), "nothing of it is visible");
  }

  @Test
  void anUnreachableControllerIsRetriedThenHandedBackToFlinkNotCountedLost() throws Exception {
    SluiceCommittable c = new SluiceCommittable("tx/any", "0123456789abcdef0123456789abcdef", 0, 1, 5, 50);
    ClientConfig quick = ClientConfig.builder().controllerCallTimeoutMs(500).build();
    SluiceSinkSettings unreachable = new SluiceSinkSettings("tcp://127.0.0.1:1", "tx", "any", DeliveryGuarantee.EXACTLY_ONCE, 60_000, null, quick);
    Request r = new Request(c);
    long started = System.nanoTime();
    try (SluiceCommitter committer = new SluiceCommitter(unreachable, new UnregisteredMetricsGroup(), 1_500)) {
      commit(committer, r);
    }
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    assertEquals("retryLater", r.outcome, "UNAVAILABLE is retried, then left to Flink's own retries");
    assertTrue(tookMs >= 1_000, "it retried for about its retry budget first (" + tookMs + " ms)");
  }

  @Test
  void aRestoreAbortsWhatWasOpenedAfterItsCheckpointAndKeepsWhatWaitsForCommit() throws Exception {
    controller.createStream("tx", "restore", 2).get(30, TimeUnit.SECONDS);
    SimpleStringSchema schema = new SimpleStringSchema();
    // The first run: subtask 0 of 2 writes for checkpoint 1, hands that off, and opens one for checkpoint 2;
    // subtask 1 opens one for checkpoint 2. Then the job "fails" (the writers are dropped, not closed).
    TransactionalWriter<String> a0 = new TransactionalWriter<>(settings("restore", "r"), schema, e -> e, 0, 2, 0, List.of(), "unused",
        UnregisteredMetricsGroup.createSinkWriterMetricGroup());
    TransactionalWriter<String> a1 = new TransactionalWriter<>(settings("restore", "r"), schema, e -> e, 1, 2, 0, List.of(), "unused",
        UnregisteredMetricsGroup.createSinkWriterMetricGroup());
    a0.write("one", null);
    a0.write("two", null);
    Collection<SluiceCommittable> handed = a0.prepareCommit();
    assertEquals(1, handed.size());
    SluiceCommittable waiting = handed.iterator().next();
    a0.snapshotState(1);
    a1.snapshotState(1);
    a0.write("three", null);
    a1.write("four", null);
    List<String> openBefore = openTxns("r/");
    assertEquals(3, openBefore.size(), "three open transactions: " + openBefore);

    // The restore from checkpoint 1 at parallelism 1: subtask 0 gets both states.
    TransactionalWriter<String> b0 = new TransactionalWriter<>(settings("restore", null), schema, e -> e, 0, 1, 1,
        List.of(new SluiceWriterState("r", 0), new SluiceWriterState("r", 1)), "unused", UnregisteredMetricsGroup.createSinkWriterMetricGroup());
    assertEquals(List.of(waiting.txnId()), openTxns("r/"), "only the transaction waiting for its commit is still open");
    for (String id : openBefore) {
      if (!id.equals(waiting.txnId())) assertEquals(TxnState.ABORTED, status("restore", id), "transaction " + id + " was aborted");
    }
    try (SluiceCommitter committer = new SluiceCommitter(settings("restore", null), new UnregisteredMetricsGroup())) {
      Request r = new Request(waiting);
      commit(committer, r);
      assertEquals("committed", r.outcome);
    }
    for (TransactionalWriter<String> w : List.of(b0, a0, a1)) w.close();
    assertEquals(List.of("one", "two"), sorted(SLUICE.get().cli(60_000, "read", "tx/restore")), "the committed checkpoint's events, and nothing after it");
  }

  static List<String> openTxns(String prefix) throws Exception {
    return controller.listOpenTransactions("tx", "restore", prefix).get(30, TimeUnit.SECONDS).stream().map(t -> t.txnId()).sorted().toList();
  }

  static List<String> sorted(List<String> lines) {
    return lines.stream().sorted().toList();
  }
}

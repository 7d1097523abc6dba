package io.sluice.flink.sink;

import io.sluice.client.ControllerClient;
import io.sluice.client.ErrorCode;
import io.sluice.client.OpenTxn;
import io.sluice.client.SluiceException;
import io.sluice.client.TransactionWriter;
import io.sluice.client.TxnInfo;
import io.sluice.client.wire.ConnectionPool;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer of EXACTLY_ONCE: one Sluice transaction per subtask per checkpoint. The transaction is
 * opened at the first event after a checkpoint (an idle subtask opens none), tagged
 * {@code <prefix>/<subtask>/<checkpoint it is meant for>}; {@link #prepareCommit} flushes it (every
 * event durable, still invisible) and hands it to the committer, which commits it once the
 * checkpoint completes. Its lease, and the leases of handed-off transactions until they end, are kept
 * alive by a {@link TransactionKeeper}.
 *
 * <p>On start it aborts the transactions a previous run of the same subtasks opened after the
 * checkpoint it restores (found by tag): their events were never committed and will be written
 * again. Transactions meant for that checkpoint or earlier are left alone: the committer's restored
 * state commits them. Subtask i cleans its own index, and the indexes of restored states at or
 * above the current parallelism (gone after a scale-in); nobody else opens transactions with those
 * tags meanwhile, so the cleanup cannot abort a new run's transaction.
 */
final class TransactionalWriter<T> implements StatefulSinkWriter<T, SluiceWriterState>, CommittingSinkWriter<T, SluiceCommittable> {
  private static final Logger LOG = LoggerFactory.getLogger(TransactionalWriter.class);

  private final SluiceSinkSettings settings;
  private final SerializationSchema<T> serializer;
  private final RoutingKeySelector<T> keys;
  private final int subtask;
  private final String tagPrefix;
  private final ControllerClient controller;
  private final ConnectionPool pool;
  private final TransactionKeeper keeper;
  private final Counter records;
  private final Counter bytes;
  private final Counter opened;
  private final Counter abortedOnRestore;
  /** The checkpoint the next transaction is meant for: restored + 1, then the last snapshot's + 1. */
  private long nextCheckpointId;
  private TransactionWriter current;
  private volatile SluiceException failure;

  /**
   * Starts a subtask's writer and cleans up after the previous run (class comment).
   *
   * @param restoredCheckpointId the checkpoint restored, 0 for a fresh start
   * @param restored the writer states handed to this subtask
   * @param defaultTagPrefix the prefix when none is configured or restored
   */
  TransactionalWriter(SluiceSinkSettings settings, SerializationSchema<T> serializer, RoutingKeySelector<T> keys, int subtask, int parallelism,
      long restoredCheckpointId, Collection<SluiceWriterState> restored, String defaultTagPrefix, SinkWriterMetricGroup metrics)
      throws InterruptedException {
    this.settings = settings;
    this.serializer = serializer;
    this.keys = keys;
    this.subtask = subtask;
    this.tagPrefix = settings.tagPrefix() != null ? settings.tagPrefix() : restored.isEmpty() ? defaultTagPrefix : restored.iterator().next().tagPrefix();
    this.nextCheckpointId = restoredCheckpointId + 1;
    this.records = metrics.getNumRecordsSendCounter();
    this.bytes = metrics.getNumBytesSendCounter();
    this.opened = metrics.counter("transactionsOpened");
    this.abortedOnRestore = metrics.counter("transactionsAbortedOnRestore");
    this.controller = ControllerClient.connect(settings.controllerUri(), settings.client());
    this.pool = new ConnectionPool(settings.client());
    this.keeper = new TransactionKeeper(controller, settings.scope(), settings.stream(), settings.leaseMs());
    boolean started = false;
    try {
      abortAfter(restoredCheckpointId, tagPrefix, subtask);
      for (SluiceWriterState s : restored) {
        if (s.subtask() >= parallelism || !s.tagPrefix().equals(tagPrefix)) abortAfter(restoredCheckpointId, s.tagPrefix(), s.subtask());
      }
      started = true;
    } finally {
      if (!started) close();
    }
  }

  /** The tag of a transaction: prefix, subtask, and the checkpoint it is meant for. */
  static String tag(String prefix, int subtask, long checkpointId) {
    return prefix + "/" + subtask + "/" + checkpointId;
  }

  /** The checkpoint a tag names, or -1 when the tag was not written by {@link #tag}. */
  static long checkpointOf(String tag) {
    int slash = tag.lastIndexOf('/');
    try {
      return slash < 0 ? -1 : Long.parseLong(tag.substring(slash + 1));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private void abortAfter(long checkpointId, String prefix, int index) throws InterruptedException {
    List<OpenTxn> open = settings.await(controller.listOpenTransactions(settings.scope(), settings.stream(), prefix + "/" + index + "/"));
    for (OpenTxn t : open) {
      if (checkpointOf(t.tag()) <= checkpointId) continue;
      try {
        settings.await(controller.abortTransaction(settings.scope(), settings.stream(), t.txnId()));
        abortedOnRestore.inc();
        LOG.info("aborted transaction {} of {} (tag {}): opened after checkpoint {}, which this run restores", t.txnId(), settings.streamName(), t.tag(), checkpointId);
      } catch (SluiceException e) {
        // Committing or committed: a commit was decided for it (a restore from an older checkpoint than
        // the last completed one); its events stay, as the user chose that state.
        if (e.code() != ErrorCode.TRANSACTION_CLOSED && e.code() != ErrorCode.NO_SUCH_TRANSACTION) throw e;
        LOG.warn("transaction {} of {} (tag {}) opened after checkpoint {} could not be aborted: {}", t.txnId(), settings.streamName(), t.tag(), checkpointId, e.getMessage());
      }
    }
  }

  @Override
  public void write(T element, Context context) throws IOException, InterruptedException {
    checkFailure();
    if (current == null) open();
    byte[] payload = serializer.serialize(element);
    current.write(keys == null ? null : keys.routingKey(element), payload).whenComplete((n, err) -> {
      if (err != null && failure == null) failure = SluiceException.of(err);
    });
    records.inc();
    bytes.inc(payload.length);
  }

  @Override
  public void flush(boolean endOfInput) throws IOException {
    checkFailure();
  }

  /** Flushes the open transaction and hands it to the committer (none when no event came). */
  @Override
  public Collection<SluiceCommittable> prepareCommit() throws IOException, InterruptedException {
    if (current == null) return List.of();
    TransactionWriter txn = current;
    try {
      settings.awaitFlush(txn.flush());
    } catch (SluiceException e) {
      throw new IOException("flushing transaction " + txn.txnId() + " of " + settings.streamName() + " failed: " + e.getMessage(), e);
    }
    checkFailure();
    current = null;
    txn.close();
    keeper.handedOff(txn.txnId());
    return List.of(new SluiceCommittable(settings.streamName(), txn.txnId(), subtask, nextCheckpointId, txn.events(), txn.bytes()));
  }

  @Override
  public List<SluiceWriterState> snapshotState(long checkpointId) {
    nextCheckpointId = checkpointId + 1;
    return List.of(new SluiceWriterState(tagPrefix, subtask));
  }

  /** Aborts the open transaction (its events were never handed to a committer), then stops. */
  @Override
  public void close() {
    TransactionWriter txn = current;
    current = null;
    if (txn != null) {
      txn.close();
      keeper.forget(txn.txnId());
      try {
        settings.await(controller.abortTransaction(settings.scope(), settings.stream(), txn.txnId()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (SluiceException e) {
        LOG.warn("could not abort transaction {} of {} on close (its lease will end it): {}", txn.txnId(), settings.streamName(), e.getMessage());
      }
    }
    keeper.close();
    pool.close();
    controller.close();
  }

  private void open() throws InterruptedException {
    String tag = tag(tagPrefix, subtask, nextCheckpointId);
    TxnInfo info = settings.await(controller.createTransaction(settings.scope(), settings.stream(), settings.leaseMs(), tag));
    try {
      keeper.keepOpen(info.txnId());
      current = new TransactionWriter(controller, pool, settings.client(), settings.scope(), settings.stream(), info);
    } catch (RuntimeException e) {
      keeper.forget(info.txnId());
      // Not left to its lease: it would count toward the stream's open transactions meanwhile.
      controller.abortTransaction(settings.scope(), settings.stream(), info.txnId());
      throw e;
    }
    opened.inc();
  }

  private void checkFailure() throws IOException {
    SluiceException f = failure;
    if (f == null) f = keeper.closedWhileOpen();
    if (f != null) throw new IOException("exactly-once writing to " + settings.streamName() + " failed: " + f.getMessage(), f);
  }
}

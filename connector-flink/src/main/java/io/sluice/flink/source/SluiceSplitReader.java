package io.sluice.flink.source;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.ReadBatch;
import io.sluice.client.ReadEvent;
import io.sluice.client.SegmentReader;
import io.sluice.client.wire.ConnectionPool;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsRemoval;

/**
 * Reads the segments assigned to one source reader, on Flink's fetcher thread. Every segment has at
 * most one read outstanding (a long poll at its tail), all on the store connections of one pool; the
 * next read of a segment is sent as soon as the previous one is taken, so it overlaps the emitting;
 * {@link #fetch} returns what the first reads to answer brought, so a quiet segment never holds up
 * a busy one. Memory is bounded by the read size times the segments assigned, times the few batches
 * Flink's element queue holds.
 *
 * <p>A segment read to its end (sealed, or its bounded end offset) is returned as finished once all
 * its events were handed over. Retriable failures (store failover, WRONG_HOST) are retried inside
 * {@link SegmentReader}; anything else fails the fetch, and so the job, which restores from its last
 * checkpoint.
 */
final class SluiceSplitReader implements SplitReader<ReadEvent, SluiceSplit> {
  private final ControllerClient controller;
  private final ConnectionPool pool;
  private final ClientConfig config;
  private final int readWaitMs;
  private final Map<String, Reading> readings = new LinkedHashMap<>();
  private final AtomicLong pendingBytes;
  private volatile CompletableFuture<Void> wakeup = new CompletableFuture<>();
  /** How often the lengths of unbounded segments are asked, for the pending-bytes gauge. */
  static final long LENGTH_ASK_INTERVAL_MS = 5_000;
  private long lengthAskedNs = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(LENGTH_ASK_INTERVAL_MS);

  private static final class Reading {
    final SluiceSplit split;
    final SegmentReader reader;
    CompletableFuture<ReadBatch> pending;
    /** The segment's length when last asked (-1: not known yet), for the pending-bytes gauge. */
    volatile long knownLength = -1;
    CompletableFuture<Long> lengthAsk;

    Reading(SluiceSplit split, SegmentReader reader) {
      this.split = split;
      this.reader = reader;
    }
  }

  SluiceSplitReader(ControllerClient controller, ConnectionPool pool, ClientConfig config, int readWaitMs, AtomicLong pendingBytes) {
    this.controller = controller;
    this.pool = pool;
    this.config = config;
    this.readWaitMs = readWaitMs;
    this.pendingBytes = pendingBytes;
  }

  @Override
  public RecordsWithSplitIds<ReadEvent> fetch() throws IOException {
    RecordsBySplits.Builder<ReadEvent> out = new RecordsBySplits.Builder<>();
    if (readings.isEmpty()) return out.build();
    List<CompletableFuture<?>> waits = new ArrayList<>(readings.size() + 1);
    for (Reading r : readings.values()) {
      if (r.pending == null) r.pending = r.reader.read(readWaitMs);
      waits.add(r.pending);
    }
    CompletableFuture<Void> wake = wakeup;
    waits.add(wake);
    try {
      CompletableFuture.anyOf(waits.toArray(CompletableFuture[]::new)).get(readWaitMs + config.requestTimeoutMs(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // A long poll answers within its wait; a store that does not is dealt with by the reader's deadline.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while reading Sluice segments", e);
    } catch (ExecutionException e) {
      // The failed read is collected below.
    }
    if (wake.isDone()) wakeup = new CompletableFuture<>();
    long pending = 0;
    for (var it = readings.values().iterator(); it.hasNext(); ) {
      Reading r = it.next();
      if (r.pending == null || !r.pending.isDone()) continue;
      ReadBatch batch;
      try {
        batch = r.pending.join();
      } catch (RuntimeException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        throw new IOException("reading Sluice segment " + r.split.segment() + " failed: " + cause.getMessage(), cause);
      } finally {
        r.pending = null;
      }
      out.addAll(r.split.splitId(), batch.events());
      if (batch.finished()) {
        out.addFinishedSplit(r.split.splitId());
        r.reader.close();
        it.remove();
      } else {
        // Ask for the next bytes now, so the store answers while Flink emits this batch.
        r.pending = r.reader.read(readWaitMs);
      }
    }
    boolean ask = System.nanoTime() - lengthAskedNs > TimeUnit.MILLISECONDS.toNanos(LENGTH_ASK_INTERVAL_MS);
    for (Reading r : readings.values()) {
      long end = r.split.endOffset() != SluiceSplit.NO_END ? r.split.endOffset() : r.knownLength;
      if (end >= 0) pending += Math.max(0, end - r.reader.offset());
      if (ask && r.split.endOffset() == SluiceSplit.NO_END && (r.lengthAsk == null || r.lengthAsk.isDone())) {
        Reading target = r;
        // Only for the gauge: a failed ask keeps the last known length and is asked again later.
        r.lengthAsk = r.reader.length().whenComplete((len, err) -> {
          if (err == null) target.knownLength = len;
        });
      }
    }
    if (ask) lengthAskedNs = System.nanoTime();
    pendingBytes.set(pending);
    return out.build();
  }

  @Override
  public void handleSplitsChanges(SplitsChange<SluiceSplit> change) {
    if (change instanceof SplitsAddition<SluiceSplit> add) {
      for (SluiceSplit s : add.splits()) {
        SegmentReader reader = new SegmentReader(controller, pool, config, s.segment(), s.offset(), s.endOffset());
        readings.put(s.splitId(), new Reading(s, reader));
      }
    } else if (change instanceof SplitsRemoval<SluiceSplit> remove) {
      for (SluiceSplit s : remove.splits()) {
        Reading r = readings.remove(s.splitId());
        if (r != null) r.reader.close();
      }
    }
  }

  @Override
  public void wakeUp() {
    wakeup.complete(null);
  }

  @Override
  public void close() {
    for (Reading r : readings.values()) r.reader.close();
    readings.clear();
  }
}

package io.sluice.flink.sink;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.connector.sink2.SupportsPreWriteTopology;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.CheckpointConfig;

/**
 * A Flink sink (Sink V2) writing elements as events of one Sluice stream, with the delivery chosen
 * on the builder:
 *
 * <ul>
 *   <li>NONE: appends, never waited for (lost on a failure).
 *   <li>AT_LEAST_ONCE: appends; every checkpoint barrier waits until all are durable (duplicates
 *       after a failure, never losses).
 *   <li>EXACTLY_ONCE: one Sluice transaction per subtask per checkpoint, flushed at the barrier and
 *       committed by the committer when the checkpoint completes (idempotent); on restore, the
 *       transactions opened after the restored checkpoint are aborted; a commit that can no longer
 *       succeed fails the job with the transaction's id and its events (see {@link SluiceCommitter}).
 *       Readers see a checkpoint's events all at once, when it completes.
 * </ul>
 *
 * <p>Per routing key, events are written in the order a subtask receives them. Built by {@link #builder()}.
 */
public final class SluiceSink<T>
    implements Sink<T>, SupportsWriterState<T, SluiceWriterState>, SupportsCommitter<SluiceCommittable>, SupportsPreWriteTopology<T> {
  private static final long serialVersionUID = 1L;

  private final SluiceSinkSettings settings;
  private final SerializationSchema<T> serializer;
  private final RoutingKeySelector<T> keys;

  SluiceSink(SluiceSinkSettings settings, SerializationSchema<T> serializer, RoutingKeySelector<T> keys) {
    this.settings = settings;
    this.serializer = serializer;
    this.keys = keys;
  }

  public static <T> SluiceSinkBuilder<T> builder() {
    return new SluiceSinkBuilder<>();
  }

  public DeliveryGuarantee deliveryGuarantee() {
    return settings.delivery();
  }

  @Override
  public StatefulSinkWriter<T, SluiceWriterState> createWriter(WriterInitContext context) throws IOException {
    return restoreWriter(context, List.of());
  }

  @Override
  public StatefulSinkWriter<T, SluiceWriterState> restoreWriter(WriterInitContext context, Collection<SluiceWriterState> states) throws IOException {
    try {
      serializer.open(context.asSerializationSchemaInitializationContext());
      if (settings.delivery() != DeliveryGuarantee.EXACTLY_ONCE) return new SluiceWriter<>(settings, serializer, keys, context.metricGroup());
      return new TransactionalWriter<>(settings, serializer, keys, context.getTaskInfo().getIndexOfThisSubtask(), context.getTaskInfo().getNumberOfParallelSubtasks(),
          context.getRestoredCheckpointId().orElse(0), states, "flink-" + context.getJobInfo().getJobId(), context.metricGroup());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting the Sluice sink of " + settings.streamName(), e);
    } catch (SluiceException e) {
      throw new IOException("starting the Sluice sink of " + settings.streamName() + " failed: " + e.getMessage(), e);
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("opening the serialization schema of the Sluice sink of " + settings.streamName() + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public SimpleVersionedSerializer<SluiceWriterState> getWriterStateSerializer() {
    return new SinkSerializers.WriterStates();
  }

  @Override
  public Committer<SluiceCommittable> createCommitter(CommitterInitContext context) {
    return new SluiceCommitter(settings, context.metricGroup());
  }

  @Override
  public SimpleVersionedSerializer<SluiceCommittable> getCommittableSerializer() {
    return new SinkSerializers.Committables();
  }

  /** Adds nothing to the job; checks the job's checkpointing against the delivery chosen ({@link #checkCheckpointing}). */
  @Override
  public DataStream<T> addPreWriteTopology(DataStream<T> input) {
    CheckpointConfig checkpoints = input.getExecutionEnvironment().getCheckpointConfig();
    RuntimeExecutionMode mode = input.getExecutionEnvironment().getConfiguration().get(ExecutionOptions.RUNTIME_MODE);
    checkCheckpointing(settings.delivery(), settings.leaseMs(), mode, checkpoints.isCheckpointingEnabled() ? checkpoints.getCheckpointInterval() : -1,
        checkpoints.getCheckpointTimeout());
    return input;
  }

  /**
   * EXACTLY_ONCE in a STREAMING (or AUTOMATIC) job needs checkpointing (events become visible when a
   * checkpoint completes), and a lease longer than the checkpoint interval plus the checkpoint
   * timeout, so an open transaction outlives a whole checkpoint even if no ping gets through. Raises
   * INVALID_ARGUMENT saying which setting to change. BATCH jobs commit at the end: no check.
   *
   * @param intervalMs the checkpoint interval, or a negative number when checkpointing is off
   */
  static void checkCheckpointing(DeliveryGuarantee delivery, int leaseMs, RuntimeExecutionMode mode, long intervalMs, long timeoutMs) {
    if (delivery != DeliveryGuarantee.EXACTLY_ONCE || mode == RuntimeExecutionMode.BATCH) return;
    if (intervalMs <= 0) {
      throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "the EXACTLY_ONCE Sluice sink needs checkpointing: its events become visible when a checkpoint "
          + "completes; enable it (env.enableCheckpointing(ms), or execution.checkpointing.interval) or choose AT_LEAST_ONCE");
    }
    if (leaseMs <= intervalMs + timeoutMs) {
      throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "the Sluice sink's transaction lease (" + leaseMs + " ms) must be longer than the checkpoint interval ("
          + intervalMs + " ms) plus the checkpoint timeout (" + timeoutMs + " ms): raise setTransactionLease, or lower execution.checkpointing.timeout");
    }
  }
}

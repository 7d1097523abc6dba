package io.sluice.flink.sink;

import io.sluice.client.ClientConfig;
import io.sluice.client.ErrorCode;
import io.sluice.client.SegmentNames;
import io.sluice.client.SluiceException;
import java.time.Duration;
import java.util.Objects;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * Builds a {@link SluiceSink}. Required: the controller, the stream and a serializer. Defaults:
 * AT_LEAST_ONCE, no routing key (events spread over the segments), a 15-minute transaction lease,
 * transaction tags prefixed with the job id. {@link #build()} checks everything and raises
 * {@link SluiceException} (INVALID_ARGUMENT or INVALID_NAME) naming the setting that is wrong; the
 * lease is checked against the job's checkpointing when the sink is added to a job.
 */
public final class SluiceSinkBuilder<T> {
  /** The default lease: above Flink's default checkpoint timeout (10 minutes) plus an interval. */
  public static final Duration LEASE_DEFAULT = Duration.ofMinutes(15);
  /** The longest lease the builder accepts; the controller may allow less (its --txn-lease-max-ms, 1 hour by default). */
  public static final Duration LEASE_MAX = Duration.ofHours(24);
  /** The shortest lease a controller grants. */
  public static final Duration LEASE_MIN = Duration.ofSeconds(1);
  /** The longest tag prefix (tags are at most 200 bytes with the subtask and checkpoint). */
  public static final int TAG_PREFIX_CHARS_MAX = 100;

  private String controllerUri;
  private String stream;
  private SerializationSchema<T> serializer;
  private RoutingKeySelector<T> keys;
  private DeliveryGuarantee delivery = DeliveryGuarantee.AT_LEAST_ONCE;
  private Duration lease = LEASE_DEFAULT;
  private String tagPrefix;
  private ClientConfig client = ClientConfig.defaults();

  SluiceSinkBuilder() {}

  /** The controller: {@code tcp://host:port}, several comma-separated. */
  public SluiceSinkBuilder<T> setControllerUri(String uri) {
    this.controllerUri = uri;
    return this;
  }

  /** The stream written, as {@code scope/stream}; it must exist when the job starts. */
  public SluiceSinkBuilder<T> setStream(String stream) {
    this.stream = stream;
    return this;
  }

  /** Turns an element into the event's bytes. */
  public SluiceSinkBuilder<T> setSerializationSchema(SerializationSchema<T> serializer) {
    this.serializer = serializer;
    return this;
  }

  /** The routing key of each element (per-key order); null or unset: keyless, spread at random. */
  public SluiceSinkBuilder<T> setRoutingKey(RoutingKeySelector<T> keys) {
    this.keys = keys;
    return this;
  }

  /**
   * NONE (appends, never waited for), AT_LEAST_ONCE (every checkpoint waits for all acks) or
   * EXACTLY_ONCE (a transaction per subtask per checkpoint; needs checkpointing in STREAMING mode).
   */
  public SluiceSinkBuilder<T> setDeliveryGuarantee(DeliveryGuarantee delivery) {
    this.delivery = delivery;
    return this;
  }

  /**
   * EXACTLY_ONCE: how long a transaction lives without a lease ping. Pings come from the running job;
   * after a failure the lease must outlast the restart until the committer commits, and it must be
   * longer than the checkpoint interval plus the checkpoint timeout (checked when the sink joins a job).
   */
  public SluiceSinkBuilder<T> setTransactionLease(Duration lease) {
    this.lease = lease;
    return this;
  }

  /**
   * EXACTLY_ONCE: the prefix of the tags the sink's transactions carry (default: {@code flink-<job
   * id>} at the job's first start, then kept in its state). Two sinks writing one stream need
   * different prefixes; a restore finds and aborts its own leftover transactions by it.
   */
  public SluiceSinkBuilder<T> setTransactionTagPrefix(String prefix) {
    this.tagPrefix = prefix;
    return this;
  }

  public SluiceSinkBuilder<T> setClientConfig(ClientConfig client) {
    this.client = client;
    return this;
  }

  public SluiceSink<T> build() {
    if (controllerUri == null || controllerUri.isBlank()) throw invalid("setControllerUri: the controller address is required, e.g. tcp://127.0.0.1:9090");
    if (stream == null) throw new SluiceException(ErrorCode.INVALID_NAME, "setStream: the stream is required, as scope/stream");
    String[] name;
    try {
      name = SegmentNames.parseStreamName(stream);
    } catch (SluiceException e) {
      throw new SluiceException(ErrorCode.INVALID_NAME, "setStream: " + e.getMessage(), e);
    }
    if (serializer == null) throw invalid("setSerializationSchema is required");
    if (delivery == null) throw invalid("setDeliveryGuarantee: choose NONE, AT_LEAST_ONCE or EXACTLY_ONCE");
    Objects.requireNonNull(client, "setClientConfig: null");
    if (lease == null || lease.compareTo(LEASE_MIN) < 0 || lease.compareTo(LEASE_MAX) > 0) {
      throw invalid("setTransactionLease: " + lease + " is outside " + LEASE_MIN + " to " + LEASE_MAX);
    }
    if (tagPrefix != null && (tagPrefix.isEmpty() || tagPrefix.length() > TAG_PREFIX_CHARS_MAX || !tagPrefix.matches("[!-.0-~]+"))) {
      throw invalid("setTransactionTagPrefix: \"" + tagPrefix + "\" must be 1 to " + TAG_PREFIX_CHARS_MAX + " printable ASCII characters without spaces or '/'");
    }
    SluiceSinkSettings settings = new SluiceSinkSettings(controllerUri, name[0], name[1], delivery, (int) lease.toMillis(), tagPrefix, client);
    return new SluiceSink<>(settings, serializer, keys);
  }

  private static SluiceException invalid(String message) {
    return new SluiceException(ErrorCode.INVALID_ARGUMENT, message);
  }
}

package io.sluice.client;

import java.io.Serializable;

/**
 * The Java client's one typed config: deadlines, read sizes, writer bounds and retry bounds. Immutable;
 * built with {@link #builder()}, which checks every value and cross-field rule at {@link Builder#build()}
 * and throws SluiceException INVALID_CONFIG naming the property and its allowed range. Defaults follow
 * the TypeScript client (client/connection/segment-retry.ts, common/limits.ts).
 */
public final class ClientConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Largest read the store answers (common/limits.ts readBytesMax). */
  public static final int READ_BYTES_MAX = 8 * 1024 * 1024;
  /** Longest long-poll wait the store accepts (common/limits.ts readWaitMsMax). */
  public static final int READ_WAIT_MS_MAX = 60_000;
  /** Largest event payload (common/limits.ts eventBytesMax). */
  public static final int EVENT_BYTES_MAX = 8 * 1024 * 1024;
  /** Largest AppendBlock data a writer builds (common/limits.ts writerBlockBytesMax). */
  public static final int WRITER_BLOCK_BYTES_MAX = 1024 * 1024;

  private final long controllerCallTimeoutMs;
  private final long connectTimeoutMs;
  private final long requestTimeoutMs;
  private final int readBytes;
  private final int readWaitMs;
  private final long writerInflightBytesMax;
  private final int retryCountMax;
  private final long retryDelayMsMin;
  private final long retryDelayMsMax;
  private final long sealWaitMsMax;

  private ClientConfig(Builder b) {
    this.controllerCallTimeoutMs = b.controllerCallTimeoutMs;
    this.connectTimeoutMs = b.connectTimeoutMs;
    this.requestTimeoutMs = b.requestTimeoutMs;
    this.readBytes = b.readBytes;
    this.readWaitMs = b.readWaitMs;
    this.writerInflightBytesMax = b.writerInflightBytesMax;
    this.retryCountMax = b.retryCountMax;
    this.retryDelayMsMin = b.retryDelayMsMin;
    this.retryDelayMsMax = b.retryDelayMsMax;
    this.sealWaitMsMax = b.sealWaitMsMax;
  }

  /** The defaults. */
  public static ClientConfig defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Deadline of one controller gRPC call (default 30 s). */
  public long controllerCallTimeoutMs() { return controllerCallTimeoutMs; }
  /** Deadline for the TCP connect and Hello exchange with a segment store (default 10 s). */
  public long connectTimeoutMs() { return connectTimeoutMs; }
  /** Deadline of one data-plane request, beyond a read's long-poll wait (default 30 s). */
  public long requestTimeoutMs() { return requestTimeoutMs; }
  /** Bytes asked for per ReadSegment (default 1 MiB, at most 8 MiB). */
  public int readBytes() { return readBytes; }
  /** Default long-poll wait at a segment's tail for callers that have none of their own (default 1 s). */
  public int readWaitMs() { return readWaitMs; }
  /** Unacknowledged bytes one appender keeps in flight before append() waits (default 32 MiB). */
  public long writerInflightBytesMax() { return writerInflightBytesMax; }
  /** Retries of one data-plane request on retriable errors before it fails (default 12). */
  public int retryCountMax() { return retryCountMax; }
  /** First retry delay; each next one doubles up to retryDelayMsMax (defaults 50 ms and 5 s). */
  public long retryDelayMsMin() { return retryDelayMsMin; }
  public long retryDelayMsMax() { return retryDelayMsMax; }
  /** How long a writer waits for a sealed segment's successors to be named (default 60 s). */
  public long sealWaitMsMax() { return sealWaitMsMax; }

  /** The delay before retry number {@code retry} (0 for the first retry). */
  public long retryDelayMs(int retry) {
    long delay = retryDelayMsMin << Math.min(retry, 30);
    return delay <= 0 ? retryDelayMsMax : Math.min(retryDelayMsMax, delay);
  }

  @Override
  public String toString() {
    return "ClientConfig{controllerCallTimeoutMs=" + controllerCallTimeoutMs + ", connectTimeoutMs=" + connectTimeoutMs
        + ", requestTimeoutMs=" + requestTimeoutMs + ", readBytes=" + readBytes + ", readWaitMs=" + readWaitMs
        + ", writerInflightBytesMax=" + writerInflightBytesMax + ", retryCountMax=" + retryCountMax
        + ", retryDelayMsMin=" + retryDelayMsMin + ", retryDelayMsMax=" + retryDelayMsMax + ", sealWaitMsMax=" + sealWaitMsMax + "}";
  }

  /** Builds a ClientConfig; every setter's range is checked in build(). */
  public static final class Builder {
    private long controllerCallTimeoutMs = 30_000;
    private long connectTimeoutMs = 10_000;
    private long requestTimeoutMs = 30_000;
    private int readBytes = 1024 * 1024;
    private int readWaitMs = 1_000;
    private long writerInflightBytesMax = 32L * 1024 * 1024;
    private int retryCountMax = 12;
    private long retryDelayMsMin = 50;
    private long retryDelayMsMax = 5_000;
    private long sealWaitMsMax = 60_000;

    private Builder() {}

    public Builder controllerCallTimeoutMs(long v) { controllerCallTimeoutMs = v; return this; }
    public Builder connectTimeoutMs(long v) { connectTimeoutMs = v; return this; }
    public Builder requestTimeoutMs(long v) { requestTimeoutMs = v; return this; }
    public Builder readBytes(int v) { readBytes = v; return this; }
    public Builder readWaitMs(int v) { readWaitMs = v; return this; }
    public Builder writerInflightBytesMax(long v) { writerInflightBytesMax = v; return this; }
    public Builder retryCountMax(int v) { retryCountMax = v; return this; }
    public Builder retryDelayMsMin(long v) { retryDelayMsMin = v; return this; }
    public Builder retryDelayMsMax(long v) { retryDelayMsMax = v; return this; }
    public Builder sealWaitMsMax(long v) { sealWaitMsMax = v; return this; }

    /** Checks every value; throws SluiceException INVALID_CONFIG naming the first bad property. */
    public ClientConfig build() {
      check("controllerCallTimeoutMs", controllerCallTimeoutMs, 1, 3_600_000);
      check("connectTimeoutMs", connectTimeoutMs, 1, 600_000);
      check("requestTimeoutMs", requestTimeoutMs, 1, 3_600_000);
      check("readBytes", readBytes, 1, READ_BYTES_MAX);
      check("readWaitMs", readWaitMs, 0, READ_WAIT_MS_MAX);
      // An appender must be able to hold at least one block of the largest size it builds.
      check("writerInflightBytesMax", writerInflightBytesMax, WRITER_BLOCK_BYTES_MAX, 1L << 34);
      check("retryCountMax", retryCountMax, 0, 1_000);
      check("retryDelayMsMin", retryDelayMsMin, 1, 60_000);
      check("retryDelayMsMax", retryDelayMsMax, retryDelayMsMin, 600_000);
      check("sealWaitMsMax", sealWaitMsMax, 1, 3_600_000);
      return new ClientConfig(this);
    }

    private static void check(String name, long value, long min, long max) {
      if (value < min || value > max) {
        throw new SluiceException(ErrorCode.INVALID_CONFIG, name + " " + value + " must be in [" + min + ", " + max + "]");
      }
    }
  }
}

package io.sluice.bench;

import io.sluice.flink.sink.SluiceSink;
import java.util.Set;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Throughput of {@link SluiceSink}: a Flink job (a sequence of {@code --events} numbers, each made
 * into a {@code --size}-byte event with routing key {@code k<n % 1000>}, written by the sink with
 * {@code --delivery}) on a local MiniCluster in this JVM, checkpointing every {@code --checkpoint-ms}.
 * Run by perf/flink-sink.ts:
 *
 * <pre>
 * java --add-opens... -cp classes:test-classes:deps io.sluice.bench.SinkThroughput \
 *     --controller tcp://127.0.0.1:PORT --stream scope/stream --events N [--size 1024] \
 *     [--delivery exactly-once|at-least-once|none] [--parallelism 2] [--checkpoint-ms 1000] [--warmup-stream scope/stream]
 * </pre>
 *
 * With {@code --warmup-stream} the same job first writes {@code --events / 10} events there, so the
 * measured job is not the JIT's first sight of the code. Prints one JSON line on stdout:
 * {@code {"events":..,"netRuntimeMs":..,"wallMs":..,"eventsPerSec":..}} where netRuntimeMs is the
 * measured job's own run time (JobExecutionResult.getNetRuntime: for EXACTLY_ONCE it ends after the
 * final checkpoint committed the last transactions) and wallMs adds the MiniCluster's start and
 * stop. The caller counts the events in the stream. Exits 2 on bad arguments.
 */
public final class SinkThroughput {
  private static final int PARALLELISM_MAX = 64;
  private static final int KEYS = 1000;

  private SinkThroughput() {}

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    BenchArgs opts = new BenchArgs(args, Set.of("controller", "stream", "events", "size", "delivery", "parallelism", "checkpoint-ms", "warmup-stream"),
        "SinkThroughput --controller tcp://HOST:PORT --stream scope/stream --events N [--size B] [--delivery exactly-once|at-least-once|none]"
            + " [--parallelism P] [--checkpoint-ms MS] [--warmup-stream scope/stream]");
    String controller = opts.required("controller");
    String stream = opts.required("stream");
    long events = opts.number("events", null);
    long size = opts.number("size", "1024");
    long parallelism = opts.number("parallelism", "2");
    long checkpointMs = opts.number("checkpoint-ms", "1000");
    DeliveryGuarantee delivery = switch (opts.get("delivery", "exactly-once")) {
      case "exactly-once" -> DeliveryGuarantee.EXACTLY_ONCE;
      case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
      case "none" -> DeliveryGuarantee.NONE;
      default -> {
        opts.fail("--delivery must be exactly-once, at-least-once or none");
        yield null;
      }
    };
    if (events < 1 || size < 1 || size > 1024 * 1024 || parallelism < 1 || parallelism > PARALLELISM_MAX || checkpointMs < 10) {
      opts.fail("--events >= 1, --size in 1..1048576, --parallelism in 1.." + PARALLELISM_MAX + ", --checkpoint-ms >= 10");
    }
    String warmupStream = opts.get("warmup-stream", null);
    if (warmupStream != null) run(controller, warmupStream, Math.max(1, events / 10), (int) size, (int) parallelism, checkpointMs, delivery);
    long started = System.nanoTime();
    JobExecutionResult result = run(controller, stream, events, (int) size, (int) parallelism, checkpointMs, delivery);
    long wallMs = (System.nanoTime() - started) / 1_000_000;
    long netMs = result.getNetRuntime();
    System.out.printf("{\"events\":%d,\"netRuntimeMs\":%d,\"wallMs\":%d,\"eventsPerSec\":%.0f}%n", events, netMs, wallMs, netMs > 0 ? events * 1000.0 / netMs : 0);
    System.out.flush();
  }

  private static JobExecutionResult run(String controller, String stream, long events, int size, int parallelism, long checkpointMs, DeliveryGuarantee delivery)
      throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(parallelism);
    env.enableCheckpointing(checkpointMs);
    SluiceSink<Long> sink = SluiceSink.<Long>builder()
        .setControllerUri(controller)
        .setStream(stream)
        .setSerializationSchema(new Payload(size))
        .setRoutingKey(n -> "k" + (n % KEYS))
        .setDeliveryGuarantee(delivery)
        .build();
    env.fromSequence(0, events - 1).name("events").sinkTo(sink).name("sluice");
    return env.execute("sluice-sink-throughput");
  }

  /** A {@code size}-byte event: the number, then filler (one fresh array per event, as a real serializer makes). */
  static final class Payload implements SerializationSchema<Long> {
    private static final long serialVersionUID = 1L;
    private final int size;

    Payload(int size) {
      this.size = size;
    }

    @Override
    public byte[] serialize(Long n) {
      byte[] out = new byte[size];
      java.util.Arrays.fill(out, (byte) 0x5a);
      for (int i = 0; i < Math.min(8, size); i++) out[i] = (byte) (n >>> (8 * i));
      return out;
    }
  }
}

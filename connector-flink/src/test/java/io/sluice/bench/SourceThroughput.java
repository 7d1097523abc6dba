package io.sluice.bench;

import io.sluice.flink.source.SluiceDeserializationSchema;
import io.sluice.flink.source.SluiceEvent;
import io.sluice.flink.source.SluiceSource;
import io.sluice.flink.source.StreamPosition;
import java.util.Set;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

/**
 * Throughput of {@link SluiceSource}: a Flink job (source, a chained counter, {@link DiscardingSink})
 * reads one stream from its head to the tail cut taken when the job starts, on a local MiniCluster
 * in this JVM ({@code getExecutionEnvironment()} from a plain main). Run by perf/flink-source.ts:
 *
 * <pre>
 * java --add-opens... -cp classes:test-classes:deps io.sluice.bench.SourceThroughput \
 *     --controller tcp://127.0.0.1:PORT --stream scope/stream --expect EVENTS [--parallelism 2] [--warmup 1]
 * </pre>
 *
 * Prints one JSON line on stdout: {@code {"events":..,"bytes":..,"netRuntimeMs":..,"wallMs":..,"eventsPerSec":..}}
 * for the measured run (after {@code --warmup} runs of the same job in this JVM), where netRuntimeMs is the job's own run time (JobExecutionResult.getNetRuntime), wallMs adds the
 * MiniCluster's start and stop, and eventsPerSec is events over netRuntimeMs. Exits 1 when the job
 * read other than exactly {@code --expect} events (the counters are Flink accumulators, summed over
 * the subtasks), 2 on bad arguments.
 */
public final class SourceThroughput {
  private static final int PARALLELISM_MAX = 64;

  private SourceThroughput() {}

  public static void main(String[] args) throws Exception {
    // Before any Flink class logs: slf4j-simple (the tests' binding) would print INFO lines to stderr.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    BenchArgs opts = new BenchArgs(args, Set.of("controller", "stream", "expect", "parallelism", "warmup"),
        "SourceThroughput --controller tcp://HOST:PORT --stream scope/stream --expect EVENTS [--parallelism P] [--warmup N]");
    String controller = opts.required("controller");
    String stream = opts.required("stream");
    long expect = opts.number("expect", null);
    long parallelism = opts.number("parallelism", "2");
    long warmup = opts.number("warmup", "1");
    if (warmup < 0 || warmup > 10) opts.fail("--warmup must be in 0..10");
    if (expect < 0 || parallelism < 1 || parallelism > PARALLELISM_MAX) opts.fail("--expect must be >= 0 and --parallelism in 1.." + PARALLELISM_MAX);

    SluiceSource<Integer> source = SluiceSource.<Integer>builder()
        .setControllerUri(controller)
        .setStreams(stream)
        .setStartingPosition(StreamPosition.head())
        .setBounded(StreamPosition.tail())
        .setDeserializer(new PayloadLength())
        .build();

    // The same job first runs `--warmup` times (default 1) in this JVM, so the measured run is not
    // the JIT's first sight of the code (the TypeScript reader it is compared with runs warm too).
    JobExecutionResult result = null;
    long wallMs = 0;
    for (long run = 0; run <= warmup; run++) {
      long started = System.nanoTime();
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism((int) parallelism);
      env.fromSource(source, WatermarkStrategy.noWatermarks(), "sluice")
          .map(new Count())
          .name("count")
          .sinkTo(new DiscardingSink<>())
          .name("discard");
      result = env.execute("sluice-source-throughput");
      wallMs = (System.nanoTime() - started) / 1_000_000;
      if (counter(result, Count.EVENTS) != expect) break;
    }

    long events = counter(result, Count.EVENTS);
    long bytes = counter(result, Count.BYTES);
    long netMs = result.getNetRuntime();
    double perSec = netMs > 0 ? events * 1000.0 / netMs : 0;
    System.out.printf("{\"events\":%d,\"bytes\":%d,\"netRuntimeMs\":%d,\"wallMs\":%d,\"eventsPerSec\":%.0f}%n", events, bytes, netMs, wallMs, perSec);
    System.out.flush();
    if (events != expect) {
      System.err.println("read " + events + " events, expected exactly " + expect);
      System.exit(1);
    }
  }

  /** Emits each event's length: the reader has already copied the payload once, nothing more is copied here. */
  static final class PayloadLength implements SluiceDeserializationSchema<Integer> {
    private static final long serialVersionUID = 1L;

    @Override
    public void deserialize(SluiceEvent event, Collector<Integer> out) {
      out.collect(event.payload().length);
    }

    @Override
    public TypeInformation<Integer> getProducedType() {
      return Types.INT;
    }
  }

  /** Counts events and payload bytes into accumulators (chained to the source, so no serialization between). */
  static final class Count extends RichMapFunction<Integer, Integer> {
    private static final long serialVersionUID = 1L;
    static final String EVENTS = "events";
    static final String BYTES = "bytes";
    private transient LongCounter events;
    private transient LongCounter bytes;

    @Override
    public void open(OpenContext ctx) {
      events = new LongCounter();
      bytes = new LongCounter();
      getRuntimeContext().addAccumulator(EVENTS, events);
      getRuntimeContext().addAccumulator(BYTES, bytes);
    }

    @Override
    public Integer map(Integer length) {
      events.add(1L);
      bytes.add((long) length);
      return length;
    }
  }

  private static long counter(JobExecutionResult result, String name) {
    Object v = result.getAccumulatorResult(name);
    // A job that read nothing on every subtask still registers the counters (in open), so null means none ran.
    return v == null ? 0 : ((Number) v).longValue();
  }
}

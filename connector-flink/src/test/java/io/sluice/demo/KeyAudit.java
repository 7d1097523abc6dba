package io.sluice.demo;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Per key, checks events {@code KEY:SEQ} against the key's sequence (0, 1, 2, ...) and passes every
 * event on. Counts, in keyed state (so a restore at another parallelism keeps them and rolls them
 * back with the source's positions): a repeat of the last number ({@code duplicates}), a number
 * below it ({@code outOfOrder}), a number above the next one ({@code gaps}). At the end of the
 * input (stop-with-savepoint with drain emits the final watermark, which fires each key's timer
 * at Long.MAX_VALUE) it adds the key's counts to the job's accumulators {@link #KEYS}, {@link
 * #OUT_OF_ORDER}, {@link #DUPLICATES}, {@link #GAPS}: only the final attempt's accumulators reach the
 * job result, and this way they hold every key's whole history.
 */
public final class KeyAudit extends KeyedProcessFunction<String, String, String> {
  private static final long serialVersionUID = 1L;
  public static final String KEYS = "audit.keys";
  public static final String OUT_OF_ORDER = "audit.outOfOrder";
  public static final String DUPLICATES = "audit.duplicates";
  public static final String GAPS = "audit.gaps";

  /** {last, outOfOrder, duplicates, gaps}. */
  private transient ValueState<long[]> audit;

  @Override
  public void open(OpenContext ctx) {
    audit = getRuntimeContext().getState(new ValueStateDescriptor<>("audit", long[].class));
  }

  /** The number after the last ':' of {@code KEY:SEQ}. */
  public static long seqOf(String event) {
    return Long.parseLong(event.substring(event.lastIndexOf(':') + 1));
  }

  /** The part before the last ':' of {@code KEY:SEQ}. */
  public static String keyOf(String event) {
    return event.substring(0, event.lastIndexOf(':'));
  }

  @Override
  public void processElement(String value, Context ctx, Collector<String> out) throws Exception {
    long[] a = audit.value();
    if (a == null) {
      a = new long[] {-1, 0, 0, 0};
      ctx.timerService().registerEventTimeTimer(Long.MAX_VALUE);
    }
    long seq = seqOf(value);
    if (seq == a[0]) {
      a[2]++;
    } else if (seq < a[0]) {
      a[1]++;
    } else {
      if (seq > a[0] + 1) a[3]++;
      a[0] = seq;
    }
    audit.update(a);
    out.collect(value);
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<String> out) throws Exception {
    long[] a = audit.value();
    if (a == null) return;
    getRuntimeContext().getLongCounter(KEYS).add(1L);
    getRuntimeContext().getLongCounter(OUT_OF_ORDER).add(a[1]);
    getRuntimeContext().getLongCounter(DUPLICATES).add(a[2]);
    getRuntimeContext().getLongCounter(GAPS).add(a[3]);
  }
}

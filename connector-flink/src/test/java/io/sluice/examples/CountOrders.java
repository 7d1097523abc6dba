package io.sluice.examples;

import io.sluice.flink.source.SluiceSource;
import io.sluice.flink.source.StreamPosition;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * README's example: count the events of each routing key... of each text line in shop/orders, live
 * (default) or over the history up to now (`--batch`). Run against `npm start`:
 *
 * <pre>
 * mvn -q -f connector-flink/pom.xml test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=io.sluice.examples.CountOrders -Dexec.args="tcp://127.0.0.1:9090 shop/orders --batch"
 * </pre>
 */
public final class CountOrders {
  public static void main(String[] args) throws Exception {
    String controller = args.length > 0 ? args[0] : "tcp://127.0.0.1:9090";
    String stream = args.length > 1 ? args[1] : "shop/orders";
    boolean batch = args.length > 2 && args[2].equals("--batch");

    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    var builder = SluiceSource.<String>builder()
        .setControllerUri(controller)
        .setStreams(stream)
        .setStartingPosition(StreamPosition.head())
        .setValueOnlyDeserializer(new SimpleStringSchema());
    if (batch) {
      env.setRuntimeMode(RuntimeExecutionMode.BATCH);
      builder.setBounded(StreamPosition.tail()); // history: from the head to the tail when the job starts
    } else {
      env.enableCheckpointing(5_000); // positions and the ordering fence ride on checkpoints
    }
    env.fromSource(builder.build(), WatermarkStrategy.noWatermarks(), "orders")
        .map(line -> Tuple2.of(line, 1L))
        .returns(Types.TUPLE(Types.STRING, Types.LONG))
        .keyBy(t -> t.f0)
        .sum(1)
        .print();
    env.execute("count orders");
  }
}

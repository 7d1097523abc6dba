package io.sluice.flink.table;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sluice.testing.SluiceStandaloneExtension;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SQL writes to sluice tables on a real MiniCluster against a real `sluice standalone` (EXACTLY_ONCE
 * needs the controller's transaction listing): rows inserted in BATCH mode with a routing key, as
 * {@code csv} at-least-once and as {@code json} exactly-once (committed when the job ends), are
 * read back by a bounded sluice table as exactly the rows inserted, each once.
 */
class SqlSinkTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final int ROWS = 500;

  static TableEnvironment batchEnv() {
    TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inBatchMode());
    env.getConfig().set("parallelism.default", "2");
    return env;
  }

  static String table(String name, String stream, String format, String extra) {
    return "CREATE TEMPORARY TABLE " + name + " (customer STRING, n INT, amount DECIMAL(10, 2)) WITH ('connector' = 'sluice', 'controller' = '"
        + SLUICE.get().controllerUri() + "', 'stream' = '" + stream + "', 'format' = '" + format + "'" + extra + ")";
  }

  /** Inserts ROWS rows (customers c0..c6) into {@code stream}, then reads the stream back. */
  static void roundTrip(String stream, String format, String sinkOptions) throws Exception {
    TableItSupport.createStream(SLUICE.get().controllerUri(), "sql", stream, 3);
    TableEnvironment env = batchEnv();
    env.executeSql(table("sink_out", "sql/" + stream, format, sinkOptions));
    StringBuilder values = new StringBuilder();
    for (int n = 1; n <= ROWS; n++) values.append(n > 1 ? ", " : "").append('(').append(n).append(')');
    env.executeSql("INSERT INTO sink_out SELECT CONCAT('c', CAST(MOD(n, 7) AS STRING)), n, CAST(CAST(n AS DECIMAL(10, 2)) / 4 AS DECIMAL(10, 2))"
        + " FROM (VALUES " + values + ") AS t(n)")
        .await(120, TimeUnit.SECONDS);
    TableEnvironment reader = batchEnv();
    reader.executeSql(table("back", "sql/" + stream, format, ""));
    List<Row> expected = new ArrayList<>();
    for (int n = 1; n <= ROWS; n++) expected.add(Row.ofKind(RowKind.INSERT, "c" + (n % 7), n, BigDecimal.valueOf(n * 25L, 2)));
    assertEquals(TableItSupport.text(expected), TableItSupport.rows(reader, "SELECT * FROM back"));
  }

  @Test
  void csvAtLeastOnceWithARoutingKeyGivesEveryRowBack() throws Exception {
    roundTrip("csvout", "csv", ", 'sink.routing-key-fields' = 'customer'");
  }

  @Test
  void jsonExactlyOnceInBatchModeCommitsAtTheEnd() throws Exception {
    roundTrip("jsonout", "json", ", 'sink.delivery-guarantee' = 'exactly-once', 'sink.routing-key-fields' = 'customer, n'");
  }
}

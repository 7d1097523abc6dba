package io.sluice.flink.table;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import io.sluice.testing.SluiceStandaloneExtension;
import java.math.BigDecimal;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SQL reads of sluice tables on a real MiniCluster against a real `sluice standalone`: orders
 * written with the Java client as {@code json} (2 segments), {@code csv} and {@code raw} events are
 * read back by {@code SELECT} as exactly the rows written: bounded by a {@code stop} cut (events
 * written after the cut are not read), in BATCH mode without {@code stop} (up to the tail at job
 * start), and in STREAMING mode with {@code 'stop' = 'tail'} (the job finishes). An unknown stream
 * fails the query with NO_SUCH_STREAM and the stream's name.
 */
class SqlSourceTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final int HISTORY = 60;
  static final int LATER = 10;
  static final DateTimeFormatter SQL_TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
  static final LocalDateTime T0 = LocalDateTime.of(2026, 12, 8, 10, 0, 0);

  record Order(String customer, BigDecimal amount, LocalDateTime ts) {
    String json() {
      return "{\"customer\":\"" + customer + "\",\"amount\":" + amount.toPlainString() + ",\"ts\":\"" + SQL_TS.format(ts) + "\"}";
    }

    String csv() {
      return customer + "," + amount.toPlainString() + "," + SQL_TS.format(ts);
    }

    Row row() {
      return Row.ofKind(RowKind.INSERT, customer, amount, ts);
    }
  }

  static List<Order> orders(int from, int count) {
    List<Order> out = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      // Amounts with two decimals, some ending in 0 (12.50): DECIMAL(10, 2) keeps the scale.
      out.add(new Order("c" + (i % 5), BigDecimal.valueOf((i * 37L) % 1000, 2).add(BigDecimal.ONE), T0.plusSeconds(3L * i).plusNanos((i % 3) * 1_000_000L)));
    }
    return out;
  }

  static final List<Order> history = orders(0, HISTORY);
  static final List<Order> later = orders(HISTORY, LATER);
  static String jsonCut;
  static String csvCut;

  @BeforeAll
  static void writeOrders() throws Exception {
    String uri = SLUICE.get().controllerUri();
    TableItSupport.createStream(uri, "it", "json", 2);
    TableItSupport.createStream(uri, "it", "csv", 1);
    TableItSupport.createStream(uri, "it", "raw", 1);
    TableItSupport.write(uri, "it", "json", history.stream().map(Order::json).toList(), e -> e.substring(12, 14));
    TableItSupport.write(uri, "it", "csv", history.stream().map(Order::csv).toList(), e -> "all");
    TableItSupport.write(uri, "it", "raw", history.stream().map(Order::csv).toList(), e -> "all");
    jsonCut = TableItSupport.tailCut(uri, "it", "json");
    csvCut = TableItSupport.tailCut(uri, "it", "csv");
    // Written after the cuts: a read bounded by a cut must not see them; a read to the tail must.
    TableItSupport.write(uri, "it", "json", later.stream().map(Order::json).toList(), e -> e.substring(12, 14));
    TableItSupport.write(uri, "it", "csv", later.stream().map(Order::csv).toList(), e -> "all");
  }

  static TableEnvironment env(boolean batch) {
    TableEnvironment env = TableEnvironment.create(batch ? EnvironmentSettings.inBatchMode() : EnvironmentSettings.inStreamingMode());
    env.getConfig().set("parallelism.default", "2");
    return env;
  }

  static void orderTable(TableEnvironment env, String name, String format, String stream, String extra) {
    env.executeSql("CREATE TEMPORARY TABLE " + name + " (customer STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3)) WITH ('connector' = 'sluice',"
        + " 'controller' = '" + SLUICE.get().controllerUri() + "', 'stream' = '" + stream + "', 'format' = '" + format + "'" + extra + ")");
  }

  static List<String> expected(List<Order> a, List<Order> b) {
    List<Row> rows = new ArrayList<>();
    for (Order o : a) rows.add(o.row());
    for (Order o : b) rows.add(o.row());
    return TableItSupport.text(rows);
  }

  @Test
  void jsonInBatchModeBoundedByAStopCutReadsExactlyTheHistory() throws Exception {
    TableEnvironment env = env(true);
    orderTable(env, "orders", "json", "it/json", ", 'stop' = '" + jsonCut + "'");
    assertEquals(expected(history, List.of()), TableItSupport.rows(env, "SELECT * FROM orders"));
  }

  @Test
  void jsonInBatchModeWithoutStopReadsUpToTheTailAtJobStart() throws Exception {
    TableEnvironment env = env(true);
    orderTable(env, "orders", "json", "it/json", "");
    assertEquals(expected(history, later), TableItSupport.rows(env, "SELECT * FROM orders"));
  }

  @Test
  void jsonInStreamingModeWithStopAtTheTailFinishes() throws Exception {
    TableEnvironment env = env(false);
    orderTable(env, "orders", "json", "it/json", ", 'stop' = 'tail'");
    assertEquals(expected(history, later), TableItSupport.rows(env, "SELECT * FROM orders"));
  }

  @Test
  void jsonFromAStartCutReadsOnlyWhatFollowsIt() throws Exception {
    TableEnvironment env = env(true);
    orderTable(env, "orders", "json", "it/json", ", 'start' = '" + jsonCut + "'");
    assertEquals(expected(later, List.of()), TableItSupport.rows(env, "SELECT * FROM orders"));
  }

  @Test
  void csvInBatchModeBoundedByAStopCut() throws Exception {
    TableEnvironment env = env(true);
    orderTable(env, "orders", "csv", "it/csv", ", 'stop' = '" + csvCut + "'");
    assertEquals(expected(history, List.of()), TableItSupport.rows(env, "SELECT * FROM orders"));
  }

  @Test
  void rawInBatchModeGivesEachEventAsOneString() throws Exception {
    TableEnvironment env = env(true);
    env.executeSql("CREATE TEMPORARY TABLE lines (line STRING) WITH ('connector' = 'sluice', 'controller' = '" + SLUICE.get().controllerUri()
        + "', 'stream' = 'it/raw', 'format' = 'raw')");
    List<Row> rows = new ArrayList<>();
    for (Order o : history) rows.add(Row.ofKind(RowKind.INSERT, o.csv()));
    assertEquals(TableItSupport.text(rows), TableItSupport.rows(env, "SELECT * FROM lines"));
  }

  @Test
  void anUnknownStreamFailsWithNoSuchStreamAndItsName() {
    TableEnvironment env = env(true);
    orderTable(env, "orders", "json", "it/missing", "");
    Throwable e = assertThrows(Throwable.class, () -> TableItSupport.rows(env, "SELECT * FROM orders"));
    String chain = TableItSupport.chain(e);
    // The code must reach the user: as the exception itself when it crosses from the job intact, or in the message text.
    SluiceException cause = TableItSupport.sluiceCause(e);
    boolean coded = (cause != null && cause.code() == ErrorCode.NO_SUCH_STREAM) || chain.contains("NO_SUCH_STREAM");
    assertTrue(coded, "NO_SUCH_STREAM in\n" + chain);
    assertTrue(chain.contains("it/missing"), "the stream's name in the messages a user sees:\n" + chain);
  }
}

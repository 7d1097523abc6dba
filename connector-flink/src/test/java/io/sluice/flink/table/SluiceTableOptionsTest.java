package io.sluice.flink.table;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.LogicalType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every refusal of the sluice table options, through the planner (no Sluice server: a query is
 * only planned, with {@code EXPLAIN}): each bad table fails with a ValidationException whose
 * message names the option and quotes the value; good tables plan. Also the routing-key rule.
 */
class SluiceTableOptionsTest {
  static final String CUT = io.sluice.client.StreamCut.of(List.of(new io.sluice.client.StreamCut.Position("shop/orders/0.#epoch.0", 0))).toText();
  static TableEnvironment streaming;
  static TableEnvironment unchecked;
  static TableEnvironment batch;

  @BeforeAll
  static void planners() {
    streaming = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    streaming.getConfig().set("execution.checkpointing.interval", "1 s");
    unchecked = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    batch = TableEnvironment.create(EnvironmentSettings.inBatchMode());
  }

  static int tables;

  /** Creates a table with {@code options} (appended to connector, format) and returns its name. */
  static String table(TableEnvironment env, String options) {
    String name = "t" + tables++;
    env.executeSql("CREATE TEMPORARY TABLE " + name + " (customer STRING, amount DECIMAL(10, 2), n INT, ts TIMESTAMP(3), b BYTES)"
        + " WITH ('connector' = 'sluice', 'format' = 'json'" + (options.isEmpty() ? "" : ", " + options) + ")");
    return name;
  }

  static void planRead(TableEnvironment env, String options) {
    env.explainSql("SELECT * FROM " + table(env, options));
  }

  static void planWrite(TableEnvironment env, String options) {
    env.explainSql("INSERT INTO " + table(env, options) + " SELECT 'a', CAST(1.5 AS DECIMAL(10, 2)), 1, LOCALTIMESTAMP, CAST(NULL AS BYTES)");
  }

  /** The messages of {@code t} and its causes. */
  static String chain(Throwable t) {
    List<String> out = new ArrayList<>();
    for (Throwable c = t; c != null; c = c.getCause()) out.add(c.getClass().getSimpleName() + ": " + c.getMessage());
    return String.join("\n  caused by ", out);
  }

  /** The deepest ValidationException of the chain: ours, not the planner's wrapper (which lists every option). */
  static Throwable validationIn(Throwable t) {
    Throwable found = null;
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof ValidationException) found = c;
    return found;
  }

  static Stream<Arguments> refusedReads() {
    return Stream.of(
        Arguments.of("no stream", "", "'stream'", "scope/stream"),
        Arguments.of("stream without scope", "'stream' = 'orders'", "'stream'", "orders"),
        Arguments.of("stream with a bad character", "'stream' = 'shop/or ders'", "'stream'", "or ders"),
        Arguments.of("bad controller", "'stream' = 'shop/orders', 'controller' = 'http://x'", "'controller'", "http://x"),
        Arguments.of("controller port", "'stream' = 'shop/orders', 'controller' = 'tcp://h:99999'", "'controller'", "tcp://h:99999"),
        Arguments.of("start word", "'stream' = 'shop/orders', 'start' = 'beginning'", "'start'", "beginning"),
        Arguments.of("start cut text", "'stream' = 'shop/orders', 'start' = 'sc1.!!'", "'start'", "sc1.!!"),
        Arguments.of("start cut of another stream", "'stream' = 'shop/other', 'start' = '" + CUT + "'", "'start'", "shop/orders"),
        Arguments.of("stop at head", "'stream' = 'shop/orders', 'stop' = 'head'", "'stop'", "head"),
        Arguments.of("stop word", "'stream' = 'shop/orders', 'stop' = 'end'", "'stop'", "end"),
        Arguments.of("ordering", "'stream' = 'shop/orders', 'scan.ordering' = 'strict'", "'scan.ordering'", "strict"),
        Arguments.of("unknown option", "'stream' = 'shop/orders', 'strat' = 'head'", "strat", "strat"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedReads")
  void refusesABadSourceNamingTheOptionAndValue(String what, String options, String option, String value) {
    Throwable e = assertThrows(Throwable.class, () -> planRead(streaming, options));
    Throwable v = validationIn(e);
    assertTrue(v != null, "a ValidationException in " + chain(e));
    assertTrue(v.getMessage().contains(option), "names " + option + ": " + chain(e));
    assertTrue(v.getMessage().contains(value), "quotes " + value + ": " + chain(e));
  }

  @Test
  void refusesCheckpointedOrderingInBatchMode() {
    Throwable e = assertThrows(Throwable.class, () -> planRead(batch, "'stream' = 'shop/orders', 'scan.ordering' = 'checkpointed'"));
    Throwable v = validationIn(e);
    assertTrue(v != null && v.getMessage().contains("'scan.ordering' = 'checkpointed'") && v.getMessage().contains("BATCH"), chain(e));
  }

  static Stream<Arguments> refusedWrites() {
    return Stream.of(
        Arguments.of("guarantee", "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'twice'", "'sink.delivery-guarantee'", "twice"),
        Arguments.of("unknown key column", "'stream' = 'shop/out', 'sink.routing-key-fields' = 'customer,who'", "'sink.routing-key-fields'", "who"),
        Arguments.of("empty key column", "'stream' = 'shop/out', 'sink.routing-key-fields' = 'customer,'", "'sink.routing-key-fields'", "customer,"),
        Arguments.of("key column twice", "'stream' = 'shop/out', 'sink.routing-key-fields' = 'n, n'", "'sink.routing-key-fields'", "n, n"),
        Arguments.of("key column of a timestamp", "'stream' = 'shop/out', 'sink.routing-key-fields' = 'ts'", "'sink.routing-key-fields'", "TIMESTAMP(3)"),
        Arguments.of("key column of bytes", "'stream' = 'shop/out', 'sink.routing-key-fields' = 'b'", "'sink.routing-key-fields'", "BYTES"),
        Arguments.of("lease text", "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transaction-lease' = 'soon'", "'sink.transaction-lease'", "soon"),
        Arguments.of("lease zero", "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transaction-lease' = '0 s'", "'sink.transaction-lease'", "0 s"),
        Arguments.of("lease too long", "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transaction-lease' = '25 h'", "'sink.transaction-lease'", "25 h"),
        Arguments.of("tag prefix with a slash", "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transaction-tag-prefix' = 'a/b'", "'sink.transaction-tag-prefix'", "a/b"),
        Arguments.of("tag prefix without transactions", "'stream' = 'shop/out', 'sink.transaction-tag-prefix' = 'job1'", "'sink.transaction-tag-prefix'", "exactly-once"),
        Arguments.of("lease without transactions", "'stream' = 'shop/out', 'sink.transaction-lease' = '1 min'", "'sink.transaction-lease'", "exactly-once"),
        Arguments.of("parallelism text", "'stream' = 'shop/out', 'sink.parallelism' = 'many'", "'sink.parallelism'", "many"),
        Arguments.of("parallelism zero", "'stream' = 'shop/out', 'sink.parallelism' = '0'", "'sink.parallelism'", "0"),
        Arguments.of("sink stream", "'stream' = 'out'", "'stream'", "out"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedWrites")
  void refusesABadSinkNamingTheOptionAndValue(String what, String options, String option, String value) {
    Throwable e = assertThrows(Throwable.class, () -> planWrite(streaming, options));
    Throwable v = validationIn(e);
    assertTrue(v != null, "a ValidationException in " + chain(e));
    assertTrue(v.getMessage().contains(option), "names " + option + ": " + chain(e));
    assertTrue(v.getMessage().contains(value), "quotes " + value + ": " + chain(e));
  }

  @Test
  void refusesExactlyOnceInAStreamingJobWithoutCheckpoints() {
    // The sink's own check, when the plan is translated: its events would never become visible.
    Throwable e = assertThrows(Throwable.class, () -> planWrite(unchecked, "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'exactly-once'"));
    assertTrue(chain(e).contains("needs checkpointing"), chain(e));
    planWrite(unchecked, "'stream' = 'shop/out'");
  }

  @Test
  void plansGoodTables() {
    planRead(streaming, "'stream' = 'shop/orders'");
    planRead(streaming, "'stream' = 'shop/orders', 'controller' = 'tcp://a:1,b:2', 'start' = 'tail', 'stop' = '" + CUT + "', 'scan.ordering' = 'RELAXED'");
    planRead(batch, "'stream' = 'shop/orders', 'start' = '" + CUT + "'");
    planRead(streaming, "'stream' = 'shop/orders', 'format' = 'csv', 'csv.ignore-parse-errors' = 'true'");
    planWrite(streaming, "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'exactly-once', 'sink.routing-key-fields' = 'customer, n',"
        + " 'sink.transaction-lease' = '20 min', 'sink.transaction-tag-prefix' = 'orders-job', 'sink.parallelism' = '2'");
    planWrite(batch, "'stream' = 'shop/out', 'sink.delivery-guarantee' = 'none'");
  }

  @Test
  void batchModeBoundsASourceWithoutStop() {
    java.util.Map<String, String> raw = java.util.Map.of("stream", "shop/orders");
    assertNull(SluiceTableConfig.source(raw, false).stop(), "unbounded in streaming mode");
    assertEquals(io.sluice.flink.source.StreamPosition.Kind.TAIL, SluiceTableConfig.source(raw, true).stop().kind(), "the tail at job start in batch mode");
    java.util.Map<String, String> withStop = java.util.Map.of("stream", "shop/orders", "stop", CUT);
    assertEquals(io.sluice.flink.source.StreamPosition.Kind.CUTS, SluiceTableConfig.source(withStop, true).stop().kind(), "the stop given wins");
  }

  @Test
  void routingKeyOfOneColumnIsItsTextAndOfSeveralAnEscapedJoin() {
    List<LogicalType> types = List.of(DataTypes.STRING().getLogicalType(), DataTypes.DECIMAL(10, 2).getLogicalType(), DataTypes.INT().getLogicalType());
    RowRoutingKey one = new RowRoutingKey(new int[] {0}, types);
    assertEquals("alice", one.routingKey(GenericRowData.of(StringData.fromString("alice"), null, 1)));
    assertNull(one.routingKey(GenericRowData.of(null, null, 1)), "NULL: no key");
    RowRoutingKey dec = new RowRoutingKey(new int[] {1}, types);
    assertEquals("12.50", dec.routingKey(GenericRowData.of(null, DecimalData.fromUnscaledLong(1250, 10, 2), 1)));
    RowRoutingKey two = new RowRoutingKey(new int[] {0, 2}, types);
    assertEquals("a|7", two.routingKey(GenericRowData.of(StringData.fromString("a"), null, 7)));
    assertEquals("a\\|b|7", two.routingKey(GenericRowData.of(StringData.fromString("a|b"), null, 7)), "| escaped");
    assertEquals("a\\\\|7", two.routingKey(GenericRowData.of(StringData.fromString("a\\"), null, 7)), "\\ escaped");
    assertEquals("\\N|7", two.routingKey(GenericRowData.of(null, null, 7)), "NULL among values");
    assertNull(two.routingKey(GenericRowData.of(null, null, null)), "all NULL: no key");
    // Distinct tuples whose plain join would collide: ("a|b", 7) vs ("a", "b|7") cannot be built here, but escaping keeps them apart.
    assertTrue(!two.routingKey(GenericRowData.of(StringData.fromString("\\N"), null, 7)).equals(two.routingKey(GenericRowData.of(null, null, 7))), "text \\N is not NULL");
  }
}

package io.sluice.flink.table;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.testing.SluiceStandaloneExtension;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The orders example (connector-flink/examples/orders) run through a TableEnvironment, both ways,
 * against a real `sluice standalone`: the query of orders.sql run by streaming.sql (live, into the
 * `revenue` stream, exactly once), stopped with a draining savepoint once the input's last event was
 * processed, then `revenue` read back; and run by batch.sql over the same history. Both row sets
 * must equal the per-minute sums computed here from the generated orders.
 *
 * <p>"The last event was processed" is observed, not waited for: the last order is the only one at
 * least 5 s (the watermark's slack) past the minute before it, so the windows before its minute close
 * (and reach `revenue`) only after the source read it. The drain then closes its own window.
 */
class OrdersExampleTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  /** Tests run in connector-flink/ (the module's directory); sluice.repo may name another checkout's Sluice. */
  static final Path EXAMPLE = Path.of("examples", "orders");
  static final DateTimeFormatter SQL_TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
  static final LocalDateTime T0 = LocalDateTime.of(2026, 12, 8, 10, 0, 0);
  static final String[] CUSTOMERS = {"alice", "bob", "carol", "dave"};
  /** Orders 1.2 s apart from T0: up to 10:02:58.8. */
  static final int REGULAR = 150;
  /** The last order: alone in its minute's first 30 s, so it alone moves the watermark past 10:03. */
  static final LocalDateTime LAST_TS = LocalDateTime.of(2026, 12, 8, 10, 3, 30);
  static final long DEADLINE_MS = 120_000;

  record Order(String customer, BigDecimal amount, LocalDateTime ts) {
    String json() {
      return "{\"customer\":\"" + customer + "\",\"amount\":" + amount.toPlainString() + ",\"ts\":\"" + SQL_TS.format(ts) + "\"}";
    }
  }

  static List<Order> orders() {
    List<Order> out = new ArrayList<>();
    for (int i = 0; i < REGULAR; i++) {
      out.add(new Order(CUSTOMERS[(i * 3 + (i >> 2)) % 4], BigDecimal.valueOf((i * 7919L) % 5000 + 100, 2), T0.plus(1200L * i, ChronoUnit.MILLIS)));
    }
    out.add(new Order("alice", new BigDecimal("1.00"), LAST_TS));
    return out;
  }

  /** The per-minute revenue per customer of {@code orders}, as the query's rows. */
  static List<Row> expected(List<Order> orders) {
    Map<String, Object[]> sums = new TreeMap<>();
    for (Order o : orders) {
      LocalDateTime start = o.ts().truncatedTo(ChronoUnit.MINUTES);
      Object[] r = sums.computeIfAbsent(start + "/" + o.customer(), k -> new Object[] {start, start.plusMinutes(1), o.customer(), BigDecimal.ZERO.setScale(2)});
      r[3] = ((BigDecimal) r[3]).add(o.amount());
    }
    List<Row> out = new ArrayList<>();
    for (Object[] r : sums.values()) out.add(Row.ofKind(RowKind.INSERT, r));
    return out;
  }

  static final Pattern SET = Pattern.compile("(?is)^SET\\s+'([^']+)'\\s*=\\s*'([^']*)'$");

  /** The statements of the example's files, in order, with the test's controller in place of the default one. */
  static List<String> statements(String... files) throws Exception {
    List<String> out = new ArrayList<>();
    for (String f : files) {
      StringBuilder text = new StringBuilder();
      for (String line : Files.readAllLines(EXAMPLE.resolve(f), StandardCharsets.UTF_8)) {
        if (!line.strip().startsWith("--")) text.append(line).append('\n');
      }
      for (String s : text.toString().split(";\\s*\\n")) {
        if (!s.isBlank()) out.add(s.strip().replace("tcp://127.0.0.1:9090", SLUICE.get().controllerUri()));
      }
    }
    return out;
  }

  /**
   * Runs the statements as run.sh has the launcher do: {@code extraConfig} (its {@code --set}) and
   * every {@code SET} go into the environment's configuration (the runtime mode has to be known when
   * the environment is made), the others run in order. Returns the result of the last one.
   */
  static TableResult run(List<String> statements, Map<String, String> extraConfig) {
    Configuration conf = new Configuration();
    List<String> rest = new ArrayList<>();
    for (String s : statements) {
      Matcher m = SET.matcher(s);
      if (m.matches()) conf.setString(m.group(1), m.group(2));
      else rest.add(s);
    }
    extraConfig.forEach(conf::setString);
    TableEnvironment env = TableEnvironment.create(EnvironmentSettings.newInstance().withConfiguration(conf).build());
    TableResult last = null;
    for (String s : rest) last = env.executeSql(s);
    return last;
  }

  /** Every row of the `revenue` stream now (a batch read up to its tail), as text, sorted. */
  static List<String> revenueRows() throws Exception {
    TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inBatchMode());
    env.getConfig().set("parallelism.default", "1");
    env.executeSql("CREATE TEMPORARY TABLE revenue_read (window_start TIMESTAMP(3), window_end TIMESTAMP(3), customer STRING, revenue DECIMAL(38, 2))"
        + " WITH ('connector' = 'sluice', 'controller' = '" + SLUICE.get().controllerUri() + "', 'stream' = 'examples/revenue', 'format' = 'json')");
    return TableItSupport.rows(env, "SELECT * FROM revenue_read");
  }

  @Test
  void streamingAndBatchRunsOfTheExampleGiveTheSameRows(@TempDir Path savepoints) throws Exception {
    String uri = SLUICE.get().controllerUri();
    TableItSupport.createStream(uri, "examples", "orders", 1);
    TableItSupport.createStream(uri, "examples", "revenue", 2);
    List<Order> orders = orders();
    List<String> expected = TableItSupport.text(expected(orders));
    assertEquals(13, expected.size(), "4 customers in each of 3 minutes, and the last order alone in the 4th");
    // Half the history before the streaming job starts, the rest while it runs.
    int half = orders.size() / 2;
    TableItSupport.write(uri, "examples", "orders", orders.subList(0, half).stream().map(Order::json).toList(), e -> e.substring(13, 16));

    JobClient job = run(statements("orders.sql", "streaming.sql"), Map.of("execution.runtime-mode", "streaming", "parallelism.default", "2", "execution.checkpointing.interval", "500 ms"))
        .getJobClient().orElseThrow();
    TableItSupport.write(uri, "examples", "orders", orders.subList(half, orders.size()).stream().map(Order::json).toList(), e -> e.substring(13, 16));

    // The windows before the last order's minute are in `revenue` only once the source read that order (class comment).
    List<String> closedBeforeLast = new ArrayList<>();
    for (Row r : expected(orders)) if (!((LocalDateTime) r.getField(1)).isAfter(LAST_TS.truncatedTo(ChronoUnit.MINUTES))) closedBeforeLast.add(r.toString());
    long deadline = System.currentTimeMillis() + DEADLINE_MS;
    List<String> seen = revenueRows();
    while (!seen.containsAll(closedBeforeLast)) {
      JobStatus status = job.getJobStatus().get(30, TimeUnit.SECONDS);
      assertTrue(!status.isGloballyTerminalState(), "the streaming job ended early: " + status);
      assertTrue(System.currentTimeMillis() < deadline, "windows before " + LAST_TS + " not in revenue within " + DEADLINE_MS + " ms; seen " + seen);
      Thread.sleep(200); // between polls of the output stream (each poll is a batch job); the deadline bounds the wait
      seen = revenueRows();
    }
    job.stopWithSavepoint(true, savepoints.toUri().toString(), SavepointFormatType.CANONICAL).get(DEADLINE_MS, TimeUnit.MILLISECONDS);
    job.getJobExecutionResult().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
    List<String> streamed = revenueRows();

    List<String> batch = TableItSupport.rows(run(statements("orders.sql", "batch.sql"), Map.of("execution.runtime-mode", "batch", "parallelism.default", "2")));

    assertEquals(expected, batch, "batch run: the per-minute sums of every order");
    assertEquals(expected, streamed, "streaming run: the per-minute sums of every order, each row once");
    assertEquals(batch, streamed, "the same rows both ways");
  }

  @Test
  void batchRunOfTheExampleGivesThePerMinuteSums() throws Exception {
    String uri = SLUICE.get().controllerUri();
    TableItSupport.createStream(uri, "batchonly", "orders", 2);
    List<Order> orders = orders();
    TableItSupport.write(uri, "batchonly", "orders", orders.stream().map(Order::json).toList(), e -> e.substring(13, 16));
    List<String> statements = new ArrayList<>();
    for (String s : statements("orders.sql", "batch.sql")) statements.add(s.replace("'examples/orders'", "'batchonly/orders'"));
    List<String> batch = TableItSupport.rows(run(statements, Map.of("execution.runtime-mode", "batch", "parallelism.default", "2")));
    assertEquals(TableItSupport.text(expected(orders)), batch);
  }
}

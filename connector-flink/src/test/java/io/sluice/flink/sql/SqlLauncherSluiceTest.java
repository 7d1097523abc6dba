package io.sluice.flink.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.EventWriter;
import io.sluice.client.wire.ConnectionPool;
import io.sluice.testing.SluiceStandaloneExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher with the sluice connector against a real `sluice standalone`: the orders example's
 * batch run (orders.sql + batch.sql, as examples/orders/run.sh joins them) prints the per-minute
 * revenue per customer; a table on a stream that does not exist fails its statement with
 * NO_SUCH_STREAM and the stream's name, exit 1.
 */
class SqlLauncherSluiceTest {
  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  static final Path EXAMPLE = Path.of("examples", "orders");

  @TempDir
  Path dir;

  @Test
  void theExampleBatchRunPrintsRevenuePerMinuteAndCustomer() throws Exception {
    String uri = SLUICE.get().controllerUri();
    ClientConfig config = ClientConfig.defaults();
    try (ControllerClient c = ControllerClient.connect(uri, config); ConnectionPool pool = new ConnectionPool(config)) {
      c.createScope("examples").get(30, TimeUnit.SECONDS);
      c.createStream("examples", "orders", 1).get(30, TimeUnit.SECONDS);
      c.createStream("examples", "revenue", 1).get(30, TimeUnit.SECONDS);
      try (EventWriter w = EventWriter.open(c, pool, config, "examples", "orders").get(30, TimeUnit.SECONDS)) {
        List<CompletableFuture<Void>> acks = List.of(
            order(w, "alice", "10.00", "10:00:05"), order(w, "bob", "5.50", "10:00:20"), order(w, "alice", "2.25", "10:00:50"), order(w, "alice", "1.00", "10:01:10"));
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      }
    }
    String script = (Files.readString(EXAMPLE.resolve("orders.sql")) + Files.readString(EXAMPLE.resolve("batch.sql"))).replace("tcp://127.0.0.1:9090", uri);
    LauncherRun.Result r = LauncherRun.run(dir, script, "--set", "execution.runtime-mode=batch");
    assertEquals(0, r.code(), r.toString());
    List<String> rows = r.out().lines().filter(l -> l.contains("2026-12-08 10:0")).toList();
    assertEquals(3, rows.size(), r.toString());
    assertRow(rows.get(0), "10:00:00.000", "alice", "12.25");
    assertRow(rows.get(1), "10:00:00.000", "bob", "5.50");
    assertRow(rows.get(2), "10:01:00.000", "alice", "1.00");
  }

  @Test
  void aTableOnAnUnknownStreamFailsWithNoSuchStreamAndItsName() throws Exception {
    try (ControllerClient c = ControllerClient.connect(SLUICE.get().controllerUri(), ClientConfig.defaults())) {
      c.createScope("known").get(30, TimeUnit.SECONDS);
    }
    String script = "CREATE TABLE t (line STRING) WITH ('connector' = 'sluice', 'controller' = '" + SLUICE.get().controllerUri() + "',\n"
        + "  'stream' = 'known/missing', 'format' = 'raw');\n"
        + "SELECT * FROM t;\n";
    LauncherRun.Result r = LauncherRun.run(dir, script, "--set", "execution.runtime-mode=batch");
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("line 3") && r.err().contains("NO_SUCH_STREAM") && r.err().contains("known/missing"), r.toString());
  }

  static CompletableFuture<Void> order(EventWriter w, String customer, String amount, String time) {
    String json = "{\"customer\":\"" + customer + "\",\"amount\":" + amount + ",\"ts\":\"2026-12-08 " + time + ".000\"}";
    return w.writeEvent(customer, json.getBytes(StandardCharsets.UTF_8));
  }

  static void assertRow(String line, String windowStart, String customer, String revenue) {
    assertTrue(line.contains("2026-12-08 " + windowStart) && line.contains(" " + customer + " ") && line.contains(" " + revenue + " "), line);
  }
}

package io.sluice.flink.table;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.EventWriter;
import io.sluice.client.SluiceException;
import io.sluice.client.StreamCut;
import io.sluice.client.wire.ConnectionPool;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.SerializedThrowable;

/** Shared parts of the table connector's integration tests: streams, events written with the Java client, rows collected. */
final class TableItSupport {
  private TableItSupport() {}

  /** Creates scope and stream with {@code segments} fixed segments. */
  static void createStream(String controllerUri, String scope, String stream, int segments) throws Exception {
    try (ControllerClient c = ControllerClient.connect(controllerUri)) {
      c.createScope(scope).get(30, TimeUnit.SECONDS);
      c.createStream(scope, stream, segments).get(30, TimeUnit.SECONDS);
    }
  }

  /** Writes each of {@code events} (UTF-8) with the routing key {@code key} gives it (never null: the Java writer needs one); returns when all are durable. */
  static void write(String controllerUri, String scope, String stream, List<String> events, Function<String, String> key) throws Exception {
    ClientConfig config = ClientConfig.defaults();
    try (ControllerClient c = ControllerClient.connect(controllerUri, config);
        ConnectionPool pool = new ConnectionPool(config);
        EventWriter w = EventWriter.open(c, pool, config, scope, stream).get(30, TimeUnit.SECONDS)) {
      List<CompletableFuture<Void>> acks = new ArrayList<>(events.size());
      for (String e : events) acks.add(w.writeEvent(key.apply(e), e.getBytes(StandardCharsets.UTF_8)));
      CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
    }
  }

  /** The stream's tail cut now, as text. */
  static String tailCut(String controllerUri, String scope, String stream) throws Exception {
    try (ControllerClient c = ControllerClient.connect(controllerUri)) {
      StreamCut tail = c.streamInfo(scope, stream).get(30, TimeUnit.SECONDS).tail();
      return tail.toText();
    }
  }

  /** Runs {@code query} (which must end) and returns its rows as text ({@code +I[...]}), sorted. */
  static List<String> rows(TableEnvironment env, String query) throws Exception {
    return rows(env.executeSql(query));
  }

  /** The rows of {@code result} (a query that ends) as text ({@code +I[...]}), sorted. */
  static List<String> rows(TableResult result) throws Exception {
    List<String> out = new ArrayList<>();
    try (CloseableIterator<Row> it = result.collect()) {
      it.forEachRemaining(r -> out.add(r.toString()));
    }
    out.sort(null);
    return out;
  }

  /** {@code rows} as text, sorted, to compare with {@link #rows}. */
  static List<String> text(List<Row> rows) {
    List<String> out = new ArrayList<>();
    for (Row r : rows) out.add(r.toString());
    out.sort(null);
    return out;
  }

  /**
   * The first {@link SluiceException} in the cause chain of {@code t}, or null. Errors of a job
   * reach the client as Flink {@link SerializedThrowable}s (class name and message only), so
   * those are turned back into the exception they hold.
   */
  static SluiceException sluiceCause(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      Throwable real = c instanceof SerializedThrowable s ? s.deserializeError(TableItSupport.class.getClassLoader()) : c;
      if (real instanceof SluiceException e) return e;
      if (real != c) {
        SluiceException inner = sluiceCause(real.getCause());
        if (inner != null) return inner;
      }
    }
    return null;
  }

  /** The messages of {@code t} and its causes, one line each. */
  static String chain(Throwable t) {
    StringBuilder out = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) out.append(c).append('\n');
    return out.toString();
  }
}

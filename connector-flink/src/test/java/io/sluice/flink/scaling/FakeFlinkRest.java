package io.sluice.flink.scaling;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.JobID;

/**
 * A fake of the few Flink REST calls the rescaler makes, on 127.0.0.1 (JDK HttpServer): one job with
 * two vertices at a parallelism, {@code GET /jobs/:jobid}, {@code GET/PUT
 * /jobs/:jobid/resource-requirements}. A PUT is answered 409 while {@link #conflicts} is positive
 * (each answer takes one), else accepted: the job then shows RESTARTING for {@link #restartMs} and
 * then RUNNING at the requested upper bound. Every PUT body is kept in {@link #puts}.
 */
final class FakeFlinkRest implements AutoCloseable {
  final JobID job = new JobID();
  final int maxParallelism;
  final AtomicInteger conflicts = new AtomicInteger();
  final List<String> puts = new CopyOnWriteArrayList<>();
  volatile long restartMs;
  private volatile int parallelism;
  private volatile long restartingUntilMs;
  private final HttpServer server;

  FakeFlinkRest(int parallelism, int maxParallelism) throws IOException {
    this.parallelism = parallelism;
    this.maxParallelism = maxParallelism;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Answers the PUTs that were not 409. */
  int accepted() {
    return puts.size();
  }

  private void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    String jobPath = "/jobs/" + job;
    try (ex) {
      if (method.equals("GET") && path.equals(jobPath)) {
        boolean restarting = System.currentTimeMillis() < restartingUntilMs;
        String state = restarting ? "RESTARTING" : "RUNNING";
        String vstate = restarting ? "CANCELING" : "RUNNING";
        String v = "{\"id\":\"%s\",\"name\":\"%s\",\"parallelism\":%d,\"maxParallelism\":%d,\"status\":\"%s\"}";
        reply(ex, 200, "{\"jid\":\"" + job + "\",\"state\":\"" + state + "\",\"timestamps\":{\"RUNNING\":1},\"vertices\":["
            + String.format(v, "v1", "source", parallelism, maxParallelism, vstate) + ","
            + String.format(v, "v2", "sink", parallelism, maxParallelism, vstate) + "]}");
      } else if (method.equals("GET") && path.equals(jobPath + "/resource-requirements")) {
        String r = "{\"parallelism\":{\"lowerBound\":1,\"upperBound\":" + parallelism + "}}";
        reply(ex, 200, "{\"v1\":" + r + ",\"v2\":" + r + "}");
      } else if (method.equals("PUT") && path.equals(jobPath + "/resource-requirements")) {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        if (conflicts.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
          reply(ex, 409, "{\"errors\":[\"conflict\"]}");
          return;
        }
        puts.add(body);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"upperBound\":(\\d+)").matcher(body);
        if (!m.find()) {
          reply(ex, 400, "{\"errors\":[\"no upperBound\"]}");
          return;
        }
        restartingUntilMs = System.currentTimeMillis() + restartMs;
        parallelism = Integer.parseInt(m.group(1));
        reply(ex, 200, "{}");
      } else {
        reply(ex, 404, "{\"errors\":[\"Not found: " + path + "\"]}");
      }
    }
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(b);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}

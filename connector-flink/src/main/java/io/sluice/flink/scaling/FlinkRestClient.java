package io.sluice.flink.scaling;

import io.sluice.client.ErrorCode;
import io.sluice.client.SluiceException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.JobID;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The few calls of Flink's REST API that rescaling needs, over {@link HttpClient}, JSON through
 * Flink's shaded Jackson: {@code GET /jobs/:jobid} (state, per-state timestamps, vertices with
 * parallelism and max parallelism) and the adaptive scheduler's {@code GET/PUT
 * /jobs/:jobid/resource-requirements} (body: {@code {"<vertexId>": {"parallelism": {"lowerBound":
 * L, "upperBound": U}}}}, Flink 2.2's JobResourceRequirementsBody). Every call has a deadline
 * ({@code requestTimeout}). Failures are {@link RestFailure}s: retriable (HTTP 409, 5xx, no
 * connection, timeout) or not (any other status, a body that is not the expected JSON).
 */
public final class FlinkRestClient implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI base;
  private final Duration requestTimeout;
  private final HttpClient http;

  /** A client of the REST endpoint at {@code restUrl} (e.g. {@code http://127.0.0.1:8081}). */
  public FlinkRestClient(String restUrl, Duration requestTimeout) {
    String u = restUrl.endsWith("/") ? restUrl.substring(0, restUrl.length() - 1) : restUrl;
    this.base = URI.create(u);
    this.requestTimeout = requestTimeout;
    this.http = HttpClient.newBuilder().connectTimeout(requestTimeout).build();
  }

  /** A failed REST call: its HTTP status (0 when no answer came) and whether retrying may help. */
  public static final class RestFailure extends SluiceException {
    private static final long serialVersionUID = 1L;
    private final int status;

    RestFailure(int status, String message, Throwable cause) {
      super(status == 0 || status == 409 || status >= 500 ? ErrorCode.UNAVAILABLE : ErrorCode.INVALID_ARGUMENT, message, cause);
      this.status = status;
    }

    /** The HTTP status, 0 when the endpoint gave no answer (connection refused, timeout). */
    public int status() {
      return status;
    }
  }

  /** One job vertex as {@code GET /jobs/:jobid} shows it. */
  public record Vertex(String id, String name, int parallelism, int maxParallelism, String status) {}

  /**
   * A job as {@code GET /jobs/:jobid} shows it: its state, the time it last entered each state
   * ({@code timestamps}, epoch ms), and its vertices.
   */
  public record JobView(String state, Map<String, Long> timestamps, List<Vertex> vertices) {
    /** The largest parallelism over the vertices (they share one under the adaptive scheduler), -1 with none. */
    public int parallelism() {
      int p = -1;
      for (Vertex v : vertices) p = Math.max(p, v.parallelism());
      return p;
    }

    /** The smallest max parallelism over the vertices (no vertex may go above it), -1 with none. */
    public int maxParallelism() {
      int p = Integer.MAX_VALUE;
      for (Vertex v : vertices) p = Math.min(p, v.maxParallelism());
      return vertices.isEmpty() ? -1 : p;
    }

    /** The job is RUNNING and so is every vertex (all its subtasks deployed and running). */
    public boolean running() {
      if (!"RUNNING".equals(state) || vertices.isEmpty()) return false;
      for (Vertex v : vertices) if (!"RUNNING".equals(v.status())) return false;
      return true;
    }
  }

  /** {@code GET /jobs/:jobid}. */
  public JobView job(JobID job) {
    JsonNode root = call("GET", "/jobs/" + job, null);
    List<Vertex> vertices = new ArrayList<>();
    for (JsonNode v : root.path("vertices")) {
      vertices.add(new Vertex(v.path("id").asText(), v.path("name").asText(), v.path("parallelism").asInt(-1),
          v.path("maxParallelism").asInt(-1), v.path("status").asText()));
    }
    Map<String, Long> timestamps = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.path("timestamps").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      timestamps.put(e.getKey(), e.getValue().asLong());
    }
    if (!root.hasNonNull("state")) throw new RestFailure(200, "GET /jobs/" + job + ": no state in " + root, null);
    return new JobView(root.path("state").asText(), Map.copyOf(timestamps), List.copyOf(vertices));
  }

  /** {@code GET /jobs/:jobid/resource-requirements}: vertex id to {lowerBound, upperBound}. */
  public Map<String, int[]> resourceRequirements(JobID job) {
    JsonNode root = call("GET", "/jobs/" + job + "/resource-requirements", null);
    Map<String, int[]> out = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode p = e.getValue().path("parallelism");
      out.put(e.getKey(), new int[] {p.path("lowerBound").asInt(), p.path("upperBound").asInt()});
    }
    return out;
  }

  /**
   * Sets every vertex of the job to lower bound 1, upper bound {@code parallelism} ({@code GET}
   * then {@code PUT /jobs/:jobid/resource-requirements}); the adaptive scheduler then rescales to
   * it as far as slots allow.
   */
  public void setParallelism(JobID job, int parallelism) {
    if (parallelism < 1) throw new IllegalArgumentException("parallelism " + parallelism + " must be >= 1");
    Map<String, int[]> current = resourceRequirements(job);
    if (current.isEmpty()) throw new RestFailure(200, "job " + job + " has no resource requirements (is the scheduler adaptive?)", null);
    ObjectNode body = JSON.createObjectNode();
    for (String vertex : current.keySet()) {
      ObjectNode p = body.putObject(vertex).putObject("parallelism");
      p.put("lowerBound", 1);
      p.put("upperBound", parallelism);
    }
    call("PUT", "/jobs/" + job + "/resource-requirements", body.toString());
  }

  private JsonNode call(String method, String path, String body) {
    HttpRequest.Builder req = HttpRequest.newBuilder(base.resolve(path)).timeout(requestTimeout);
    if (body != null) {
      req.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
    } else {
      req.method(method, HttpRequest.BodyPublishers.noBody());
    }
    HttpResponse<String> res;
    try {
      res = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new RestFailure(0, method + " " + path + ": no answer from " + base + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RestFailure(0, method + " " + path + ": interrupted", e);
    }
    if (res.statusCode() / 100 != 2) {
      throw new RestFailure(res.statusCode(), method + " " + path + ": HTTP " + res.statusCode() + ": " + res.body(), null);
    }
    String text = res.body();
    if (text == null || text.isBlank()) return JSON.createObjectNode();
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new RestFailure(res.statusCode(), method + " " + path + ": not JSON: " + text, e);
    }
  }

  /** Nothing to release before Java 21's closeable HttpClient; kept so callers use try-with-resources. */
  @Override
  public void close() {}
}

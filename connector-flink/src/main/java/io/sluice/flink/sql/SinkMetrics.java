package io.sluice.flink.sql;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.apache.flink.api.common.JobID;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Reads the I/O counters of a job's sink vertices (those no other vertex reads from; summed) from the
 * cluster's REST endpoint ({@code GET /jobs/:id}). Counters are network I/O: a vertex whose input is
 * chained into it (no shuffle before the sink) reads 0 records. Each read waits at most
 * {@link #REQUEST_TIMEOUT}; any failure answers empty (progress lines then show the status only).
 */
final class SinkMetrics {
  /** Deadline of one REST request. */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(2);

  /**
   * The sink vertices' counters at one moment, summed, and the job's state as the endpoint saw it
   * (a terminal state means the counters are final).
   */
  record Io(String jobState, int sinkVertices, long recordsIn, long bytesIn, long recordsOut, long bytesOut) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI rest;
  private final HttpClient http;

  SinkMetrics(URI rest) {
    this.rest = rest;
    this.http = HttpClient.newBuilder().connectTimeout(REQUEST_TIMEOUT).build();
  }

  /** The sink vertex's counters now, or empty if the endpoint did not answer them. */
  Optional<Io> read(JobID job) {
    try {
      HttpRequest request = HttpRequest.newBuilder(rest.resolve("/jobs/" + job))
          .timeout(REQUEST_TIMEOUT).GET().build();
      HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return Optional.empty();
      }
      return sinkIo(JSON.readTree(response.body()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    } catch (Exception e) {
      return Optional.empty();
    }
  }

  /** The summed counters of the vertices in {@code jobDetails} that are no other vertex's input. */
  static Optional<Io> sinkIo(JsonNode jobDetails) {
    Set<String> inputs = new HashSet<>();
    for (JsonNode node : jobDetails.path("plan").path("nodes")) {
      for (JsonNode input : node.path("inputs")) {
        inputs.add(input.path("id").asText());
      }
    }
    int sinks = 0;
    long recordsIn = 0;
    long bytesIn = 0;
    long recordsOut = 0;
    long bytesOut = 0;
    for (JsonNode vertex : jobDetails.path("vertices")) {
      if (!inputs.contains(vertex.path("id").asText())) {
        JsonNode m = vertex.path("metrics");
        sinks++;
        recordsIn += m.path("read-records").asLong();
        bytesIn += m.path("read-bytes").asLong();
        recordsOut += m.path("write-records").asLong();
        bytesOut += m.path("write-bytes").asLong();
      }
    }
    return sinks == 0 ? Optional.empty()
        : Optional.of(new Io(jobDetails.path("state").asText(), sinks, recordsIn, bytesIn, recordsOut, bytesOut));
  }
}

package io.sluice.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.client.ClientConfig;
import io.sluice.client.ControllerClient;
import io.sluice.client.ScalingPolicy;
import io.sluice.flink.source.PacedKeyWriter;
import io.sluice.flink.source.SourceItSupport;
import io.sluice.testing.SluiceStandaloneExtension;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The scaling demo end to end, in this JVM: against a standalone that scales within seconds, with a
 * byEventRate input stream loaded well above its target rate, {@link ScalingDemoJob#run} prints
 * {@code started}, samples, and a {@code rescale} to a higher parallelism once the stream split; on
 * stdin's EOF it stops with drain and prints an all-zero audit over every key and {@code stopped}
 * last; the output stream holds each key's events once, in order, from 0.
 */
class ScalingDemoJobTest {
  @RegisterExtension
  static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension("--scale-interval-ms", "500",
      "--scale-cooldown-ms", "2000", "--load-windows-ms", "1000,2000,3000,4000", "--load-report-ms", "500");

  static final int KEYS = 8;

  /** Collects what is printed, line by line. */
  static final class Lines extends OutputStream {
    final List<String> lines = new CopyOnWriteArrayList<>();
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    @Override
    public synchronized void write(int b) {
      if (b == '\n') {
        lines.add(line.toString(StandardCharsets.UTF_8));
        line.reset();
      } else {
        line.write(b);
      }
    }

    String await(Predicate<String> p, long timeoutMs, String what) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
      while (true) {
        for (String l : lines) if (p.test(l)) return l;
        assertTrue(System.nanoTime() < deadline, what + " within " + timeoutMs + " ms; lines: " + tail());
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      }
    }

    String tail() {
      List<String> l = new ArrayList<>(lines);
      return String.join("\n", l.subList(Math.max(0, l.size() - 20), l.size()));
    }
  }

  @Test
  void theJobRescalesWhenItsInputSplitsAndStopsWithACleanAudit() throws Exception {
    String uri = SLUICE.get().controllerUri();
    try (ControllerClient c = ControllerClient.connect(uri, ClientConfig.defaults())) {
      c.createScope("demo").get(30, TimeUnit.SECONDS);
      c.createStream("demo", "in", new ScalingPolicy(ScalingPolicy.Type.BY_EVENT_RATE, 1, 200, 2)).get(30, TimeUnit.SECONDS);
      c.createStream("demo", "out", 2).get(30, TimeUnit.SECONDS);
    }
    Lines out = new Lines();
    PipedOutputStream stdin = new PipedOutputStream();
    PipedInputStream demoStdin = new PipedInputStream(stdin);
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Thread demo = new Thread(() -> {
      try {
        exit.complete(ScalingDemoJob.run(new String[] {"--controller", uri, "--input", "demo/in", "--output", "demo/out",
            "--max-parallelism", "4", "--poll-ms", "500", "--stable-polls", "2", "--cooldown-ms", "2000", "--checkpoint-ms", "500"},
            demoStdin, new PrintStream(out, true, StandardCharsets.UTF_8), new CompletableFuture<>()));
      } catch (Throwable e) {
        exit.completeExceptionally(e);
      }
    }, "scaling-demo");
    demo.setDaemon(true);
    demo.start();
    // k0..k7 at about 1,600 events/s: 8 segments' worth of the 200/s target.
    PacedKeyWriter writer = new PacedKeyWriter(uri, "demo", "in", KEYS, 5, 400);
    try {
      out.await(l -> l.startsWith("{\"type\":\"started\"") && l.contains("\"parallelism\":1"), 60_000, "started at parallelism 1");
      writer.start();
      String rescale = out.await(l -> l.startsWith("{\"type\":\"rescale\",") && l.contains("\"from\":1,"), 60_000, "a rescale up from 1");
      System.out.println("demo: " + rescale);
      long lastSeq = writer.stop()[0];
      stdin.close();
      assertEquals(0, exit.get(120, TimeUnit.SECONDS), "exit status; lines: " + out.tail());
      List<String> lines = out.lines;
      assertTrue(lines.stream().allMatch(l -> l.startsWith("{\"type\":\"") && l.endsWith("}")), "only JSON lines: " + out.tail());
      assertTrue(lines.stream().anyMatch(l -> l.startsWith("{\"type\":\"sample\",")), "samples printed");
      assertEquals("{\"type\":\"audit\",\"keys\":" + KEYS + ",\"outOfOrder\":0,\"duplicates\":0,\"gaps\":0}", lines.get(lines.size() - 2));
      assertTrue(lines.get(lines.size() - 1).startsWith("{\"type\":\"stopped\",\"timeMs\":"), lines.get(lines.size() - 1));

      Map<String, List<Long>> byKey = SourceItSupport.byKey(SLUICE.get().cli(120_000, "read", "demo/out"));
      assertEquals(KEYS, byKey.size(), "every key reached the output");
      byKey.forEach((k, seqs) -> {
        for (int i = 0; i < seqs.size(); i++) assertEquals(i, seqs.get(i), "key " + k + ": once each, in order, from 0");
        assertTrue(seqs.size() <= lastSeq + 1, "key " + k + ": nothing beyond what was written");
      });
    } finally {
      writer.close();
      stdin.close();
      exit.get(120, TimeUnit.SECONDS);
    }
  }
}

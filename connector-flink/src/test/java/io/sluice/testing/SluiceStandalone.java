package io.sluice.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Runs a real {@code sluice standalone} (controller and segment store in one process) as a child
 * process on 127.0.0.1, as perf/support/standalone-process.ts does for the TypeScript tests. Ports are
 * chosen free once, so {@link #restart()} brings it back on the same ports and data directory. The
 * repository root comes from the system property {@code sluice.repo} (set by surefire), else the
 * parent of the working directory. The child is stopped by its own process handle, never by name.
 */
public final class SluiceStandalone implements AutoCloseable {
  private static final long START_TIMEOUT_MS = 60_000;
  private static final long STOP_GRACE_MS = 15_000;
  /** stderr kept for failure messages (the tail). */
  private static final int STDERR_CHARS_MAX = 64 * 1024;

  private final Path repo;
  private final Path dataDir;
  private final int controllerPort;
  private final int segmentStorePort;
  private final List<String> extraArgs;
  private Process process;
  private final StringBuilder stderr = new StringBuilder();

  private SluiceStandalone(Path repo, Path dataDir, int controllerPort, int segmentStorePort, List<String> extraArgs) {
    this.repo = repo;
    this.dataDir = dataDir;
    this.controllerPort = controllerPort;
    this.segmentStorePort = segmentStorePort;
    this.extraArgs = List.copyOf(extraArgs);
  }

  /** Starts a standalone in a new temp data dir and waits for its ready line (60 s at most). */
  public static SluiceStandalone start(String... extraArgs) throws IOException {
    String prop = System.getProperty("sluice.repo");
    Path repo = (prop != null ? Paths.get(prop) : Paths.get("").toAbsolutePath().getParent()).toAbsolutePath().normalize();
    Path dir = Files.createTempDirectory("sluice-standalone-");
    int[] ports = freePorts(2);
    SluiceStandalone s = new SluiceStandalone(repo, dir, ports[0], ports[1], List.of(extraArgs));
    try {
      s.launch();
    } catch (IOException | RuntimeException e) {
      s.deleteDataDir();
      throw e;
    }
    return s;
  }

  public String controllerUri() {
    return "tcp://127.0.0.1:" + controllerPort;
  }

  public int controllerPort() {
    return controllerPort;
  }

  public int segmentStorePort() {
    return segmentStorePort;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** The child's stderr so far (its last 64 KiB). */
  public String stderr() {
    synchronized (stderr) {
      return stderr.toString();
    }
  }

  /** SIGKILL, and wait for the exit. */
  public void kill() {
    Process p = process;
    if (p == null) return;
    p.destroyForcibly();
    waitExit(p, STOP_GRACE_MS);
    process = null;
  }

  /** SIGTERM (graceful), and wait for the exit; a child that hangs is killed after 15 s. */
  public void stop() {
    Process p = process;
    if (p == null) return;
    p.destroy();
    if (!waitExit(p, STOP_GRACE_MS)) {
      p.destroyForcibly();
      waitExit(p, STOP_GRACE_MS);
    }
    process = null;
  }

  /** Stops (gracefully) and starts again on the same ports and data dir. */
  public void restart() throws IOException {
    stop();
    launch();
  }

  /** Stops the child and deletes the data dir. */
  @Override
  public void close() {
    stop();
    deleteDataDir();
  }

  /**
   * Runs {@code sluice ARGS --controller <this controller>} (the TypeScript CLI, from the repo's
   * sources) and returns its standard output's lines; fails with its stderr when it exits non-zero
   * or runs past {@code timeoutMs}.
   */
  public List<String> cli(long timeoutMs, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("node", "--import", "tsx", repo.resolve("bin/sluice.ts").toString()));
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("--controller", controllerUri()));
    Path out = Files.createTempFile("sluice-cli-", ".out");
    Path err = Files.createTempFile("sluice-cli-", ".err");
    try {
      Process p = new ProcessBuilder(cmd).directory(repo.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      p.getOutputStream().close();
      if (!p.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException("sluice " + String.join(" ", args) + " ran past " + timeoutMs + " ms: " + Files.readString(err));
      }
      if (p.exitValue() != 0) throw new IOException("sluice " + String.join(" ", args) + " exited " + p.exitValue() + ": " + Files.readString(err));
      return Files.readAllLines(out, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private void launch() throws IOException {
    List<String> cmd = new ArrayList<>(List.of("node", "--import", "tsx", repo.resolve("bin/sluice.ts").toString(), "standalone",
        "--data-dir", dataDir.toString(), "--controller-port", Integer.toString(controllerPort),
        "--segmentstore-port", Integer.toString(segmentStorePort)));
    cmd.addAll(extraArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo.toFile());
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> ready = new CompletableFuture<>();
    Thread out = new Thread(() -> readStdout(p.getInputStream(), ready), "sluice-standalone-stdout");
    Thread err = new Thread(() -> readStderr(p.getErrorStream()), "sluice-standalone-stderr");
    out.setDaemon(true);
    err.setDaemon(true);
    out.start();
    err.start();
    try {
      ready.get(START_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      p.destroyForcibly();
      waitExit(p, STOP_GRACE_MS);
      throw new IOException("sluice standalone did not start (" + e + "): " + stderr(), e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting sluice standalone", e);
    }
    process = p;
  }

  private void readStdout(InputStream in, CompletableFuture<String> ready) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("sluice standalone ready")) ready.complete(line);
      }
      ready.completeExceptionally(new IOException("sluice standalone exited"));
    } catch (IOException e) {
      ready.completeExceptionally(e);
    }
  }

  private void readStderr(InputStream in) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        synchronized (stderr) {
          stderr.append(line).append('\n');
          if (stderr.length() > STDERR_CHARS_MAX) stderr.delete(0, stderr.length() - STDERR_CHARS_MAX);
        }
      }
    } catch (IOException e) {
      synchronized (stderr) {
        stderr.append("[stderr read failed: ").append(e).append("]\n");
      }
    }
  }

  private static boolean waitExit(Process p, long timeoutMs) {
    try {
      return p.waitFor(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void deleteDataDir() {
    try (Stream<Path> paths = Files.walk(dataDir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(path);
    } catch (IOException e) {
      throw new UncheckedIOException("could not delete " + dataDir, e);
    }
  }

  /** Free 127.0.0.1 ports, held open together so they differ. */
  private static int[] freePorts(int n) throws IOException {
    ServerSocket[] sockets = new ServerSocket[n];
    int[] ports = new int[n];
    try {
      for (int i = 0; i < n; i++) {
        sockets[i] = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        ports[i] = sockets[i].getLocalPort();
      }
    } finally {
      for (ServerSocket s : sockets) if (s != null) s.close();
    }
    return ports;
  }
}

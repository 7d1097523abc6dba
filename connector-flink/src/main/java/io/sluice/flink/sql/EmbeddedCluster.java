package io.sluice.flink.sql;

import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.apache.flink.client.deployment.executors.PipelineExecutorUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.PipelineExecutor;
import org.apache.flink.core.execution.PipelineExecutorFactory;
import org.apache.flink.core.execution.PipelineExecutorServiceLoader;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.minicluster.MiniClusterJobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;

/**
 * One Flink MiniCluster in this JVM for the whole script (one task manager; its REST endpoint on a
 * free local port, for progress), and the {@link StreamExecutionEnvironment} whose jobs run on it.
 * Slots: {@code taskmanager.numberOfTaskSlots} if set, else the larger of the processor count and
 * {@code parallelism.default}; {@code parallelism.default} defaults to the slot count.
 */
final class EmbeddedCluster implements AutoCloseable {
  /** The {@code execution.target} naming this cluster's executor. */
  static final String EXECUTION_TARGET = "sluice-embedded";
  /** How long {@link #close()} waits for the cluster to shut down. */
  static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
  /** How long starting waits for the REST endpoint's address. */
  static final Duration REST_ADDRESS_TIMEOUT = Duration.ofSeconds(30);

  private final MiniCluster miniCluster;
  private final int slots;
  private final URI restAddress;

  private EmbeddedCluster(MiniCluster miniCluster, int slots, URI restAddress) {
    this.miniCluster = miniCluster;
    this.slots = slots;
    this.restAddress = restAddress;
  }

  /**
   * Starts the cluster with {@code conf} (which this method completes: slots, parallelism, REST
   * port, execution target, metric fetch interval {@code metricFetchInterval}).
   */
  static EmbeddedCluster start(Configuration conf, Duration metricFetchInterval) throws Exception {
    int slots = conf.getOptional(TaskManagerOptions.NUM_TASK_SLOTS)
        .orElse(Math.max(Runtime.getRuntime().availableProcessors(),
            conf.getOptional(CoreOptions.DEFAULT_PARALLELISM).orElse(1)));
    if (!conf.contains(CoreOptions.DEFAULT_PARALLELISM)) {
      conf.set(CoreOptions.DEFAULT_PARALLELISM, slots);
    }
    conf.set(TaskManagerOptions.NUM_TASK_SLOTS, slots);
    if (!conf.contains(RestOptions.BIND_PORT)) {
      conf.set(RestOptions.BIND_PORT, "0");
    }
    if (!conf.contains(RestOptions.BIND_ADDRESS)) {
      conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
      conf.set(RestOptions.ADDRESS, "127.0.0.1");
    }
    if (!conf.contains(MetricOptions.METRIC_FETCHER_UPDATE_INTERVAL)) {
      conf.set(MetricOptions.METRIC_FETCHER_UPDATE_INTERVAL, metricFetchInterval);
    }
    conf.set(DeploymentOptions.TARGET, EXECUTION_TARGET);
    MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
        .setConfiguration(conf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(slots)
        .build());
    cluster.start();
    try {
      URI rest = cluster.getRestAddress()
          .get(REST_ADDRESS_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      return new EmbeddedCluster(cluster, slots, rest);
    } catch (Exception e) {
      cluster.closeAsync();
      throw e;
    }
  }

  /** A streaming environment configured with {@code conf} whose jobs run on this cluster. */
  StreamExecutionEnvironment environment(Configuration conf) {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    return new StreamExecutionEnvironment(new Executors(), conf,
        loader != null ? loader : EmbeddedCluster.class.getClassLoader());
  }

  /** Task slots of the one task manager. */
  int slots() {
    return slots;
  }

  /** The REST endpoint (job status and metrics). */
  URI restAddress() {
    return restAddress;
  }

  /**
   * Stops the cluster, waiting at most {@link #CLOSE_TIMEOUT} (an interrupt ends the wait and is
   * kept on the thread).
   */
  @Override
  public void close() throws ExecutionException, TimeoutException {
    try {
      miniCluster.closeAsync().get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Submits each pipeline to the MiniCluster; the job client does not stop the cluster. */
  private final class Executors implements PipelineExecutorServiceLoader, PipelineExecutorFactory,
      PipelineExecutor {
    @Override
    public PipelineExecutorFactory getExecutorFactory(Configuration configuration) {
      return this;
    }

    @Override
    public Stream<String> getExecutorNames() {
      return Stream.of(EXECUTION_TARGET);
    }

    @Override
    public String getName() {
      return EXECUTION_TARGET;
    }

    @Override
    public boolean isCompatibleWith(Configuration configuration) {
      return true;
    }

    @Override
    public PipelineExecutor getExecutor(Configuration configuration) {
      return this;
    }

    @Override
    public CompletableFuture<JobClient> execute(
        org.apache.flink.api.dag.Pipeline pipeline, Configuration configuration, ClassLoader loader)
        throws Exception {
      StreamGraph graph = PipelineExecutorUtils.getStreamGraph(pipeline, configuration);
      return miniCluster.submitJob(graph).thenApply(submitted -> new MiniClusterJobClient(
          submitted.getJobID(), miniCluster, loader,
          MiniClusterJobClient.JobFinalizationBehavior.NOTHING));
    }
  }
}

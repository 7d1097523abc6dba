package io.sluice.flink.scaling;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A Flink MiniCluster in this JVM set up to rescale running jobs promptly, for the rescaling tests
 * and the scaling demo: one task manager with {@code slots} slots, REST on a free 127.0.0.1 port,
 * and the adaptive scheduler with:
 *
 * <ul>
 *   <li>{@code jobmanager.scheduler: adaptive}: serves {@code /jobs/:jobid/resource-requirements}
 *       and rescales in place;
 *   <li>{@code jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling: 100 ms} (default 30
 *       s, which would hold every change for 30 s after the last rescale, or after the start);
 *   <li>{@code jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout: 1 s} (default
 *       60 s; only matters when fewer slots than desired are free);
 *   <li>{@code jobmanager.adaptive-scheduler.rescale-trigger.max-delay: rescaleMaxDelay}: Flink 2.x
 *       rescales right after the next completed checkpoint, or after this delay without one;
 *   <li>{@code web.refresh-interval: 50 ms} (default 3 s): the REST endpoint caches a job's
 *       details this long, so {@code GET /jobs/:jobid} would show a rescale (and its pause) up to 3 s
 *       late or not at all;
 *   <li>a fixed-delay restart strategy (3 attempts, 200 ms) so a failure is not hidden.
 * </ul>
 *
 * Jobs need checkpointing (the environment's checkpoint interval) for a prompt rescale.
 */
public final class AdaptiveMiniCluster implements AutoCloseable {
  /** Deadline of starting, of the REST address, and of closing. */
  public static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final MiniCluster cluster;
  private final String restUrl;

  private AdaptiveMiniCluster(MiniCluster cluster, String restUrl) {
    this.cluster = cluster;
    this.restUrl = restUrl;
  }

  /** The configuration described in the class comment. */
  public static Configuration configuration(int slots, Duration rescaleMaxDelay) {
    Configuration conf = new Configuration();
    conf.set(JobManagerOptions.SCHEDULER, JobManagerOptions.SchedulerType.Adaptive);
    conf.set(JobManagerOptions.SCHEDULER_EXECUTING_COOLDOWN_AFTER_RESCALING, Duration.ofMillis(100));
    conf.set(JobManagerOptions.SCHEDULER_EXECUTING_RESOURCE_STABILIZATION_TIMEOUT, Duration.ofSeconds(1));
    conf.set(JobManagerOptions.SCHEDULER_RESCALE_TRIGGER_MAX_DELAY, rescaleMaxDelay);
    conf.set(WebOptions.REFRESH_INTERVAL, Duration.ofMillis(50));
    conf.set(RestOptions.BIND_PORT, "0");
    conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
    conf.set(RestOptions.ADDRESS, "127.0.0.1");
    conf.set(TaskManagerOptions.NUM_TASK_SLOTS, slots);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(200));
    return conf;
  }

  /** Starts a cluster with {@code slots} slots and waits for its REST address. */
  public static AdaptiveMiniCluster start(int slots, Duration rescaleMaxDelay) throws Exception {
    Configuration conf = configuration(slots, rescaleMaxDelay);
    MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
        .setConfiguration(conf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(slots)
        .build());
    cluster.start();
    try {
      String rest = cluster.getRestAddress().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).toString();
      return new AdaptiveMiniCluster(cluster, rest);
    } catch (Exception e) {
      cluster.closeAsync();
      throw e;
    }
  }

  /** {@code http://127.0.0.1:PORT}. */
  public String restUrl() {
    return restUrl;
  }

  /** Submits the environment's pipeline (its checkpointing, parallelism and max parallelism included). */
  public JobID submit(StreamExecutionEnvironment env) throws Exception {
    return cluster.submitJob(env.getStreamGraph()).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).getJobID();
  }

  /** Stop-with-savepoint with drain into {@code dir}; returns the savepoint path. */
  public String stopWithDrain(JobID job, Path dir, Duration timeout) throws Exception {
    return cluster.stopWithSavepoint(job, dir.toUri().toString(), true, SavepointFormatType.CANONICAL)
        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Completes with the job's result when it ends. */
  public java.util.concurrent.CompletableFuture<JobResult> resultFuture(JobID job) {
    return cluster.requestJobResult(job);
  }

  /** The job's result once it ended. */
  public JobResult result(JobID job, Duration timeout) throws Exception {
    return cluster.requestJobResult(job).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A long accumulator of the ended job's result (0 when the job registered none). */
  public static long longAccumulator(JobResult result, String name) throws Exception {
    var v = result.getAccumulatorResults().get(name);
    if (v == null) return 0;
    Object o = v.deserializeValue(AdaptiveMiniCluster.class.getClassLoader()).getUnchecked();
    return ((Number) o).longValue();
  }

  @Override
  public void close() throws java.util.concurrent.ExecutionException, java.util.concurrent.TimeoutException {
    try {
      cluster.closeAsync().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

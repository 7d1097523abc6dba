/**
 * `sluice standalone`: controller, segment store and one log node (Tier-1 at ensemble 1, write
 * quorum 1, ack quorum 1) in one process, sharing the embedded metadata store (or etcd, with
 * --metadata), all under one data directory. Nothing else to install. The segment store registers
 * with and reports its load to the controller in the same process (no network hop), so auto-scaling,
 * retention and transaction expiry work as in a cluster.
 */
import { join, resolve } from "node:path";
import { parseConfig, describeOptions, type OptionSpecs, lockDir, logger, logNodeRequestTimeoutMs, UnavailableError } from "../common/index.js";
import { Controller, openMetadataStore } from "../controller/index.js";
import { migrateFoundationJournal, SegmentStore, type ControllerLink, type Tier1 } from "../segmentstore/index.js";
import { cacheBytesMaxSpec, containersSpec, hostSpec, inflightBytesMaxSpec, loadWindowsSpec, storeConnectionOptions, storeLimits, txnOptions, txnOptionValues } from "./role-options.js";
import { openTier1, tier1Options } from "./tier1-setup.js";
import { openTier2, tier2Options } from "./tier2-setup.js";

const log = logger("standalone");

export const standaloneOptions = {
  "data-dir": { kind: "string", default: "./sluice-data", help: "directory for the journal and metadata" },
  metadata: { kind: "string", default: "", help: "metadata store: file://DIR or etcd://HOST:PORT (empty: file://DATA_DIR/controller)" },
  host: hostSpec,
  "controller-port": { kind: "int", default: 9090, min: 0, max: 65535, help: "controller gRPC port" },
  "segmentstore-port": { kind: "int", default: 12345, min: 0, max: 65535, help: "segment store data-plane port" },
  containers: containersSpec,
  "cache-bytes-max": cacheBytesMaxSpec,
  "inflight-bytes-max": inflightBytesMaxSpec,
  "load-windows-ms": loadWindowsSpec,
  ...storeConnectionOptions,
  "log-rollover-bytes": tier1Options["log-rollover-bytes"],
  "load-report-ms": { kind: "int", default: 5_000, min: 100, max: 3_600_000, help: "how often the segment store reports segment load to the controller" },
  "scale-interval-ms": { kind: "int", default: 10_000, min: 10, max: 3_600_000, help: "how often the controller looks for segments to split or merge" },
  "scale-cooldown-ms": { kind: "int", default: 600_000, min: 0, max: 86_400_000, help: "a segment younger than this is neither split nor merged (Pravega's 10 min)" },
  "retention-interval-ms": { kind: "int", default: 60_000, min: 10, max: 86_400_000, help: "how often retention records a stream cut and truncates" },
  ...txnOptions,
  ...tier2Options,
} satisfies OptionSpecs;

export const standaloneHelp = `sluice standalone [options]\n${describeOptions(standaloneOptions)}`;

export interface Standalone {
  controllerPort: number;
  segmentStorePort: number;
  close(): Promise<void>;
}

export async function startStandalone(argv: readonly string[]): Promise<Standalone> {
  const { config } = parseConfig(standaloneOptions, argv);
  const limits = storeLimits(config);
  const dataDir = resolve(config["data-dir"]);
  // One process serves a data directory (common/dir-lock.ts): a second standalone on it is refused
  // here with DATA_DIR_LOCKED, before anything in it is opened. The metadata store and the log node
  // lock their own folders too, which also covers --metadata file://ELSEWHERE.
  const dirLock = await lockDir(dataDir, "sluice standalone");
  let metadata: Awaited<ReturnType<typeof openMetadataStore>>;
  try {
    metadata = await openMetadataStore(config.metadata === "" ? `file://${join(dataDir, "controller")}` : config.metadata);
  } catch (err) {
    await dirLock.release();
    throw err;
  }
  let tier1: Tier1 | undefined;
  let tier2: Awaited<ReturnType<typeof openTier2>> | undefined;
  let store: SegmentStore | undefined;
  let controller: Controller | undefined;
  // The store starts first (the controller answers endpoints with its port); until the controller is up its
  // heartbeats and reports fail and are sent again at the next interval.
  const link: ControllerLink = {
    heartbeat: (req) => (controller === undefined ? Promise.reject(new UnavailableError("the controller is starting")) : controller.membership.heartbeat(req)),
    reportLoad: (req) => (controller === undefined ? Promise.reject(new UnavailableError("the controller is starting")) : controller.membership.reportLoad(req)),
  };
  try {
    tier2 = await openTier2(config, dataDir);
    tier1 = await openTier1({ tier1: "", ensemble: 1, "write-quorum": 1, "ack-quorum": 1, "log-request-timeout-ms": logNodeRequestTimeoutMs, "log-rollover-bytes": config["log-rollover-bytes"] }, metadata, dataDir);
    await migrateFoundationJournal(dataDir, tier1, config.containers);
    store = await SegmentStore.start({
      host: config.host,
      port: config["segmentstore-port"],
      claim: "all",
      containerCount: config.containers,
      ...limits,
      tier1,
      tier2,
      metadata,
      controller: link,
      heartbeat: { heartbeatMs: 1_000, reportMs: config["load-report-ms"] },
    });
    controller = await Controller.start({
      metadata,
      host: config.host,
      port: config["controller-port"],
      containerCount: config.containers,
      segmentStore: { host: config.host, port: store.port },
      id: "standalone",
      placement: false,
      // The one store always holds its own containers: a missed heartbeat (a long pause) must not move them nowhere.
      storeLeaseMs: 30_000,
      leaderLeaseMs: 5_000,
      scaleIntervalMs: config["scale-interval-ms"],
      scaleCooldownMs: config["scale-cooldown-ms"],
      retentionIntervalMs: config["retention-interval-ms"],
      ...txnOptionValues(config),
    });
  } catch (err) {
    await store?.close();
    await tier1?.close();
    await tier2?.storage.close();
    await metadata.close();
    await dirLock.release();
    throw err;
  }
  const segmentStore = store;
  const runningController = controller;
  const ownedTier1 = tier1;
  const ownedTier2 = tier2;
  log.info("sluice standalone is up", { dataDir, tier2: ownedTier2.storage.description });
  // One line on stdout that people and scripts can rely on.
  process.stdout.write(
    `sluice standalone ready: controller tcp://${config.host}:${runningController.port} segmentstore tcp://${config.host}:${segmentStore.port} data ${dataDir}\n`,
  );
  return {
    controllerPort: runningController.port,
    segmentStorePort: segmentStore.port,
    async close() {
      await runningController.close();
      await segmentStore.close();
      await ownedTier1.close();
      await ownedTier2.storage.close();
      await metadata.close();
      await dirLock.release();
    },
  };
}

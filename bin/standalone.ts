/**
 * `sluice standalone`: controller, segment store and one log node (Tier-1 at ensemble 1, write
 * quorum 1, ack quorum 1) in one process, sharing the embedded metadata store (or etcd, with
 * --metadata), all under one data directory. Nothing else to install.
 */
import { join, resolve } from "node:path";
import { parseConfig, describeOptions, type OptionSpecs, logger, logNodeRequestTimeoutMs } from "../common/index.js";
import { Controller, openMetadataStore } from "../controller/index.js";
import { migrateFoundationJournal, SegmentStore, type Tier1 } from "../segmentstore/index.js";
import { cacheBytesMaxSpec, containersSpec, hostSpec, inflightBytesMaxSpec, loadWindowsSpec, storeLimits } from "./role-options.js";
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
  "log-rollover-bytes": tier1Options["log-rollover-bytes"],
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
  const metadata = await openMetadataStore(config.metadata === "" ? `file://${join(dataDir, "controller")}` : config.metadata);
  let tier1: Tier1 | undefined;
  let tier2: Awaited<ReturnType<typeof openTier2>> | undefined;
  let store: SegmentStore | undefined;
  let controller: Controller;
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
    });
    controller = await Controller.start({
      metadata,
      host: config.host,
      port: config["controller-port"],
      containerCount: config.containers,
      segmentStore: { host: config.host, port: store.port },
    });
  } catch (err) {
    await store?.close();
    await tier1?.close();
    await tier2?.storage.close();
    await metadata.close();
    throw err;
  }
  const segmentStore = store;
  const ownedTier1 = tier1;
  const ownedTier2 = tier2;
  log.info("sluice standalone is up", { dataDir, tier2: ownedTier2.storage.description });
  // One line on stdout that people and scripts can rely on.
  process.stdout.write(
    `sluice standalone ready: controller tcp://${config.host}:${controller.port} segmentstore tcp://${config.host}:${segmentStore.port} data ${dataDir}\n`,
  );
  return {
    controllerPort: controller.port,
    segmentStorePort: segmentStore.port,
    async close() {
      await controller.close();
      await segmentStore.close();
      await ownedTier1.close();
      await ownedTier2.storage.close();
      await metadata.close();
    },
  };
}

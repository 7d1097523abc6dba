/**
 * `sluice standalone`: controller, segment store and its local Tier-1 journal in one process, with
 * the embedded metadata store (or etcd, with --metadata), all under one data directory. Nothing
 * else to install.
 */
import { join, resolve } from "node:path";
import { parseConfig, describeOptions, type OptionSpecs, logger } from "../common/index.js";
import { Controller } from "../controller/index.js";
import { SegmentStore } from "../segmentstore/index.js";
import { cacheBytesMaxSpec, containersSpec, hostSpec } from "./role-options.js";

const log = logger("standalone");

export const standaloneOptions = {
  "data-dir": { kind: "string", default: "./sluice-data", help: "directory for the journal and metadata" },
  metadata: { kind: "string", default: "", help: "metadata store: file://DIR or etcd://HOST:PORT (empty: file://DATA_DIR/controller)" },
  host: hostSpec,
  "controller-port": { kind: "int", default: 9090, min: 0, max: 65535, help: "controller gRPC port" },
  "segmentstore-port": { kind: "int", default: 12345, min: 0, max: 65535, help: "segment store data-plane port" },
  containers: containersSpec,
  "cache-bytes-max": cacheBytesMaxSpec,
} satisfies OptionSpecs;

export const standaloneHelp = `sluice standalone [options]\n${describeOptions(standaloneOptions)}`;

export interface Standalone {
  controllerPort: number;
  segmentStorePort: number;
  close(): Promise<void>;
}

export async function startStandalone(argv: readonly string[]): Promise<Standalone> {
  const { config } = parseConfig(standaloneOptions, argv);
  const dataDir = resolve(config["data-dir"]);
  const store = await SegmentStore.start({
    dataDir,
    host: config.host,
    port: config["segmentstore-port"],
    containerCount: config.containers,
    cacheBytesMax: config["cache-bytes-max"],
  });
  let controller: Controller;
  try {
    controller = await Controller.start({
      metadata: config.metadata === "" ? `file://${join(dataDir, "controller")}` : config.metadata,
      host: config.host,
      port: config["controller-port"],
      containerCount: config.containers,
      segmentStore: { host: config.host, port: store.port },
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  log.info("sluice standalone is up", { dataDir });
  // One line on stdout that people and scripts can rely on.
  process.stdout.write(
    `sluice standalone ready: controller tcp://${config.host}:${controller.port} segmentstore tcp://${config.host}:${store.port} data ${dataDir}\n`,
  );
  return {
    controllerPort: controller.port,
    segmentStorePort: store.port,
    async close() {
      await controller.close();
      await store.close();
    },
  };
}

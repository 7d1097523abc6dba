/**
 * The cluster roles, each its own process: `sluice controller` and `sluice segmentstore`. Until
 * placement ([7/8 controller]) arrives, a controller places every container on the one segment
 * store named by `--segmentstore`. A segment store writes its containers' logs to the log nodes
 * named by `--tier1` (or, without it, to a log node inside its own process under `--data-dir`).
 */
import { join, resolve } from "node:path";
import { describeOptions, InvalidConfigError, logger, parseConfig, type OptionSpecs } from "../common/index.js";
import { Controller } from "../controller/index.js";
import { openMetadataStore } from "../controller/store/index.js";
import { migrateFoundationJournal, SegmentStore, type Tier1 } from "../segmentstore/index.js";
import { cacheBytesMaxSpec, containersSpec, hostSpec, inflightBytesMaxSpec, loadWindowsSpec, storeLimits } from "./role-options.js";
import { openTier1, tier1Options } from "./tier1-setup.js";
import { openTier2, tier2Options } from "./tier2-setup.js";

const log = logger("roles");


export const controllerOptions = {
  metadata: { kind: "string", default: "file://./sluice-data/controller", help: "metadata store: file://DIR or etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE]" },
  host: hostSpec,
  port: { kind: "int", default: 9090, min: 0, max: 65535, help: "gRPC port" },
  containers: containersSpec,
  segmentstore: { kind: "string", default: "tcp://127.0.0.1:12345", help: "the segment store that serves every container (until placement)" },
} satisfies OptionSpecs;

export const segmentStoreOptions = {
  "data-dir": { kind: "string", default: "./sluice-data/segmentstore", help: "directory for the in-process log node (without --tier1) and the default metadata" },
  metadata: { kind: "string", default: "", help: "metadata store: file://DIR or etcd://HOST:PORT[,...][/NAMESPACE] (empty: file://DATA_DIR/metadata)" },
  ...tier1Options,
  ...tier2Options,
  host: hostSpec,
  port: { kind: "int", default: 12345, min: 0, max: 65535, help: "data-plane port" },
  "advertise-host": { kind: "string", default: "", help: "host clients are told to connect to, in owner records (empty: --host)", pattern: /^$|^[A-Za-z0-9.:-]+$/, patternHelp: "a host name or IP address" },
  id: { kind: "string", default: "", help: "this store's id in container assignments (empty: HOST:PORT)", pattern: /^$|^[A-Za-z0-9._:-]{1,255}$/, patternHelp: "1-255 of A-Z a-z 0-9 . _ : -" },
  claim: { kind: "string", default: "unassigned", help: "containers to take at start: 'unassigned' (those no store holds) or 'all'", pattern: /^(unassigned|all)$/, patternHelp: "unassigned or all" },
  containers: containersSpec,
  "cache-bytes-max": cacheBytesMaxSpec,
  "inflight-bytes-max": inflightBytesMaxSpec,
  "load-windows-ms": loadWindowsSpec,
} satisfies OptionSpecs;

export const controllerHelp = `sluice controller [options]\n${describeOptions(controllerOptions)}`;
export const segmentStoreHelp = `sluice segmentstore [options]\n${describeOptions(segmentStoreOptions)}`;

export interface Role {
  close(): Promise<void>;
}

function parseEndpoint(uri: string): { host: string; port: number } {
  const m = /^tcp:\/\/([A-Za-z0-9.-]+):(\d{1,5})$/.exec(uri);
  if (m === null || Number(m[2]) > 65535) throw new InvalidConfigError(`--segmentstore ${uri}: use tcp://HOST:PORT`);
  return { host: m[1]!, port: Number(m[2]) };
}

export async function startController(argv: readonly string[]): Promise<Role> {
  const { config } = parseConfig(controllerOptions, argv);
  const controller = await Controller.start({
    metadata: config.metadata,
    host: config.host,
    port: config.port,
    containerCount: config.containers,
    segmentStore: parseEndpoint(config.segmentstore),
  });
  process.stdout.write(`sluice controller ready: tcp://${config.host}:${controller.port} metadata ${config.metadata}\n`);
  return controller;
}

export async function startSegmentStore(argv: readonly string[]): Promise<Role> {
  const { config } = parseConfig(segmentStoreOptions, argv);
  const limits = storeLimits(config);
  const dataDir = resolve(config["data-dir"]);
  const metadata = await openMetadataStore(config.metadata === "" ? `file://${join(dataDir, "metadata")}` : config.metadata);
  let tier1: Tier1 | undefined;
  let tier2: Awaited<ReturnType<typeof openTier2>> | undefined;
  let store: SegmentStore;
  try {
    tier2 = await openTier2(config, dataDir);
    tier1 = await openTier1(config, metadata, dataDir);
    await migrateFoundationJournal(dataDir, tier1, config.containers);
    store = await SegmentStore.start({
      host: config.host,
      port: config.port,
      ...(config.id === "" ? {} : { storeId: config.id }),
      ...(config["advertise-host"] === "" ? {} : { advertisedHost: config["advertise-host"] }),
      claim: config.claim === "all" ? "all" : "unassigned",
      containerCount: config.containers,
      ...limits,
      tier1,
      tier2,
      metadata,
    });
  } catch (err) {
    await tier1?.close();
    await tier2?.storage.close();
    await metadata.close();
    throw err;
  }
  log.info("segment store is up", { dataDir, tier1: config.tier1 === "" ? "in-process" : config.tier1, tier2: tier2.storage.description });
  process.stdout.write(`sluice segmentstore ready: tcp://${config.host}:${store.port} id ${store.id} containers ${store.containers.join(",") || "none"} data ${dataDir}\n`);
  const ownedTier1 = tier1;
  const ownedTier2 = tier2;
  return {
    async close() {
      await store.close();
      await ownedTier1.close();
      await ownedTier2.storage.close();
      await metadata.close();
    },
  };
}

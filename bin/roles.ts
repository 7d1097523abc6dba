/**
 * The cluster roles, each its own process: `sluice controller` and `sluice segmentstore`. Segment
 * stores started with `--controller` heartbeat the controllers (any of them; they share their state
 * through the metadata store) and the leader controller places containers on the live ones. Without
 * `--controller` a store registers nowhere and claims containers itself, as before placement; a
 * controller's `--segmentstore` then names where containers nobody owns are served. A segment store
 * writes its containers' logs to the log nodes named by `--tier1` (or, without it, to a log node
 * inside its own process under `--data-dir`).
 */
import { join, resolve } from "node:path";
import { describeOptions, InvalidConfigError, logger, parseConfig, type OptionSpecs } from "../common/index.js";
import { Controller } from "../controller/index.js";
import { leaderLeaseMsMax, leaderLeaseMsMin } from "../controller/cluster/index.js";
import { openMetadataStore, type MetadataStore } from "../controller/store/index.js";
import { heartbeatMsDefault, loadReportMsDefault, migrateFoundationJournal, SegmentStore, type Tier1 } from "../segmentstore/index.js";
import { GrpcControllerLink } from "./controller-link.js";
import { cacheBytesMaxSpec, containersSpec, hostSpec, inflightBytesMaxSpec, loadWindowsSpec, storeConnectionOptions, storeLimits, txnOptions, txnOptionValues } from "./role-options.js";
import { openTier1, tier1Options } from "./tier1-setup.js";
import { openTier2, tier2Options } from "./tier2-setup.js";

const log = logger("roles");

const hourMs = 60 * 60 * 1000;
/** Longest a test may ask the controller to pause after sealing (SLUICE_TEST_PAUSE_AFTER_SEAL_MS). */
const pauseAfterSealMsMax = 10 * 60_000;
const pauseAfterSealEnv = "SLUICE_TEST_PAUSE_AFTER_SEAL_MS";

export const controllerOptions = {
  metadata: { kind: "string", default: "file://./sluice-data/controller", help: "metadata store: file://DIR or etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE]" },
  host: hostSpec,
  port: { kind: "int", default: 9090, min: 0, max: 65535, help: "gRPC port" },
  containers: containersSpec,
  id: { kind: "string", default: "", help: "this controller's id in leader election (empty: HOST:PORT)", pattern: /^$|^[A-Za-z0-9._:-]{1,255}$/, patternHelp: "1-255 of A-Z a-z 0-9 . _ : -" },
  segmentstore: {
    kind: "string",
    default: "",
    help: "fallback: where a container with no recorded owner is served, for stores started without --controller (empty: none)",
    pattern: /^$|^tcp:\/\/[A-Za-z0-9.-]+:\d{1,5}$/,
    patternHelp: "empty, or tcp://HOST:PORT",
  },
  "store-lease-ms": { kind: "int", default: 10_000, min: 1_000, max: leaderLeaseMsMax, help: "segment store lease: a store silent this long is dead and its containers move" },
  "leader-lease-ms": { kind: "int", default: 10_000, min: leaderLeaseMsMin, max: leaderLeaseMsMax, help: "leader lease: how long the controllers may be without a leader when it dies" },
  "scale-interval-ms": { kind: "int", default: 10_000, min: 100, max: hourMs, help: "how often the leader checks streams' load against their scaling policies" },
  "scale-cooldown-ms": { kind: "int", default: 600_000, min: 0, max: 24 * hourMs, help: "least time between two scalings of a segment's key range" },
  "retention-interval-ms": { kind: "int", default: 60_000, min: 100, max: 24 * hourMs, help: "how often the leader applies streams' retention policies" },
  "placement-interval-ms": { kind: "int", default: 1_000, min: 10, max: 60_000, help: "how often the leader compares container assignments with the live segment stores" },
  ...txnOptions,
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
  claim: {
    kind: "string",
    default: "",
    help: "containers to take at start: 'none' (wait for the controller to assign some), 'unassigned' (those no store holds) or 'all' (empty: none with --controller, else unassigned)",
    pattern: /^(|none|unassigned|all)$/,
    patternHelp: "none, unassigned or all",
  },
  controller: {
    kind: "string",
    default: "",
    help: "controllers to heartbeat and report load to, tcp://HOST:PORT[,tcp://HOST:PORT...] (empty: register nowhere)",
    pattern: /^$|^tcp:\/\/[^,]+(,tcp:\/\/[^,]+)*$/,
    patternHelp: "empty, or tcp://HOST:PORT, comma-separated",
  },
  "heartbeat-ms": { kind: "int", default: heartbeatMsDefault, min: 100, max: 60_000, help: "how often to heartbeat the controller (more often if its lease is under 3 heartbeats)" },
  "load-report-ms": { kind: "int", default: loadReportMsDefault, min: 100, max: 10 * 60_000, help: "how often to report the segments' load to the controller" },
  containers: containersSpec,
  "cache-bytes-max": cacheBytesMaxSpec,
  "inflight-bytes-max": inflightBytesMaxSpec,
  "load-windows-ms": loadWindowsSpec,
  ...storeConnectionOptions,
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

/** The test hook SLUICE_TEST_PAUSE_AFTER_SEAL_MS (integer ms), or undefined when not set. Raises INVALID_CONFIG. */
export function pauseAfterSealMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[pauseAfterSealEnv];
  if (raw === undefined || raw === "") return undefined;
  const ms = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || ms > pauseAfterSealMsMax) {
    throw new InvalidConfigError(`${pauseAfterSealEnv}: ${JSON.stringify(raw)} is not an integer in [0, ${pauseAfterSealMsMax}]`);
  }
  return ms;
}

export async function startController(argv: readonly string[]): Promise<Role> {
  const { config } = parseConfig(controllerOptions, argv);
  const pauseMs = pauseAfterSealMs();
  const controller = await Controller.start({
    metadata: config.metadata,
    host: config.host,
    port: config.port,
    containerCount: config.containers,
    ...(config.id === "" ? {} : { id: config.id }),
    ...(config.segmentstore === "" ? {} : { segmentStore: parseEndpoint(config.segmentstore) }),
    storeLeaseMs: config["store-lease-ms"],
    leaderLeaseMs: config["leader-lease-ms"],
    scaleIntervalMs: config["scale-interval-ms"],
    scaleCooldownMs: config["scale-cooldown-ms"],
    retentionIntervalMs: config["retention-interval-ms"],
    placementIntervalMs: config["placement-interval-ms"],
    ...txnOptionValues(config),
    ...(pauseMs === undefined ? {} : { pauseAfterSealMs: pauseMs }),
  });
  process.stdout.write(`sluice controller ready: tcp://${config.host}:${controller.port} metadata ${config.metadata}\n`);
  return controller;
}

export async function startSegmentStore(argv: readonly string[]): Promise<Role> {
  const { config } = parseConfig(segmentStoreOptions, argv);
  const limits = storeLimits(config);
  const dataDir = resolve(config["data-dir"]);
  const claim = config.claim === "" ? (config.controller === "" ? "unassigned" : "none") : parseClaim(config.claim);
  // Parsed before anything opens, so a bad --controller fails fast.
  const link = config.controller === "" ? undefined : new GrpcControllerLink(config.controller);
  let metadata: MetadataStore;
  try {
    metadata = await openMetadataStore(config.metadata === "" ? `file://${join(dataDir, "metadata")}` : config.metadata);
  } catch (err) {
    link?.close();
    throw err;
  }
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
      claim,
      containerCount: config.containers,
      ...limits,
      tier1,
      tier2,
      metadata,
      ...(link === undefined ? {} : { controller: link, heartbeat: { heartbeatMs: config["heartbeat-ms"], reportMs: config["load-report-ms"] } }),
    });
  } catch (err) {
    link?.close();
    await tier1?.close();
    await tier2?.storage.close();
    await metadata.close();
    throw err;
  }
  log.info("segment store is up", { dataDir, claim, controller: config.controller === "" ? "none" : config.controller, tier1: config.tier1 === "" ? "in-process" : config.tier1, tier2: tier2.storage.description });
  process.stdout.write(`sluice segmentstore ready: tcp://${config.host}:${store.port} id ${store.id} containers ${store.containers.join(",") || "none"} data ${dataDir}\n`);
  const ownedTier1 = tier1;
  const ownedTier2 = tier2;
  return {
    async close() {
      await store.close();
      link?.close();
      await ownedTier1.close();
      await ownedTier2.storage.close();
      await metadata.close();
    },
  };
}

function parseClaim(claim: string): "none" | "unassigned" | "all" {
  switch (claim) {
    case "none":
    case "unassigned":
    case "all":
      return claim;
    default:
      // The flag's pattern admits nothing else.
      throw new InvalidConfigError(`--claim ${claim}: use none, unassigned or all`);
  }
}

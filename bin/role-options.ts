/** Flags that several roles take, defined once so they parse and read the same everywhere. */
import {
  cacheBytesMaxDefault,
  connectionIdleTimeoutMsDefault,
  connectionIdleTimeoutMsMax,
  connectionIdleTimeoutMsMin,
  connectionsMax,
  connectionsPerPeerMaxDefault,
  containerCountMax,
  InvalidConfigError,
  storeInflightBytesHighDefault,
  txnLeaseMsCap,
  txnLeaseMsMaxDefault,
  txnLeaseMsMin,
  txnRecordKeptMsDefault,
  txnRecordKeptMsMax,
  txnRecordKeptMsMin,
} from "../common/index.js";

export const hostSpec = { kind: "string", default: "127.0.0.1", help: "address to listen on", pattern: /^[A-Za-z0-9.:-]+$/, patternHelp: "a host name or IP address" } as const;
export const containersSpec = { kind: "int", default: 4, min: 1, max: containerCountMax, help: "segment containers (fixed for the life of the metadata / data directory)" } as const;
export const cacheBytesMaxSpec = { kind: "int", default: cacheBytesMaxDefault, min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER, help: "pinned bound: bytes of event data held in memory before appends are held (writers throttled)" } as const;
export const inflightBytesMaxSpec = {
  kind: "int",
  default: storeInflightBytesHighDefault,
  min: 1024 * 1024,
  max: Number.MAX_SAFE_INTEGER,
  help: "append bytes received and not yet durable over all connections before appending connections pause (they resume below half)",
} as const;

/** The controller's transaction options (controller and standalone), read by txnOptionValues. */
export const txnOptions = {
  "txn-record-kept-ms": {
    kind: "int",
    default: txnRecordKeptMsDefault,
    min: txnRecordKeptMsMin,
    max: txnRecordKeptMsMax,
    help: "how long the record of a committed or aborted transaction is kept, so a repeated commit or a status call still learns the outcome (default 25 h: a job down for a day)",
  },
  "txn-lease-max-ms": {
    kind: "int",
    default: txnLeaseMsMaxDefault,
    min: txnLeaseMsMin,
    max: txnLeaseMsCap,
    help: "longest transaction lease a client may ask for (create and ping); longer ones are refused INVALID_ARGUMENT",
  },
} as const;

/** ControllerOptions' transaction fields from the flags of txnOptions. */
export function txnOptionValues(config: { "txn-record-kept-ms": number; "txn-lease-max-ms": number }): { txnRecordKeptMs: number; txnLeaseMsMax: number } {
  return { txnRecordKeptMs: config["txn-record-kept-ms"], txnLeaseMsMax: config["txn-lease-max-ms"] };
}

/** Data-plane connection caps and idle timeout; the log node passes its own defaults. */
export function connectionOptions(defaults: { connectionsMax: number; connectionsPerPeerMax: number; idleTimeoutMs: number }) {
  return {
    "connections-max": { kind: "int", default: defaults.connectionsMax, min: 1, max: 1_000_000, help: "connections accepted at once; more are refused TOO_MANY_CONNECTIONS (and logged)" },
    "connections-per-peer-max": {
      kind: "int",
      default: defaults.connectionsPerPeerMax,
      min: 1,
      max: 1_000_000,
      help: "connections accepted at once from one remote address (at most --connections-max); more are refused TOO_MANY_CONNECTIONS",
    },
    "idle-timeout-ms": {
      kind: "int",
      default: defaults.idleTimeoutMs,
      min: 0,
      max: connectionIdleTimeoutMsMax,
      help: `a connection with nothing in flight that sends no request for this long is closed (0: never; else at least ${connectionIdleTimeoutMsMin})`,
    },
  } as const;
}

export const storeConnectionOptions = connectionOptions({ connectionsMax, connectionsPerPeerMax: connectionsPerPeerMaxDefault, idleTimeoutMs: connectionIdleTimeoutMsDefault });

/** The connection limits from their flags; raises INVALID_CONFIG naming the flag, so call it before opening anything. */
export function connectionLimits(config: { "connections-max": number; "connections-per-peer-max": number; "idle-timeout-ms": number }): {
  connectionsMax: number;
  connectionsPerPeerMax: number;
  idleTimeoutMs: number;
} {
  const idle = config["idle-timeout-ms"];
  if (idle !== 0 && idle < connectionIdleTimeoutMsMin) throw new InvalidConfigError(`--idle-timeout-ms ${idle}: use 0 (never) or [${connectionIdleTimeoutMsMin}, ${connectionIdleTimeoutMsMax}]`);
  if (config["connections-per-peer-max"] > config["connections-max"]) {
    throw new InvalidConfigError(`--connections-per-peer-max ${config["connections-per-peer-max"]} is above --connections-max ${config["connections-max"]}`);
  }
  return { connectionsMax: config["connections-max"], connectionsPerPeerMax: config["connections-per-peer-max"], idleTimeoutMs: idle };
}

/** The store's flow bounds from --inflight-bytes-max. */
function storeFlow(inflightBytesMax: number): { storeBytesHigh: number; storeBytesLow: number } {
  return { storeBytesHigh: inflightBytesMax, storeBytesLow: Math.floor(inflightBytesMax / 2) };
}

/**
 * The segment store's memory and statistics options from the flags the standalone and the
 * segmentstore role share. Raises INVALID_CONFIG, so call it before opening anything.
 */
export function storeLimits(
  config: { "cache-bytes-max": number; "inflight-bytes-max": number; "load-windows-ms": string } & Parameters<typeof connectionLimits>[0],
): {
  cacheBytesMax: number;
  flow: { storeBytesHigh: number; storeBytesLow: number };
  loadWindowsMs: number[];
  connections: ReturnType<typeof connectionLimits>;
} {
  return { cacheBytesMax: config["cache-bytes-max"], flow: storeFlow(config["inflight-bytes-max"]), loadWindowsMs: loadWindows(config["load-windows-ms"]), connections: connectionLimits(config) };
}

export const loadWindowsSpec = {
  kind: "string",
  default: "120000,300000,600000,1200000",
  help: "moving-average windows of the per-segment load statistics, in ms, comma-separated, increasing (Pravega's 2/5/10/20 min)",
  pattern: /^\d+(,\d+){0,7}$/,
  patternHelp: "1 to 8 comma-separated integers, e.g. 2000,5000,10000",
} as const;

/** --load-windows-ms as numbers: each in [1 s, 24 h], strictly increasing. Raises INVALID_CONFIG. */
function loadWindows(flag: string): number[] {
  const windows = flag.split(",").map(Number);
  if (windows.some((w, i) => w < 1000 || w > 86_400_000 || (i > 0 && w <= windows[i - 1]!))) {
    throw new InvalidConfigError(`--load-windows-ms ${flag}: each window must be in [1000, 86400000] ms and longer than the one before`);
  }
  return windows;
}

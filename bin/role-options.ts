/** Flags that several roles take, defined once so they parse and read the same everywhere. */
import { cacheBytesMaxDefault, containerCountMax, storeInflightBytesHighDefault } from "../common/index.js";

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

/** The store's flow bounds from --inflight-bytes-max. */
export function storeFlow(inflightBytesMax: number): { storeBytesHigh: number; storeBytesLow: number } {
  return { storeBytesHigh: inflightBytesMax, storeBytesLow: Math.floor(inflightBytesMax / 2) };
}

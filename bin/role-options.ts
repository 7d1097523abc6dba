/** Flags that several roles take, defined once so they parse and read the same everywhere. */
import { cacheBytesMaxDefault, containerCountMax } from "../common/index.js";

export const hostSpec = { kind: "string", default: "127.0.0.1", help: "address to listen on", pattern: /^[A-Za-z0-9.:-]+$/, patternHelp: "a host name or IP address" } as const;
export const containersSpec = { kind: "int", default: 4, min: 1, max: containerCountMax, help: "segment containers (fixed for the life of the metadata / data directory)" } as const;
export const cacheBytesMaxSpec = { kind: "int", default: cacheBytesMaxDefault, min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER, help: "bytes of event data held in memory" } as const;

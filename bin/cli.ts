/**
 * The client-side commands of `sluice`: scopes, streams and write (read and readergroup are in
 * read-cli.ts and readergroup-cli.ts). Each connects to the controller given by --controller (or
 * SLUICE_CONTROLLER), does one thing and exits. The operator commands `sluice container
 * assign|list` work on the metadata store directly (--metadata).
 */
import { createInterface } from "node:readline";
import { describeOptions, parseConfig, type OptionSpecs, InvalidArgumentError, InvalidConfigError, streamSegmentsMax, containerCountMax, scaleFactorMax } from "../common/index.js";
import { Sluice, type RetentionOptions, type ScalingOptions, type StreamOptions } from "../client/index.js";
import {
  assignContainers,
  checkContainerCount,
  openMetadataStore,
  readAssignments,
  readContainerCount,
  readContainerOwner,
  validateStoreId,
  type MetadataStore,
} from "../controller/index.js";

export const controllerOption = {
  controller: { kind: "string", default: "tcp://127.0.0.1:9090", help: "controller URI" },
} satisfies OptionSpecs;

const streamCreateOptions = {
  ...controllerOption,
  segments: { kind: "int", default: 1, min: 1, max: streamSegmentsMax, help: "fixed number of segments (with a rate policy: the fewest)" },
  scaling: { kind: "string", default: "fixed", help: "fixed, byEventRate or byDataRate", pattern: /^(fixed|byEventRate|byDataRate)$/, patternHelp: "fixed, byEventRate or byDataRate" },
  target: { kind: "int", default: 1000, min: 1, max: 2 ** 31, help: "rate policies: events/s (byEventRate) or KiB/s (byDataRate) per segment" },
  "scale-factor": { kind: "int", default: 2, min: 2, max: scaleFactorMax, help: "rate policies: most parts one split makes" },
  "retention-ms": { kind: "int", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, help: "keep this many milliseconds of data (0: no time limit)" },
  "retention-bytes": { kind: "int", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, help: "keep at least this many bytes of data, truncating older (0: no size limit)" },
} satisfies OptionSpecs;

function streamOptionsOf(config: { segments: number; scaling: string; target: number; "scale-factor": number; "retention-ms": number; "retention-bytes": number }): StreamOptions {
  const scaling: ScalingOptions =
    config.scaling === "byEventRate"
      ? { type: "byEventRate", targetRate: config.target, scaleFactor: config["scale-factor"], minSegments: config.segments }
      : config.scaling === "byDataRate"
        ? { type: "byDataRate", targetKiBps: config.target, scaleFactor: config["scale-factor"], minSegments: config.segments }
        : { type: "fixed", minSegments: config.segments };
  if (config["retention-ms"] > 0 && config["retention-bytes"] > 0) throw new InvalidConfigError("give --retention-ms or --retention-bytes, not both");
  const retention: RetentionOptions =
    config["retention-ms"] > 0 ? { type: "byTime", limitMs: config["retention-ms"] } : config["retention-bytes"] > 0 ? { type: "bySize", limitBytes: config["retention-bytes"] } : { type: "none" };
  return { scaling, retention };
}

const writeOptions = {
  ...controllerOption,
  key: { kind: "string", default: "", help: "routing key (default: none, events spread over segments)" },
} satisfies OptionSpecs;

/** The one positional argument; raises INVALID_ARGUMENT naming `what` when there is none or more. */
export function one(positionals: string[], what: string): string {
  const v = positionals[0];
  if (v === undefined || positionals.length !== 1) throw new InvalidArgumentError(`expected exactly one ${what}`);
  return v;
}

export async function withClient<T>(uri: string, fn: (s: Sluice) => Promise<T>): Promise<T> {
  const sluice = await Sluice.connect(uri);
  try {
    return await fn(sluice);
  } finally {
    await sluice.close();
  }
}

export function out(line: string): void {
  process.stdout.write(line + "\n");
}

export async function scopeCommand(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { config, positionals } = parseConfig(controllerOption, rest);
  switch (verb) {
    case "create": {
      const scope = one(positionals, "scope name");
      const created = await withClient(config.controller, (s) => s.admin.createScope(scope));
      out(created ? `scope ${scope} created` : `scope ${scope} exists`);
      return;
    }
    case "list":
      for (const s of await withClient(config.controller, (c) => c.admin.listScopes())) out(s);
      return;
    case "delete": {
      const scope = one(positionals, "scope name");
      const deleted = await withClient(config.controller, (s) => s.admin.deleteScope(scope));
      out(deleted ? `scope ${scope} deleted` : `scope ${scope} does not exist`);
      return;
    }
    default:
      throw new InvalidArgumentError(`unknown command: sluice scope ${verb ?? ""}; use create, list or delete`);
  }
}

export async function streamCommand(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case "create": {
      const { config, positionals } = parseConfig(streamCreateOptions, rest);
      const stream = one(positionals, "stream (scope/stream)");
      const created = await withClient(config.controller, (s) => s.admin.createStream(stream, streamOptionsOf(config)));
      out(created ? `stream ${stream} created with ${config.segments} segments` : `stream ${stream} exists`);
      return;
    }
    case "seal":
    case "delete": {
      const { config, positionals } = parseConfig(controllerOption, rest);
      const stream = one(positionals, "stream (scope/stream)");
      await withClient(config.controller, (s) => (verb === "seal" ? s.admin.sealStream(stream) : s.admin.deleteStream(stream)));
      out(`stream ${stream} ${verb === "seal" ? "sealed" : "deleted"}`);
      return;
    }
    case "list": {
      const { config, positionals } = parseConfig(controllerOption, rest);
      const scope = one(positionals, "scope");
      for (const s of await withClient(config.controller, (c) => c.admin.listStreams(scope))) out(s);
      return;
    }
    case "info": {
      const { config, positionals } = parseConfig(controllerOption, rest);
      const stream = one(positionals, "stream (scope/stream)");
      const info = await withClient(config.controller, async (c) => {
        const i = await c.admin.streamInfo(stream);
        const ranges = await c.batch.segments(stream);
        return { ...i, ranges };
      });
      const scaling = info.config?.scaling;
      const retention = info.config?.retention;
      const policy =
        scaling === undefined || scaling.type === "FIXED" || scaling.type === "SCALING_TYPE_UNSPECIFIED"
          ? `fixed(${scaling?.minSegments ?? 1})`
          : `${scaling.type === "BY_EVENT_RATE" ? "byEventRate" : "byDataRate"}(target ${scaling.targetRate}, factor ${scaling.scaleFactor}, min ${scaling.minSegments})`;
      const kept = retention === undefined || retention.type === "RETENTION_NONE" ? "everything" : retention.type === "BY_TIME" ? `${retention.limit} ms` : `${retention.limit} bytes`;
      out(`stream ${info.scope}/${info.stream}: ${info.segments.length} segments, epoch ${info.epoch}, scaling ${policy}, retention ${kept}${info.sealed ? ", sealed" : ""}`);
      for (const s of info.segments) {
        const r = info.ranges.find((x) => x.segment === s.segment);
        out(`  ${s.segment}  epoch ${s.epoch}  keys [${s.keyStart.toFixed(4)}, ${s.keyEnd.toFixed(4)})  bytes ${r?.startOffset ?? 0}..${r?.endOffset ?? 0}`);
      }
      return;
    }
    default:
      throw new InvalidArgumentError(`unknown command: sluice stream ${verb ?? ""}; use create, list, info, seal or delete`);
  }
}

/** `sluice write STREAM [--key K] [TEXT...]`: each TEXT is one event; without TEXT, each stdin line is. */
export async function writeCommand(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(writeOptions, argv);
  const [stream, ...texts] = positionals;
  if (stream === undefined) throw new InvalidArgumentError("expected a stream (scope/stream)");
  const options = config.key === "" ? {} : { routingKey: config.key };
  const count = await withClient(config.controller, async (s) => {
    const writer = s.writer(stream);
    let n = 0;
    const written: Promise<void>[] = [];
    if (texts.length > 0) {
      for (const t of texts) written.push(writer.write(t, options));
      n = texts.length;
    } else {
      for await (const line of createInterface({ input: process.stdin })) {
        written.push(writer.write(line, options));
        n++;
        // Keep memory flat on long inputs: settle what was written every so often.
        if (written.length >= 10_000) await Promise.all(written.splice(0));
      }
    }
    await Promise.all(written);
    await writer.close();
    return n;
  });
  out(`wrote ${count} events to ${stream}`);
}

const containerListOptions = {
  metadata: { kind: "string", default: "", help: "metadata store: file://DIR or etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE] (required)" },
  "container-count": {
    kind: "int",
    default: 0,
    min: 0,
    max: containerCountMax,
    help: "containers in the cluster (0: the count the metadata records; assign records it if none is)",
  },
} satisfies OptionSpecs;

const containerAssignOptions = {
  ...containerListOptions,
  containers: {
    kind: "string",
    default: "",
    help: "containers to assign: a list like 0,2,3, or all (required)",
    pattern: /^(all|\d{1,4}(,\d{1,4})*)$/,
    patternHelp: "write container numbers separated by commas, like 0,2,3, or all",
  },
  to: { kind: "string", default: "", help: "the segment store id to assign them to (required)" },
} satisfies OptionSpecs;

export const containerHelp = `sluice container assign --metadata URI --containers LIST|all --to STORE_ID [--container-count N]
sluice container list --metadata URI [--container-count N]
  assign: records that STORE_ID should serve the containers; the store takes each over (fencing the
          previous owner's log) and then records itself as the owner, which clients are sent to.
  list:   one line per container: container C assigned-to ID owner ID tcp://HOST:PORT epoch E (- where absent).
  With a file:// metadata store, list reads the files without changing them (safe while a controller
  or standalone runs on them; a batch being written at that moment is left out), and assign works
  only while no other process has the store open (the embedded store is single-process: it is
  refused with DATA_DIR_LOCKED while one does; stop that process first). With etcd both work while
  the cluster runs.
${describeOptions(containerAssignOptions)}`;

async function withMetadata<T>(uri: string, fn: (store: MetadataStore) => Promise<T>, access: "read" | "write"): Promise<T> {
  if (uri === "") throw new InvalidConfigError("--metadata is required: file://DIR (the embedded store) or etcd://HOST:PORT");
  // A reader never locks or repairs a file store (its owner may be running); a writer locks it.
  const store = await openMetadataStore(uri, access === "read" ? { readOnly: true } : {});
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * The cluster's container count: --container-count if given (it must match the count the metadata
 * records; with `record`, it is recorded if none is), otherwise the count the metadata records.
 */
async function containerCountOf(store: MetadataStore, given: number, record: boolean): Promise<number> {
  const recorded = await readContainerCount(store);
  if (given !== 0) {
    if (recorded !== undefined && recorded !== given) {
      throw new InvalidConfigError(`--container-count ${given} differs from the ${recorded} containers this metadata was created with; use ${recorded} (or leave it out)`);
    }
    // Fixes the count for the roles that start later, as the first of them would.
    if (recorded === undefined && record) await checkContainerCount(store, given);
    return given;
  }
  if (recorded === undefined) {
    throw new InvalidConfigError("this metadata records no container count yet (no role has started on it): pass --container-count N, the --containers the roles will use");
  }
  return recorded;
}

function parseContainerList(value: string, containerCount: number): number[] {
  if (value === "") throw new InvalidConfigError("--containers is required: a list like 0,2,3, or all");
  if (value === "all") return Array.from({ length: containerCount }, (_, i) => i);
  const containers = value.split(",").map(Number);
  for (const c of containers) {
    if (c >= containerCount) throw new InvalidArgumentError(`--containers ${value}: container ${c} does not exist; this cluster has containers 0 to ${containerCount - 1}`);
  }
  return containers;
}

/** `sluice container assign|list`: assign containers to segment stores, and show assignments and owners. */
export async function containerCommand(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "help" || rest.includes("--help")) {
    out(containerHelp);
    return;
  }
  switch (verb) {
    case "assign": {
      const { config, positionals } = parseConfig(containerAssignOptions, rest);
      if (positionals.length > 0) throw new InvalidArgumentError(`unexpected argument ${positionals[0]}; see sluice container --help`);
      if (config.to === "") throw new InvalidConfigError("--to is required: the id of the segment store to assign the containers to");
      validateStoreId(config.to);
      if (config.containers === "") throw new InvalidConfigError("--containers is required: a list like 0,2,3, or all");
      const containers = await withMetadata(config.metadata, async (store) => {
        const count = await containerCountOf(store, config["container-count"], true);
        const list = parseContainerList(config.containers, count);
        await assignContainers(store, list, config.to, count);
        return list;
      }, "write");
      out(`assigned containers ${[...new Set(containers)].sort((a, b) => a - b).join(",")} to ${config.to}`);
      return;
    }
    case "list": {
      const { config, positionals } = parseConfig(containerListOptions, rest);
      if (positionals.length > 0) throw new InvalidArgumentError(`unexpected argument ${positionals[0]}; see sluice container --help`);
      const lines = await withMetadata(config.metadata, async (store) => {
        const count = await containerCountOf(store, config["container-count"], false);
        const { assignments } = await readAssignments(store, count);
        const result: string[] = [];
        for (let c = 0; c < count; c++) {
          const owner = await readContainerOwner(store, c);
          const ownerText = owner === undefined ? "- - epoch -" : `${owner.store} tcp://${owner.host}:${owner.port} epoch ${owner.epoch}`;
          result.push(`container ${c} assigned-to ${assignments.get(c) ?? "-"} owner ${ownerText}`);
        }
        return result;
      }, "read");
      for (const line of lines) out(line);
      return;
    }
    default:
      throw new InvalidArgumentError(`unknown command: sluice container ${verb ?? ""}; use assign or list (see sluice container --help)`);
  }
}

/**
 * The client-side commands of `sluice`: scopes, streams, write and read. Each connects to the
 * controller given by --controller (or SLUICE_CONTROLLER), does one thing and exits.
 */
import { createInterface } from "node:readline";
import { parseConfig, type OptionSpecs, InvalidArgumentError, streamSegmentsMax } from "../common/index.js";
import { Sluice } from "../client/index.js";

const controllerOption = {
  controller: { kind: "string", default: "tcp://127.0.0.1:9090", help: "controller URI" },
} satisfies OptionSpecs;

const streamCreateOptions = {
  ...controllerOption,
  segments: { kind: "int", default: 1, min: 1, max: streamSegmentsMax, help: "fixed number of segments" },
} satisfies OptionSpecs;

const writeOptions = {
  ...controllerOption,
  key: { kind: "string", default: "", help: "routing key (default: none, events spread over segments)" },
} satisfies OptionSpecs;

const readOptions = {
  ...controllerOption,
  count: { kind: "int", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, help: "stop after N events (0: all)" },
  from: { kind: "string", default: "head", help: "where to start: head", pattern: /^head$/, patternHelp: "only head is supported so far" },
} satisfies OptionSpecs;

function one(positionals: string[], what: string): string {
  const v = positionals[0];
  if (v === undefined || positionals.length !== 1) throw new InvalidArgumentError(`expected exactly one ${what}`);
  return v;
}

async function withClient<T>(uri: string, fn: (s: Sluice) => Promise<T>): Promise<T> {
  const sluice = await Sluice.connect(uri);
  try {
    return await fn(sluice);
  } finally {
    await sluice.close();
  }
}

function out(line: string): void {
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
    default:
      throw new InvalidArgumentError(`unknown command: sluice scope ${verb ?? ""}; use create or list`);
  }
}

export async function streamCommand(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case "create": {
      const { config, positionals } = parseConfig(streamCreateOptions, rest);
      const stream = one(positionals, "stream (scope/stream)");
      const created = await withClient(config.controller, (s) =>
        s.admin.createStream(stream, { scaling: { type: "fixed", minSegments: config.segments } }),
      );
      out(created ? `stream ${stream} created with ${config.segments} segments` : `stream ${stream} exists`);
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
      out(`stream ${info.scope}/${info.stream}: ${info.segments.length} segments, scaling ${info.config.scaling.type.toLowerCase()}(${info.config.scaling.minSegments})`);
      for (const s of info.segments) {
        const r = info.ranges.find((x) => x.segment === s.segment);
        out(`  ${s.segment}  keys [${s.keyStart.toFixed(4)}, ${s.keyEnd.toFixed(4)})  bytes ${r?.startOffset ?? 0}..${r?.endOffset ?? 0}`);
      }
      return;
    }
    default:
      throw new InvalidArgumentError(`unknown command: sluice stream ${verb ?? ""}; use create, list or info`);
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

/** `sluice read STREAM [--count N]`: prints every event, one per line, segment by segment. */
export async function readCommand(argv: string[]): Promise<void> {
  const { config, positionals } = parseConfig(readOptions, argv);
  const stream = one(positionals, "stream (scope/stream)");
  await withClient(config.controller, async (s) => {
    let n = 0;
    for (const range of await s.batch.segments(stream)) {
      for await (const event of s.batch.read(range)) {
        out(Buffer.from(event.data).toString("utf8"));
        if (config.count > 0 && ++n >= config.count) return;
      }
    }
  });
}

/**
 * Benchmark workloads in OpenMessaging Benchmark's YAML format (same field names, same meaning), so
 * figures can be set beside OMB results for other systems. A workload is parsed and validated once,
 * up front: every bad value raises INVALID_CONFIG naming the file, the field, the value and what is
 * allowed, before any process is started.
 */
import { readFile, stat } from "node:fs/promises";
import { parseDocument } from "yaml";
import { InvalidConfigError } from "../../common/index.js";
import {
  consumerBacklogGBMax,
  consumersPerSubscriptionMax,
  consumersTotalMax,
  messageBytesMax,
  partitionsPerTopicMax,
  partitionsTotalMax,
  payloadFilePathCharsMax,
  payloadPoolBytesMax,
  payloadPoolSizeMax,
  producerRateMax,
  producersPerTopicMax,
  producersTotalMax,
  subscriptionsPerTopicMax,
  testDurationMinutesMax,
  topicsMax,
  warmupDurationMinutesMax,
  workloadFileBytesMax,
  workloadNameCharsMax,
} from "./limits.js";

export const keyDistributors = ["NO_KEY", "KEY_ROUND_ROBIN", "RANDOM_NANO"] as const;
/** How producers pick message keys: none, a rotating set, or a fresh random key per message. */
export type KeyDistributor = (typeof keyDistributors)[number];

export interface Workload {
  readonly name: string;
  readonly topics: number;
  readonly partitionsPerTopic: number;
  readonly messageSize: number;
  /** A file whose bytes are every message's payload, as written in the workload. Absent: randomized. */
  readonly payloadFile?: string;
  readonly useRandomizedPayloads?: boolean;
  /** Share of each randomized payload that is random (the rest is zeros), in [0, 1]. */
  readonly randomBytesRatio?: number;
  readonly randomizedPayloadPoolSize?: number;
  readonly keyDistributor: KeyDistributor;
  readonly subscriptionsPerTopic: number;
  readonly consumerPerSubscription: number;
  readonly producersPerTopic: number;
  /** Messages per second over all producers; 0 asks the harness to search for the highest sustainable rate. */
  readonly producerRate: number;
  /** Backlog (GB, 10^9 bytes) built while consumers are held back, then drained; 0 for none. */
  readonly consumerBacklogSizeGB: number;
  readonly testDurationMinutes: number;
  readonly warmupDurationMinutes: number;
}

/** Every field a workload may have. A Record over the keys, so a new Workload field cannot be left out. */
const knownFields: Record<keyof Workload, true> = {
  name: true,
  topics: true,
  partitionsPerTopic: true,
  messageSize: true,
  payloadFile: true,
  useRandomizedPayloads: true,
  randomBytesRatio: true,
  randomizedPayloadPoolSize: true,
  keyDistributor: true,
  subscriptionsPerTopic: true,
  consumerPerSubscription: true,
  producersPerTopic: true,
  producerRate: true,
  consumerBacklogSizeGB: true,
  testDurationMinutes: true,
  warmupDurationMinutes: true,
};

const msPerMinute = 60_000;
/** A `--duration` override shortens the warm-up to at most this share of the test. */
const warmupShareOfOverrideMax = 0.1;

/** Reads typed fields out of a parsed YAML mapping; each failure names the source and the field. */
class FieldReader {
  constructor(
    private readonly source: string,
    private readonly raw: Readonly<Record<string, unknown>>,
  ) {}

  fail(field: string, value: unknown, allowed: string): never {
    throw new InvalidConfigError(`${this.source}: ${field}: ${show(value)} is not ${allowed}`);
  }

  private required(field: keyof Workload, allowed: string): unknown {
    const value = this.raw[field];
    if (value === undefined) throw new InvalidConfigError(`${this.source}: ${field} is missing; it must be ${allowed}`);
    return value;
  }

  int(field: keyof Workload, min: number, max: number, fallback?: number): number {
    const allowed = `an integer in [${min}, ${max}]`;
    const value = fallback !== undefined && this.raw[field] === undefined ? fallback : this.required(field, allowed);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) this.fail(field, value, allowed);
    return value;
  }

  /** A number in [min, max], or in (min, max] when `minExclusive`. */
  number(field: keyof Workload, min: number, max: number, opts: { fallback?: number; minExclusive?: boolean } = {}): number {
    const allowed = `a number in ${opts.minExclusive === true ? "(" : "["}${min}, ${max}]`;
    const value = opts.fallback !== undefined && this.raw[field] === undefined ? opts.fallback : this.required(field, allowed);
    if (typeof value !== "number" || !Number.isFinite(value) || value > max) this.fail(field, value, allowed);
    if (opts.minExclusive === true ? value <= min : value < min) this.fail(field, value, allowed);
    return value;
  }

  string(field: keyof Workload, maxChars: number): string {
    const allowed = `a non-empty string of at most ${maxChars} characters`;
    const value = this.required(field, allowed);
    if (typeof value !== "string" || value.trim() === "" || value.length > maxChars) this.fail(field, value, allowed);
    return value;
  }

  oneOf<T extends string>(field: keyof Workload, values: readonly T[], fallback: T): T {
    const raw = this.raw[field];
    const value = raw === undefined ? fallback : raw;
    const found = values.find((v) => v === value);
    if (found === undefined) this.fail(field, value, `one of ${values.join(", ")}`);
    return found;
  }

  has(field: keyof Workload): boolean {
    return this.raw[field] !== undefined;
  }

  bool(field: keyof Workload): boolean {
    const value = this.raw[field];
    if (typeof value !== "boolean") this.fail(field, value, "true or false");
    return value;
  }
}

/** The value as written, near enough: JSON, except that JSON would print Infinity and NaN as null. */
function show(value: unknown): string {
  if (value === undefined || typeof value === "number") return String(value);
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses one workload. `source` names the text in errors (usually its path). Unknown fields are
 * rejected, so a misspelt field is an error rather than a silent default.
 */
export function parseWorkload(text: string, source: string): Workload {
  if (text.length > workloadFileBytesMax) {
    throw new InvalidConfigError(`${source}: ${text.length} characters is more than a workload may hold (${workloadFileBytesMax})`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) throw new InvalidConfigError(`${source}: not valid YAML: ${yamlError.message}`, { cause: yamlError });
  const raw: unknown = doc.toJS();
  if (!isRecord(raw)) throw new InvalidConfigError(`${source}: a workload must be a YAML mapping of fields, not ${show(raw)}`);
  const known = Object.keys(knownFields);
  for (const field of Object.keys(raw)) {
    if (!Object.hasOwn(knownFields, field)) {
      throw new InvalidConfigError(`${source}: unknown field ${JSON.stringify(field)}; known fields: ${known.join(", ")}`);
    }
  }

  const r = new FieldReader(source, raw);
  const name = r.string("name", workloadNameCharsMax);
  const topics = r.int("topics", 1, topicsMax);
  const partitionsPerTopic = r.int("partitionsPerTopic", 1, partitionsPerTopicMax);
  const messageSize = r.int("messageSize", 1, messageBytesMax);
  const keyDistributor = r.oneOf("keyDistributor", keyDistributors, "NO_KEY");
  const subscriptionsPerTopic = r.int("subscriptionsPerTopic", 0, subscriptionsPerTopicMax);
  const consumerPerSubscription = r.int("consumerPerSubscription", 0, consumersPerSubscriptionMax);
  const producersPerTopic = r.int("producersPerTopic", 1, producersPerTopicMax);
  const producerRate = r.number("producerRate", 0, producerRateMax);
  const consumerBacklogSizeGB = r.number("consumerBacklogSizeGB", 0, consumerBacklogGBMax, { fallback: 0 });
  const testDurationMinutes = r.number("testDurationMinutes", 0, testDurationMinutesMax, { minExclusive: true });
  const warmupDurationMinutes = r.number("warmupDurationMinutes", 0, warmupDurationMinutesMax, { fallback: 0 });

  // Cross-field rules: totals across topics, and a payload source that is neither missing nor contradictory.
  if (topics * partitionsPerTopic > partitionsTotalMax) {
    r.fail("partitionsPerTopic", partitionsPerTopic, `at most ${partitionsTotalMax} partitions in all with ${topics} topics`);
  }
  if (topics * producersPerTopic > producersTotalMax) {
    r.fail("producersPerTopic", producersPerTopic, `at most ${producersTotalMax} producers in all with ${topics} topics`);
  }
  const consumers = topics * subscriptionsPerTopic * consumerPerSubscription;
  if (consumers > consumersTotalMax) {
    r.fail("consumerPerSubscription", consumerPerSubscription, `at most ${consumersTotalMax} consumers in all with ${topics} topics of ${subscriptionsPerTopic} subscriptions`);
  }
  if (consumerBacklogSizeGB > 0 && consumers === 0) {
    r.fail("consumerBacklogSizeGB", consumerBacklogSizeGB, "above 0 when no consumer would drain the backlog (subscriptionsPerTopic and consumerPerSubscription must both be >= 1)");
  }

  let workload: Workload = {
    name,
    topics,
    partitionsPerTopic,
    messageSize,
    keyDistributor,
    subscriptionsPerTopic,
    consumerPerSubscription,
    producersPerTopic,
    producerRate,
    consumerBacklogSizeGB,
    testDurationMinutes,
    warmupDurationMinutes,
  };
  if (r.has("payloadFile")) workload = { ...workload, payloadFile: r.string("payloadFile", payloadFilePathCharsMax) };
  if (r.has("useRandomizedPayloads")) workload = { ...workload, useRandomizedPayloads: r.bool("useRandomizedPayloads") };
  if (r.has("randomBytesRatio")) workload = { ...workload, randomBytesRatio: r.number("randomBytesRatio", 0, 1) };
  if (r.has("randomizedPayloadPoolSize")) {
    const poolSize = r.int("randomizedPayloadPoolSize", 1, payloadPoolSizeMax);
    if (poolSize * messageSize > payloadPoolBytesMax) {
      r.fail("randomizedPayloadPoolSize", poolSize, `at most ${Math.floor(payloadPoolBytesMax / messageSize)} (${payloadPoolBytesMax} bytes) with messageSize ${messageSize}`);
    }
    workload = { ...workload, randomizedPayloadPoolSize: poolSize };
  }
  if (workload.payloadFile !== undefined && workload.useRandomizedPayloads === true) {
    r.fail("useRandomizedPayloads", true, "true when payloadFile is given (one payload source, not two)");
  }
  if (workload.payloadFile === undefined && workload.useRandomizedPayloads === false) {
    r.fail("useRandomizedPayloads", false, "false without a payloadFile (there would be no payload source)");
  }
  return workload;
}

/** Reads and parses a workload file; a missing, unreadable or oversized file is INVALID_CONFIG too. */
export async function loadWorkload(path: string): Promise<Workload> {
  let text: string;
  try {
    // Checked before reading, so a wrong path to a large file is not read into memory.
    const { size } = await stat(path);
    if (size > workloadFileBytesMax) {
      throw new InvalidConfigError(`${path}: ${size} bytes is more than a workload may hold (${workloadFileBytesMax})`);
    }
    text = await readFile(path, "utf8");
  } catch (err: unknown) {
    if (err instanceof InvalidConfigError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidConfigError(`${path}: cannot read workload: ${reason}`, { cause: err });
  }
  return parseWorkload(text, path);
}

const durationUnitsMs = { ms: 1, s: 1000, m: msPerMinute } as const;

/**
 * Parses a duration such as "500ms", "20s" or "2m" into milliseconds. It must be a positive whole
 * number of its unit and no longer than the longest test; `name` is what the error calls it.
 */
export function parseDuration(text: string, name = "--duration"): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text.trim());
  const maxMs = testDurationMinutesMax * msPerMinute;
  const allowed = `a whole number followed by ms, s or m (e.g. 500ms, 20s, 2m), above 0 and at most ${testDurationMinutesMax}m`;
  if (m === null) throw new InvalidConfigError(`${name}: ${JSON.stringify(text)} is not ${allowed}`);
  const [, count = "", unit = "ms"] = m;
  const ms = Number(count) * durationUnitsMs[unit as keyof typeof durationUnitsMs];
  if (!(ms > 0 && ms <= maxMs)) throw new InvalidConfigError(`${name}: ${JSON.stringify(text)} is not ${allowed}`);
  return ms;
}

/**
 * The workload with its test duration replaced by `durationMs` (a `--duration` override, for short
 * runs). The warm-up is cut to at most a tenth of the new duration, so a short run is not mostly warm-up.
 */
export function withDuration(workload: Workload, durationMs: number): Workload {
  const maxMs = testDurationMinutesMax * msPerMinute;
  if (!(Number.isFinite(durationMs) && durationMs > 0 && durationMs <= maxMs)) {
    throw new InvalidConfigError(`duration: ${durationMs} ms is not in (0, ${maxMs}] ms`);
  }
  const testDurationMinutes = durationMs / msPerMinute;
  const warmupDurationMinutes = Math.min(workload.warmupDurationMinutes, testDurationMinutes * warmupShareOfOverrideMax);
  return { ...workload, testDurationMinutes, warmupDurationMinutes };
}

/** Fields `perf:compare` may override from its command line (`--producers`, `--consumers`, `--rate`). */
export type WorkloadOverrides = Partial<Pick<Workload, "producersPerTopic" | "consumerPerSubscription" | "producerRate">>;

/**
 * The workload with some fields replaced, checked by the same rules as a file (JSON is YAML), so an
 * override out of range raises INVALID_CONFIG naming the field, as a bad file would.
 */
export function withOverrides(workload: Workload, overrides: WorkloadOverrides, source: string): Workload {
  return parseWorkload(JSON.stringify({ ...workload, ...overrides }), source);
}

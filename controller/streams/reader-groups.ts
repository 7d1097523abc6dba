/**
 * Reader-group configs, kept in the MetadataStore under `readergroups/<scope>/<group>` (JSON: the
 * config, a generation that each update raises by one, and the creation time). The group's live
 * state (which reader holds which segment, checkpoints) is not here: readers keep it in a segment
 * of their own with conditional appends. An update names the generation it read, so two admins
 * editing one group cannot overwrite each other unknowingly.
 */
import { ConditionalCheckFailedError, InvalidArgumentError, NoSuchReaderGroupError, ReaderGroupExistsError, readerGroupStreamsMax, parseStreamName, validateName, type Clock } from "../../common/index.js";
import type { ReaderGroupConfig, StreamCut } from "../../proto/index.js";
import type { MetadataStore } from "../store/index.js";

/** Longest automatic checkpoint interval a group may ask for. */
const checkpointIntervalMsMax = 24 * 60 * 60 * 1000;

interface ReaderGroupRecord {
  config: ReaderGroupConfig;
  generation: number;
  createdAtMs: number;
}

export interface ReaderGroupChecks {
  /** Raises NO_SUCH_SCOPE unless the scope exists. */
  checkScope(scope: string): Promise<void>;
  /** Raises NO_SUCH_STREAM unless `scope/stream` exists, INVALID_ARGUMENT for a cut that is not one of it. */
  checkStream(scope: string, stream: string, cuts: readonly StreamCut[]): Promise<void>;
}

export const readerGroupPrefix = (scope: string) => `readergroups/${scope}/`;
const groupKey = (scope: string, group: string) => `${readerGroupPrefix(scope)}${group}`;

export class ReaderGroups {
  constructor(
    private readonly store: MetadataStore,
    private readonly checks: ReaderGroupChecks,
    private readonly clock: Clock,
  ) {}

  /** Creates the group; false (and the stored generation) if it exists with the same config. Raises READER_GROUP_EXISTS for another config. */
  async create(scope: string, group: string, config: ReaderGroupConfig | undefined): Promise<{ created: boolean; generation: number }> {
    const checked = await this.validate(scope, group, config);
    const record: ReaderGroupRecord = { config: checked, generation: 1, createdAtMs: this.clock.nowMs() };
    try {
      await this.store.compareAndSet(groupKey(scope, group), 0, encode(record));
      return { created: true, generation: 1 };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
    const existing = await this.read(scope, group);
    if (JSON.stringify(existing.record.config) === JSON.stringify(checked)) return { created: false, generation: existing.record.generation };
    throw new ReaderGroupExistsError(`reader group ${scope}/${group} exists with another config; update it (generation ${existing.record.generation}) or pick another name`);
  }

  /** The group's config and generation. Raises NO_SUCH_READER_GROUP. */
  async get(scope: string, group: string): Promise<{ config: ReaderGroupConfig; generation: number }> {
    validateName("scope", scope);
    validateName("reader group", group);
    const { record } = await this.read(scope, group);
    return { config: record.config, generation: record.generation };
  }

  /** Replaces the config if the group is still at `expectedGeneration`; resolves with the new generation. Raises CONDITIONAL_CHECK_FAILED, NO_SUCH_READER_GROUP. */
  async update(scope: string, group: string, config: ReaderGroupConfig | undefined, expectedGeneration: number): Promise<number> {
    const checked = await this.validate(scope, group, config);
    const { record, version } = await this.read(scope, group);
    if (record.generation !== expectedGeneration) {
      throw new ConditionalCheckFailedError(`reader group ${scope}/${group} is at generation ${record.generation}, not ${expectedGeneration}: read it again and retry`);
    }
    const next: ReaderGroupRecord = { ...record, config: checked, generation: record.generation + 1 };
    try {
      await this.store.compareAndSet(groupKey(scope, group), version, encode(next));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedError) {
        throw new ConditionalCheckFailedError(`reader group ${scope}/${group} changed while it was updated: read it again and retry`, { cause: err });
      }
      throw err;
    }
    return next.generation;
  }

  /** Deletes the group's config; false if there was none. */
  async delete(scope: string, group: string): Promise<boolean> {
    validateName("scope", scope);
    validateName("reader group", group);
    return this.store.delete(groupKey(scope, group));
  }

  private async read(scope: string, group: string): Promise<{ record: ReaderGroupRecord; version: number }> {
    const kv = await this.store.get(groupKey(scope, group));
    if (kv === undefined) throw new NoSuchReaderGroupError(`reader group ${scope}/${group} does not exist`);
    return { record: JSON.parse(kv.value.toString("utf8")) as ReaderGroupRecord, version: kv.version };
  }

  private async validate(scope: string, group: string, config: ReaderGroupConfig | undefined): Promise<ReaderGroupConfig> {
    validateName("scope", scope);
    validateName("reader group", group);
    if (config === undefined) throw new InvalidArgumentError(`reader group ${scope}/${group} needs a config naming at least one stream`);
    const n = config.streams.length;
    if (n < 1 || n > readerGroupStreamsMax) throw new InvalidArgumentError(`a reader group reads 1 to ${readerGroupStreamsMax} streams, not ${n}`);
    const interval = config.checkpointIntervalMs;
    if (!Number.isInteger(interval) || interval < 0 || interval > checkpointIntervalMsMax) {
      throw new InvalidArgumentError(`checkpointIntervalMs must be an integer in [0, ${checkpointIntervalMsMax}] (0: no automatic checkpoints), got ${interval}`);
    }
    await this.checks.checkScope(scope);
    const seen = new Set<string>();
    for (const s of config.streams) {
      const name = parseStreamName(s.stream);
      if (seen.has(s.stream)) throw new InvalidArgumentError(`stream ${s.stream} is named twice in reader group ${scope}/${group}`);
      seen.add(s.stream);
      const cuts = [s.from, s.to].filter((c): c is StreamCut => c !== undefined && c.positions.length > 0);
      await this.checks.checkStream(name.scope, name.stream, cuts);
    }
    // Store a canonical form: empty cuts are absent.
    return {
      streams: config.streams.map((s) => ({
        stream: s.stream,
        ...(s.from !== undefined && s.from.positions.length > 0 ? { from: s.from } : {}),
        ...(s.to !== undefined && s.to.positions.length > 0 ? { to: s.to } : {}),
      })),
      checkpointIntervalMs: interval,
    };
  }
}

function encode(record: ReaderGroupRecord): Buffer {
  return Buffer.from(JSON.stringify(record), "utf8");
}


/**
 * Scopes and streams, kept in the MetadataStore. Key layout:
 *   scopes/<scope>                 -> ScopeRecord (JSON)
 *   streams/<scope>/<stream>       -> StreamRecord (JSON)
 * A stream is created in two steps so that a crash between them is repaired by a retry: the record
 * is written in state "creating", its segments are created on the segment stores, then the record
 * is moved to "active" by compare-and-set. Only active streams are visible to readers and writers.
 */
import { assert, containerOf, InvalidArgumentError, NoSuchScopeError, NoSuchStreamError, ConditionalCheckFailedError, streamSegmentsMax, segmentName, parseSegmentName, validateName } from "../../common/index.js";
import type { Clock } from "../../common/index.js";
import type { SegmentRange, StreamConfig, GetStreamResponse } from "../../proto/index.js";
import { listAll, readContainerOwner, type MetadataStore } from "../store/index.js";
import type { Endpoint } from "./segment-helper.js";

interface ScopeRecord {
  createdAtMs: number;
}

interface StreamRecord {
  state: "creating" | "active";
  config: StreamConfig;
  epoch: number;
  segments: { number: number; epoch: number; keyStart: number; keyEnd: number }[];
  createdAtMs: number;
}

/**
 * Where segments live. A container's recorded owner (`cluster/owners/<c>`, written by the segment
 * store that took it over) always wins; `endpointOfContainer` answers for a container nobody has
 * recorded yet (standalone: the one segment store).
 */
export interface SegmentPlacement {
  readonly containerCount: number;
  endpointOfContainer(container: number): Endpoint | Promise<Endpoint>;
}

export interface SegmentCreator {
  createSegment(endpoint: Endpoint, segment: string): Promise<void>;
}

const scopeKey = (scope: string) => `scopes/${scope}`;
const streamKey = (scope: string, stream: string) => `streams/${scope}/${stream}`;

function encode(value: ScopeRecord | StreamRecord): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

export class StreamMetadata {
  constructor(
    private readonly store: MetadataStore,
    private readonly placement: SegmentPlacement,
    private readonly segments: SegmentCreator,
    private readonly clock: Clock,
  ) {}

  /** Creates a scope; false if it exists already. Raises INVALID_NAME. */
  async createScope(scope: string): Promise<boolean> {
    validateName("scope", scope);
    try {
      await this.store.compareAndSet(scopeKey(scope), 0, encode({ createdAtMs: this.clock.nowMs() }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedError) return false;
      throw err;
    }
  }

  async listScopes(): Promise<string[]> {
    return (await listAll(this.store, "scopes/")).map((v) => v.key.slice("scopes/".length));
  }

  /**
   * Creates a stream with `config.scaling.minSegments` segments splitting [0, 1) evenly; false if an
   * active stream of that name exists. Raises INVALID_NAME, INVALID_ARGUMENT, NO_SUCH_SCOPE.
   */
  async createStream(scope: string, stream: string, config: StreamConfig): Promise<boolean> {
    validateName("scope", scope);
    validateName("stream", stream);
    const count = config.scaling.minSegments;
    if (config.scaling.type !== "FIXED") {
      throw new InvalidArgumentError(`scaling type ${config.scaling.type} is not supported yet; use FIXED`);
    }
    if (!Number.isInteger(count) || count < 1 || count > streamSegmentsMax) {
      throw new InvalidArgumentError(`scaling.minSegments must be an integer in [1, ${streamSegmentsMax}], got ${count}`);
    }
    if ((await this.store.get(scopeKey(scope))) === undefined) throw new NoSuchScopeError(`scope ${scope} does not exist`);

    const key = streamKey(scope, stream);
    let existing = await this.store.get(key);
    if (existing === undefined) {
      const record: StreamRecord = {
        state: "creating",
        config: { scaling: { type: "FIXED", minSegments: count } },
        epoch: 0,
        segments: Array.from({ length: count }, (_, i) => ({
          number: i,
          epoch: 0,
          keyStart: i / count,
          keyEnd: i + 1 === count ? 1 : (i + 1) / count,
        })),
        createdAtMs: this.clock.nowMs(),
      };
      try {
        await this.store.compareAndSet(key, 0, encode(record));
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedError)) throw err;
      }
      existing = await this.store.get(key);
      assert(existing !== undefined, "stream record written");
    }
    const record = JSON.parse(existing.value.toString("utf8")) as StreamRecord;
    if (record.state === "active") return false;
    // Finish creation (ours, or one a crashed controller started): create every segment, then activate.
    for (const s of record.segments) {
      const name = segmentName(scope, stream, s.number, s.epoch);
      await this.segments.createSegment(await this.endpointOf(name), name);
    }
    try {
      await this.store.compareAndSet(key, existing.version, encode({ ...record, state: "active" }));
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
      // Another call activated it concurrently; the stream exists either way.
    }
    return true;
  }

  /** Names of the active streams of a scope. Raises NO_SUCH_SCOPE. */
  async listStreams(scope: string): Promise<string[]> {
    validateName("scope", scope);
    if ((await this.store.get(scopeKey(scope))) === undefined) throw new NoSuchScopeError(`scope ${scope} does not exist`);
    const prefix = `streams/${scope}/`;
    const out: string[] = [];
    for (const v of await listAll(this.store, prefix)) {
      const record = JSON.parse(v.value.toString("utf8")) as StreamRecord;
      if (record.state === "active") out.push(v.key.slice(prefix.length));
    }
    return out;
  }

  /** The stream's config and current segments. Raises NO_SUCH_STREAM. */
  async getStream(scope: string, stream: string): Promise<GetStreamResponse> {
    const record = await this.activeStream(scope, stream);
    return {
      scope,
      stream,
      config: record.config,
      epoch: record.epoch,
      segments: this.ranges(scope, stream, record),
      createdAtMs: record.createdAtMs,
    };
  }

  async currentSegments(scope: string, stream: string): Promise<SegmentRange[]> {
    return this.ranges(scope, stream, await this.activeStream(scope, stream));
  }

  /**
   * The segment store serving `segment` now: the recorded owner of its container, else the
   * placement's fallback. Raises INVALID_NAME, DATA_CORRUPTION (an owner record that does not
   * parse), and the metadata store's errors.
   */
  async endpointOf(segment: string): Promise<Endpoint & { container: number }> {
    parseSegmentName(segment);
    const container = containerOf(segment, this.placement.containerCount);
    const owner = await readContainerOwner(this.store, container);
    if (owner !== undefined) return { host: owner.host, port: owner.port, container };
    const fallback = await this.placement.endpointOfContainer(container);
    return { host: fallback.host, port: fallback.port, container };
  }

  private ranges(scope: string, stream: string, record: StreamRecord): SegmentRange[] {
    return record.segments.map((s) => ({ segment: segmentName(scope, stream, s.number, s.epoch), ...s }));
  }

  private async activeStream(scope: string, stream: string): Promise<StreamRecord> {
    validateName("scope", scope);
    validateName("stream", stream);
    const v = await this.store.get(streamKey(scope, stream));
    const record = v === undefined ? undefined : (JSON.parse(v.value.toString("utf8")) as StreamRecord);
    if (record?.state !== "active") throw new NoSuchStreamError(`stream ${scope}/${stream} does not exist`);
    return record;
  }
}

/**
 * The Sluice client SDK (`sluice/client`).
 *
 * ```ts
 * const sluice = await Sluice.connect("tcp://127.0.0.1:9090");
 * await sluice.admin.createScope("shop");
 * await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 4 } });
 * const writer = sluice.writer("shop/orders");
 * await writer.write("hello", { routingKey: "customer-17" });
 * for (const range of await sluice.batch.segments("shop/orders"))
 *   for await (const event of sluice.batch.read(range)) console.log(event.offset, event.data);
 * await sluice.close();
 * ```
 */
import { LRUCache } from "lru-cache";
import { InvalidArgumentError, endpointsCachedMax, parseSegmentName, parseStreamName } from "../common/index.js";
import { ConnectionPool, type WireConnection } from "../proto/index.js";
import type { SegmentRange } from "../proto/index.js";
import { Admin } from "./admin/admin.js";
import { BatchClient } from "./batch/batch-client.js";
import { checkTier2Access, type Tier2Access } from "./batch/tier2-reader.js";
import { ControllerClient } from "./controller/controller-client.js";
import { EventWriter } from "./writer/event-writer.js";
import { TransactionalWriter } from "./writer/transactional-writer.js";
import type { ConnectOptions } from "./connection/segment-retry.js";
import { SegmentReader, type SegmentReaderOptions } from "./reader/segment-reader.js";
import { ReaderGroup, type ReaderGroupOptions } from "./reader/reader-group.js";

export { Admin, type StreamOptions, type ScalingOptions, type RetentionOptions } from "./admin/admin.js";
export { TransactionalWriter, Transaction, type TransactionOptions } from "./writer/transactional-writer.js";
export type { StreamCut, SegmentOffset, SegmentRange, GetStreamResponse, KeyRange, TxnState } from "../proto/index.js";
export { BatchClient, type SegmentRangeToRead, type SegmentsOptions, type BatchReadStats } from "./batch/batch-client.js";
export type { Tier2Access } from "./batch/tier2-reader.js";
export { streamCutToText, streamCutFromText, streamCutToBytes, streamCutFromBytes, streamOfCut } from "./stream-cut.js";
export { SegmentReader, type Event, type SegmentReaderOptions } from "./reader/segment-reader.js";
export { ReaderGroup, type ReaderGroupOptions, type CheckpointOptions } from "./reader/reader-group.js";
export { EventReader, type ReadItem, type ReadNextOptions, type ReaderOptions } from "./reader/event-reader.js";
export type { Checkpoint } from "./reader/group-state.js";
export { EventWriter, type WriteOptions } from "./writer/event-writer.js";
// Every error a client call can raise, with its stable code.
export {
  SluiceError,
  InternalError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidNameError,
  NoSuchScopeError,
  NoSuchStreamError,
  NoSuchSegmentError,
  ScopeExistsError,
  StreamExistsError,
  SegmentExistsError,
  ScopeNotEmptyError,
  WrongHostError,
  SegmentSealedError,
  SegmentTruncatedError,
  ConditionalCheckFailedError,
  InvalidEventNumberError,
  AuthFailedError,
  WriterNotSetUpError,
  ContainerNotReadyError,
  MalformedFrameError,
  FrameTooLargeError,
  UnknownFrameTypeError,
  UnsupportedVersionError,
  InvalidEventsError,
  EventTooLargeError,
  OverloadedError,
  StorageFullError,
  TimeoutError,
  ConnectionClosedError,
  UnavailableError,
  ClosedError,
  DataCorruptionError,
  NoSuchTransactionError,
  TransactionClosedError,
  StreamSealedError,
  StreamNotSealedError,
  NoSuchReaderGroupError,
  ReaderGroupExistsError,
} from "../common/index.js";
export type { ErrorCode } from "../common/index.js";

/** Parses `tcp://host:port[,tcp://host:port...]` (the controllers' gRPC addresses). */
function parseControllerUri(uri: string): string[] {
  return uri.split(",").map((one) => {
    const m = /^tcp:\/\/([^:/]+):(\d{1,5})\/?$/.exec(one);
    if (m === null || Number(m[2]) > 65535) {
      throw new InvalidArgumentError(`controller URI ${JSON.stringify(one)} is not valid: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:9090 (several: comma-separated)`);
    }
    return `${m[1]}:${m[2]}`;
  });
}

export class Sluice {
  readonly admin: Admin;
  readonly batch: BatchClient;
  private readonly pool = new ConnectionPool();
  private readonly writers = new Set<EventWriter>();
  /** Reader groups opened through this client and not yet closed (closed with it). */
  private readonly groups = new Set<ReaderGroup>();
  /**
   * Endpoints by segment, as the controller last answered. A segment moves when its container is
   * handed to another store; readers and writers then connect with `refresh` (after WRONG_HOST,
   * CONTAINER_NOT_READY or a lost connection), which asks the controller again.
   */
  private readonly endpoints = new LRUCache<string, EndpointLookup>({ max: endpointsCachedMax });

  private constructor(
    private readonly controller: ControllerClient,
    options: { tier2?: Tier2Access } = {},
  ) {
    this.admin = new Admin(controller);
    this.batch = new BatchClient(
      {
        segmentsBetween: async (stream, from, to) => {
          const { scope, stream: name } = parseStreamName(stream);
          const bounds = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
          return (await this.controller.call("GetSegmentsBetween", { scope, stream: name, ...bounds })).segments;
        },
        connect: (segment, options) => this.connect(segment, options),
      },
      options.tier2,
    );
  }

  /**
   * Connects to the controller at `uri` (`tcp://HOST:PORT`, or several comma-separated) and checks
   * that one answers. With `options.tier2` (the S3 endpoint, bucket, prefix and credentials the
   * segment stores tier to), batch reads take bytes already in Tier-2 straight from the object
   * store. Raises INVALID_ARGUMENT for a bad URI or option.
   */
  static async connect(uri: string, options: { tier2?: Tier2Access } = {}): Promise<Sluice> {
    // Checked before anything connects, so a bad option leaves nothing open.
    if (options.tier2 !== undefined) checkTier2Access(options.tier2);
    const controller = new ControllerClient(parseControllerUri(uri));
    try {
      await controller.call("ListScopes", {}, 10_000);
    } catch (err) {
      controller.close();
      throw err;
    }
    return new Sluice(controller, options);
  }

  /** A writer for `scope/stream`. Raises INVALID_NAME. */
  writer(stream: string): EventWriter {
    const { scope, stream: name } = parseStreamName(stream);
    const w: EventWriter = new EventWriter(stream, {
      currentSegments: () => this.currentSegments(stream),
      connect: (segment, options) => this.connect(segment, options),
      // A writer follows scaling: the segments that replaced a sealed one, with their key ranges.
      successors: async (segment) => {
        const r = await this.controller.call("GetSuccessors", { segment });
        return r.successors.flatMap((s) => (s.range === undefined ? [] : [s.range]));
      },
      streamSealed: async () => (await this.controller.call("GetStream", { scope, stream: name })).sealed,
      closed: () => {
        this.writers.delete(w);
      },
    });
    this.writers.add(w);
    return w;
  }

  /** A writer of transactions on `scope/stream`. Raises INVALID_NAME. */
  transactionalWriter(stream: string): TransactionalWriter {
    return new TransactionalWriter(stream, {
      call: (method, request) => this.controller.call(method, request),
      connect: (segment, options) => this.connect(segment, options),
    });
  }

  /**
   * A reader of one segment from `options.offset`: up to `options.endOffset`, or following the
   * tail with long-poll reads (`waitMs`). The low-level API under reader groups and the batch reader.
   * Raises INVALID_NAME, INVALID_ARGUMENT.
   */
  segmentReader(segment: string, options: SegmentReaderOptions = {}): SegmentReader {
    parseSegmentName(segment);
    return new SegmentReader(segment, (s, connectOptions) => this.connect(s, connectOptions), options);
  }

  /**
   * Opens reader group `scope/group` (see client/reader/reader-group.ts). With `config` the group is
   * created if absent (`from` defaults to each stream's head) or else opened as it is; without, it
   * must exist. `close()` of this client closes it (its readers leave the group first). Raises INVALID_NAME,
   * INVALID_ARGUMENT, NO_SUCH_SCOPE, NO_SUCH_STREAM, NO_SUCH_READER_GROUP, READER_GROUP_EXISTS
   * (it exists reading other streams: delete it, or open it without a config and use resetTo).
   */
  async readerGroup(name: string, config?: ReaderGroupOptions): Promise<ReaderGroup> {
    const group = await ReaderGroup.open(name, config, {
      call: (method, request) => this.controller.call(method, request),
      connect: (s, o) => this.connect(s, o),
      closed: (g) => this.groups.delete(g as ReaderGroup),
    });
    this.groups.add(group);
    return group;
  }

  /** Deletes reader group `scope/group` (its state and config); false if there was none. Its readers then fail NO_SUCH_READER_GROUP. */
  deleteReaderGroup(name: string): Promise<boolean> {
    return ReaderGroup.delete(name, { call: (method, request) => this.controller.call(method, request), connect: (s, o) => this.connect(s, o) });
  }

  /** Closes every writer (flushing it), every reader group (its readers leave it) and every connection. */
  async close(): Promise<void> {
    // Readers leave their groups (recording their positions) while the connections are still up.
    const results = await Promise.allSettled([...[...this.writers].map((w) => w.close()), ...[...this.groups].map((g) => g.close())]);
    this.writers.clear();
    this.groups.clear();
    this.batch.close();
    await this.pool.close();
    this.controller.close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  private async currentSegments(stream: string): Promise<SegmentRange[]> {
    const { scope, stream: name } = parseStreamName(stream);
    return (await this.controller.call("GetCurrentSegments", { scope, stream: name })).segments;
  }

  /**
   * A connection to the store serving `segment`. With `refresh` the cached endpoint is dropped and
   * the controller asked again, unless a lookup is already under way (it is as fresh, and many
   * readers and writers of one segment refreshing at once then ask once).
   */
  private async connect(segment: string, options: ConnectOptions = {}): Promise<WireConnection> {
    let lookup = this.endpoints.get(segment);
    if (lookup === undefined || (options.refresh === true && lookup.settled)) {
      const entry: EndpointLookup = {
        settled: false,
        endpoint: this.controller.call("GetSegmentEndpoint", { segment }).then((r) => ({ host: r.host, port: r.port })),
      };
      entry.endpoint.then(
        () => (entry.settled = true),
        () => {
          entry.settled = true;
          if (this.endpoints.get(segment) === entry) this.endpoints.delete(segment);
        },
      );
      this.endpoints.set(segment, entry);
      lookup = entry;
    }
    return this.pool.get(await lookup.endpoint);
  }
}

interface EndpointLookup {
  endpoint: Promise<{ host: string; port: number }>;
  /** The controller has answered (or failed); a refresh then asks again. */
  settled: boolean;
}

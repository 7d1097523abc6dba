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
import { ControllerClient } from "./controller/controller-client.js";
import { EventWriter } from "./writer/event-writer.js";
import { SegmentReader, type SegmentReaderOptions } from "./reader/segment-reader.js";

export { Admin, type StreamOptions } from "./admin/admin.js";
export { BatchClient, type SegmentRangeToRead } from "./batch/batch-client.js";
export { SegmentReader, type Event, type SegmentReaderOptions } from "./reader/segment-reader.js";
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
} from "../common/index.js";
export type { ErrorCode } from "../common/index.js";

/** Parses `tcp://host:port` (the controller's gRPC address). */
function parseControllerUri(uri: string): string {
  const m = /^tcp:\/\/([^:/]+):(\d{1,5})\/?$/.exec(uri);
  if (m === null || Number(m[2]) > 65535) {
    throw new InvalidArgumentError(`controller URI ${JSON.stringify(uri)} is not valid: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:9090`);
  }
  return `${m[1]}:${m[2]}`;
}

export class Sluice {
  readonly admin: Admin;
  readonly batch: BatchClient;
  private readonly pool = new ConnectionPool();
  private readonly writers = new Set<EventWriter>();
  /** Endpoints by segment; segments do not move between stores until placement changes (a later issue). */
  private readonly endpoints = new LRUCache<string, Promise<{ host: string; port: number }>>({ max: endpointsCachedMax });

  private constructor(private readonly controller: ControllerClient) {
    this.admin = new Admin(controller);
    this.batch = new BatchClient({
      currentSegments: (stream) => this.currentSegments(stream),
      connect: (segment) => this.connect(segment),
    });
  }

  /** Connects to the controller at `uri` (`tcp://HOST:PORT`) and checks that it answers. */
  static async connect(uri: string): Promise<Sluice> {
    const controller = new ControllerClient(parseControllerUri(uri));
    try {
      await controller.call("ListScopes", {}, 10_000);
    } catch (err) {
      controller.close();
      throw err;
    }
    return new Sluice(controller);
  }

  /** A writer for `scope/stream`. Raises INVALID_NAME. */
  writer(stream: string): EventWriter {
    parseStreamName(stream);
    const w = new EventWriter(stream, {
      currentSegments: () => this.currentSegments(stream),
      connect: (segment) => this.connect(segment),
      closed: () => this.writers.delete(w),
    });
    this.writers.add(w);
    return w;
  }

  /**
   * A reader of one segment from `options.offset`: up to `options.endOffset`, or following the
   * tail with long-poll reads (`waitMs`). The low-level live-reading API until reader groups come.
   * Raises INVALID_NAME, INVALID_ARGUMENT.
   */
  segmentReader(segment: string, options: SegmentReaderOptions = {}): SegmentReader {
    parseSegmentName(segment);
    return new SegmentReader(segment, (s) => this.connect(s), options);
  }

  /** Closes every writer (flushing it) and every connection. */
  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.writers].map((w) => w.close()));
    this.writers.clear();
    await this.pool.close();
    this.controller.close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  private async currentSegments(stream: string): Promise<SegmentRange[]> {
    const { scope, stream: name } = parseStreamName(stream);
    return (await this.controller.call("GetCurrentSegments", { scope, stream: name })).segments;
  }

  private async connect(segment: string): Promise<WireConnection> {
    let endpoint = this.endpoints.get(segment);
    if (endpoint === undefined) {
      endpoint = this.controller.call("GetSegmentEndpoint", { segment }).then((r) => ({ host: r.host, port: r.port }));
      this.endpoints.set(segment, endpoint);
      endpoint.catch(() => this.endpoints.delete(segment));
    }
    return this.pool.get(await endpoint);
  }
}

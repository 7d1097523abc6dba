/**
 * The controller role: metadata store (embedded or etcd) + stream metadata + gRPC front end. Until
 * placement arrives ([7/8 controller]) it places every container on the one segment store it is given.
 */
import { systemClock, type Clock, logger, InvalidConfigError, ConditionalCheckFailedError } from "../common/index.js";
import { openMetadataStore, type MetadataStore } from "./store/index.js";
import { ControllerGrpcServer } from "./server/grpc-server.js";
import { SegmentHelper, type Endpoint } from "./streams/segment-helper.js";
import { StreamMetadata, type SegmentPlacement } from "./streams/stream-metadata.js";

export * from "./store/index.js";
export { StreamMetadata, type SegmentPlacement } from "./streams/stream-metadata.js";
export type { Endpoint } from "./streams/segment-helper.js";

const log = logger("controller");

export interface ControllerOptions {
  /** Where the metadata lives: file://DIR or etcd://HOST:PORT (see openMetadataStore). */
  metadata: string;
  host: string;
  port: number;
  containerCount: number;
  /** Standalone placement: every container on this segment store. */
  segmentStore: Endpoint;
  clock?: Clock;
}

const containerCountKey = "cluster/containers";

/**
 * The container count is fixed for the life of the metadata: segments are hashed onto containers,
 * so a different count would look for them in the wrong place. The first start records it.
 */
async function checkContainerCount(store: MetadataStore, containerCount: number): Promise<void> {
  const stored = await store.get(containerCountKey);
  if (stored === undefined) {
    try {
      await store.compareAndSet(containerCountKey, 0, Buffer.from(String(containerCount)));
      return;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
      return checkContainerCount(store, containerCount);
    }
  }
  const count = Number(stored.value.toString());
  if (count !== containerCount) {
    throw new InvalidConfigError(`--containers ${containerCount} differs from the ${count} containers this metadata was created with; use ${count}`);
  }
}

export class Controller {
  private constructor(
    private readonly store: MetadataStore,
    private readonly helper: SegmentHelper,
    private readonly server: ControllerGrpcServer,
    readonly streams: StreamMetadata,
    readonly port: number,
  ) {}

  static async start(options: ControllerOptions): Promise<Controller> {
    const store = await openMetadataStore(options.metadata, options.clock === undefined ? {} : { clock: options.clock });
    let server: ControllerGrpcServer | undefined;
    const helper = new SegmentHelper();
    try {
      await checkContainerCount(store, options.containerCount);
      const placement: SegmentPlacement = {
        containerCount: options.containerCount,
        endpointOfContainer: () => options.segmentStore,
      };
      const streams = new StreamMetadata(store, placement, helper, options.clock ?? systemClock);
      server = new ControllerGrpcServer(streams);
      const port = await server.listen(options.host, options.port);
      log.info("controller listening", { host: options.host, port, metadata: options.metadata });
      return new Controller(store, helper, server, streams, port);
    } catch (err) {
      await server?.close();
      await helper.close();
      await store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.helper.close();
    await this.store.close();
  }
}

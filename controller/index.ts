/**
 * The controller role: metadata store (embedded or etcd) + stream metadata + gRPC front end. Until
 * placement arrives ([7/8 controller]) it answers a segment's endpoint from the owner recorded for its
 * container (by the segment store that took it over), and places a container nobody owns yet on the
 * one segment store it is given.
 */
import { systemClock, type Clock, logger } from "../common/index.js";
import { checkContainerCount, openMetadataStore, type MetadataStore } from "./store/index.js";
import { ControllerGrpcServer } from "./server/grpc-server.js";
import { SegmentHelper, type Endpoint } from "./streams/segment-helper.js";
import { StreamMetadata, type SegmentPlacement } from "./streams/stream-metadata.js";

export * from "./store/index.js";
export { StreamMetadata, type SegmentPlacement } from "./streams/stream-metadata.js";
export type { Endpoint } from "./streams/segment-helper.js";

const log = logger("controller");

export interface ControllerOptions {
  /**
   * Where the metadata lives: file://DIR or etcd://HOST:PORT (see openMetadataStore), or a store
   * opened by the caller (standalone shares one with its segment store; the caller closes it).
   */
  metadata: string | MetadataStore;
  host: string;
  port: number;
  containerCount: number;
  /** Where a container with no recorded owner is served (standalone: every container is, here). */
  segmentStore: Endpoint;
  clock?: Clock;
}

export class Controller {
  private constructor(
    private readonly store: MetadataStore,
    private readonly ownsStore: boolean,
    private readonly helper: SegmentHelper,
    private readonly server: ControllerGrpcServer,
    readonly streams: StreamMetadata,
    readonly port: number,
  ) {}

  static async start(options: ControllerOptions): Promise<Controller> {
    const ownsStore = typeof options.metadata === "string";
    const store =
      typeof options.metadata === "string"
        ? await openMetadataStore(options.metadata, options.clock === undefined ? {} : { clock: options.clock })
        : options.metadata;
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
      log.info("controller listening", { host: options.host, port });
      return new Controller(store, ownsStore, helper, server, streams, port);
    } catch (err) {
      await server?.close();
      await helper.close();
      if (ownsStore) await store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.helper.close();
    if (this.ownsStore) await this.store.close();
  }
}

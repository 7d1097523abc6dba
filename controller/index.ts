/**
 * The controller role: metadata store + stream metadata + gRPC front end. In standalone it places
 * every container on the one local segment store.
 */
import { join } from "node:path";
import { systemClock, type Clock, logger } from "../common/index.js";
import { FileMetadataStore, type MetadataStore } from "./store/index.js";
import { ControllerGrpcServer } from "./server/grpc-server.js";
import { SegmentHelper, type Endpoint } from "./streams/segment-helper.js";
import { StreamMetadata, type SegmentPlacement } from "./streams/stream-metadata.js";

export * from "./store/index.js";
export { StreamMetadata, type SegmentPlacement } from "./streams/stream-metadata.js";
export type { Endpoint } from "./streams/segment-helper.js";

const log = logger("controller");

export interface ControllerOptions {
  dataDir: string;
  host: string;
  port: number;
  containerCount: number;
  /** Standalone placement: every container on this segment store. */
  segmentStore: Endpoint;
  clock?: Clock;
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
    const store = await FileMetadataStore.open(join(options.dataDir, "controller"));
    const placement: SegmentPlacement = {
      containerCount: options.containerCount,
      endpointOfContainer: () => options.segmentStore,
    };
    const helper = new SegmentHelper();
    const streams = new StreamMetadata(store, placement, helper, options.clock ?? systemClock);
    const server = new ControllerGrpcServer(streams);
    const port = await server.listen(options.host, options.port);
    log.info("controller listening", { host: options.host, port });
    return new Controller(store, helper, server, streams, port);
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.helper.close();
    await this.store.close();
  }
}

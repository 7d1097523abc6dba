/**
 * The segment store's TCP front end: accepts connections (bounded) and gives each a
 * ConnectionHandler.
 */
import { createServer, type Server } from "node:net";
import type { Clock } from "../../common/index.js";
import { connectionsMax, logger } from "../../common/index.js";
import { ConnectionHandler, type ContainerLookup } from "./connection-handler.js";
import type { StoreFlow } from "./flow.js";

const log = logger("segmentstore");

export class SegmentStoreServer {
  private readonly server: Server;
  private readonly connections = new Set<ConnectionHandler>();

  constructor(lookup: ContainerLookup, clock: Clock, flow: StoreFlow) {
    this.server = createServer((socket) => {
      if (this.connections.size >= connectionsMax) {
        log.warn("refusing connection: at the connection bound", { connectionsMax });
        socket.destroy();
        return;
      }
      const handler: ConnectionHandler = new ConnectionHandler(socket, lookup, () => this.connections.delete(handler), clock, flow);
      this.connections.add(handler);
    });
    this.server.maxConnections = connectionsMax;
  }

  /** Resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const address = this.server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    for (const c of this.connections) c.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

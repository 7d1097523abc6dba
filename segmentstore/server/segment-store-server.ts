/**
 * The segment store's TCP front end: accepts connections, admits them under the global and
 * per-peer caps (connection-admission.ts: a refused client gets a typed TOO_MANY_CONNECTIONS Error
 * frame, and the refusal is logged), and gives each admitted one a ConnectionHandler, which closes
 * it once idle past the idle timeout.
 */
import { createServer, type Server } from "node:net";
import type { Clock } from "../../common/index.js";
import { connectionIdleTimeoutMsDefault, connectionsMax, connectionsPerPeerMaxDefault, connectionsRefusingMax } from "../../common/index.js";
import { ConnectionAdmission, type ConnectionLimits } from "./connection-admission.js";
import { ConnectionHandler, type ContainerLookup } from "./connection-handler.js";
import type { StoreFlow } from "./flow.js";

export const connectionLimitsDefault: ConnectionLimits = {
  connectionsMax,
  connectionsPerPeerMax: connectionsPerPeerMaxDefault,
  idleTimeoutMs: connectionIdleTimeoutMsDefault,
};

export class SegmentStoreServer {
  private readonly server: Server;
  private readonly connections = new Set<ConnectionHandler>();
  readonly admission: ConnectionAdmission;

  /** Raises INVALID_CONFIG for connection limits out of range. */
  constructor(lookup: ContainerLookup, clock: Clock, flow: StoreFlow, limits: Partial<ConnectionLimits> = {}) {
    this.admission = new ConnectionAdmission("segment store", { ...connectionLimitsDefault, ...limits }, clock);
    const idleTimeoutMs = this.admission.limits.idleTimeoutMs;
    this.server = createServer((socket) => {
      const release = this.admission.admit(socket);
      if (release === undefined) return;
      const handler: ConnectionHandler = new ConnectionHandler(
        socket,
        lookup,
        () => {
          release();
          this.connections.delete(handler);
        },
        clock,
        flow,
        { idleTimeoutMs, onIdleClose: (idleMs) => this.admission.noteIdleClose(socket, idleMs) },
      );
      this.connections.add(handler);
    });
    // A backstop only: admission refuses with a typed frame well before the kernel-level cut.
    this.server.maxConnections = this.admission.limits.connectionsMax + connectionsRefusingMax;
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
    this.admission.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

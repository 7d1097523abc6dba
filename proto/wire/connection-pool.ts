/**
 * One data-plane connection per segment store endpoint, shared by every user in a process (the
 * client's writers and readers, the controller's segment calls). A closed connection is
 * forgotten, so the next use connects again.
 */
import { ClosedError } from "../../common/index.js";
import { WireConnection } from "./connection.js";

export interface Endpoint {
  host: string;
  port: number;
}

const connectTimeoutMs = 10_000;

export class ConnectionPool {
  private readonly connections = new Map<string, Promise<WireConnection>>();
  private closed = false;

  get(endpoint: Endpoint): Promise<WireConnection> {
    if (this.closed) return Promise.reject(new ClosedError("client is closed"));
    const key = `${endpoint.host}:${endpoint.port}`;
    const existing = this.connections.get(key);
    if (existing !== undefined) return existing;
    const made = WireConnection.connect(endpoint.host, endpoint.port, { connectTimeoutMs });
    this.connections.set(key, made);
    made.then(
      (conn) => conn.onClose(() => {
        if (this.connections.get(key) === made) this.connections.delete(key);
      }),
      () => {
        if (this.connections.get(key) === made) this.connections.delete(key);
      },
    );
    return made;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const p of all) {
      const conn = await p.catch(() => undefined);
      if (conn !== undefined) await conn.close();
    }
  }
}

/**
 * A TCP proxy on 127.0.0.1 for fault tests: it forwards bytes both ways between each accepted
 * connection and a new connection to the target, and can cut every current pair at once (both
 * sides destroyed, as a network failure looks to both ends) while it goes on accepting new ones.
 */
import { createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  /** The port the proxy listens on. */
  readonly port: number;
  /** Destroys every current pair, both sides; new connections are still accepted and forwarded. */
  cutAll(): void;
  /** Connection pairs open now. */
  readonly connections: number;
  /** Stops accepting, destroys every pair, and resolves once the listener is closed. */
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: targetHost, port: targetPort });
    const pair = { client, upstream };
    pairs.add(pair);
    // pipe() honours backpressure both ways; either side ending or failing ends the pair.
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP address");
  const cutAll = () => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port: address.port,
    cutAll,
    get connections() {
      return pairs.size;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        cutAll();
      });
    },
  };
}

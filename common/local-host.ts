/**
 * Facts about this machine that tools starting local servers need: free loopback ports and whether
 * a program is installed. Used by the helpers that start etcd, Redis and Sluice's own roles.
 */
import { accessSync, constants as fsConstants } from "node:fs";
import { createServer, type Server } from "node:net";
import { delimiter, join } from "node:path";
import { assert } from "./assert.js";

/** `count` distinct 127.0.0.1 ports that were free a moment ago (listen on port 0, note the port, close). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<Server>((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    assert(address !== null && typeof address === "object", "a listening TCP server has an address");
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/** True when `program` is an executable file in a folder of PATH. */
export function isOnPath(program: string): boolean {
  for (const folder of (process.env["PATH"] ?? "").split(delimiter)) {
    if (folder === "") continue;
    try {
      accessSync(join(folder, program), fsConstants.X_OK);
      return true;
    } catch {
      // Not in this PATH folder (or not executable there): keep looking in the next one.
      continue;
    }
  }
  return false;
}

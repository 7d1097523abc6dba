// Proves the fault-test TCP proxy against a local echo server: bytes go both ways through it, cutAll closes both sides
// of every current pair while new connections still get through, and close stops it.
import t, { type Test } from "tap";
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { startTcpProxy } from "./support/tcp-proxy.js";

async function echoServer(t: Test): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return { server, port: address.port, sockets };
}

async function connect(port: number): Promise<Socket> {
  const s = createConnection({ host: "127.0.0.1", port });
  await once(s, "connect");
  s.on("error", () => undefined);
  return s;
}

async function roundTrip(s: Socket, text: string): Promise<string> {
  s.write(text);
  const [chunk] = (await once(s, "data")) as [Buffer];
  return chunk.toString();
}

async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
}

void t.test("forwards both ways, cuts every pair, keeps accepting, then closes", async (t) => {
  const echo = await echoServer(t);
  const proxy = await startTcpProxy("127.0.0.1", echo.port);
  t.teardown(() => proxy.close());

  const a = await connect(proxy.port);
  const b = await connect(proxy.port);
  t.equal(await roundTrip(a, "hello"), "hello");
  t.equal(await roundTrip(b, "world"), "world");
  t.equal(proxy.connections, 2);
  t.equal(echo.sockets.size, 2, "one upstream connection per client");

  const closed = Promise.all([once(a, "close"), once(b, "close")]);
  proxy.cutAll();
  await closed;
  t.pass("the client sides closed");
  t.ok(await eventually(() => echo.sockets.size === 0), "the upstream sides closed");
  t.equal(proxy.connections, 0);

  const c = await connect(proxy.port);
  t.equal(await roundTrip(c, "again"), "again", "a new connection after the cut gets through");
  t.equal(proxy.connections, 1);

  const cClosed = once(c, "close");
  await proxy.close();
  await cClosed;
  t.pass("close ends the open pair");
  const refused = createConnection({ host: "127.0.0.1", port: proxy.port });
  const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
  t.equal(err.code, "ECONNREFUSED", "nothing listens after close");
});

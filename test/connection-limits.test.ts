// Proves case 8 of issue 18 against a real standalone: connections that say Hello and then idle cannot lock new clients
// out. Raw sockets from 127.0.0.1 fill the per-peer cap (set low by flag); the next ones, and a client connect, are
// refused at once with a typed TOO_MANY_CONNECTIONS frame, and the refusal is logged. Past the idle timeout (set short
// by flag) the idle sockets are closed with a typed frame, while a long-poll tail read just as quiet is not cut (it
// wakes with the next event); then a new client connects and writes, an old client's idle-closed connection is
// replaced transparently, and every acknowledged event is read back once. The log node's server gets the same caps
// and (optional) idle timeout.
import t from "tap";
import { connect, type Socket } from "node:net";
import { Sluice } from "../client/index.js";
import { errorFromWireId, type SluiceError } from "../common/index.js";
import { encodeFrame, FrameDecoder, protocolVersion, WireConnection, type Frame } from "../proto/index.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";
import { LedgerStorage } from "../segmentstore/tier1/lognode/ledger-storage.js";
import { LogNodeServer } from "../segmentstore/tier1/lognode/log-node-server.js";

const perPeerMax = 12;
const idleTimeoutMs = 4_000;
const hello = Buffer.concat(encodeFrame({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion }));

interface Raw {
  socket: Socket;
  frames: Frame[];
  /** The first frame the server sent, and how long after connecting it came. */
  first: Promise<{ frame: Frame | undefined; ms: number }>;
  closed: Promise<void>;
}

/** A raw socket that says Hello and then nothing. */
function idleClient(port: number): Raw {
  const socket = connect(port, "127.0.0.1");
  const frames: Frame[] = [];
  const started = performance.now();
  let onFirst: (v: { frame: Frame | undefined; ms: number }) => void = () => undefined;
  const first = new Promise<{ frame: Frame | undefined; ms: number }>((resolve) => (onFirst = resolve));
  const decoder = new FrameDecoder((f) => {
    frames.push(f);
    if (frames.length === 1) onFirst({ frame: f, ms: performance.now() - started });
  });
  socket.on("data", (c: Buffer) => decoder.push(c));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => {
      onFirst({ frame: undefined, ms: performance.now() - started });
      resolve();
    }),
  );
  socket.on("connect", () => socket.write(hello));
  return { socket, frames, first, closed };
}

function codeOf(f: Frame | undefined): string | undefined {
  return f?.type === "Error" ? errorFromWireId(f.errorId, f.message).code : undefined;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

async function readAll(sluice: Sluice, stream: string): Promise<string[]> {
  const events: string[] = [];
  for (const r of await sluice.batch.segments(stream)) for await (const e of sluice.batch.read(r)) events.push(Buffer.from(e.data).toString());
  return events;
}

void t.test("idle connections past the per-peer cap: typed, prompt, logged refusals; idle ones closed; long polls kept", async (t) => {
  const server = await startStandaloneProcess(t.testdir(), ["--connections-per-peer-max", String(perPeerMax), "--idle-timeout-ms", String(idleTimeoutMs)]);
  t.teardown(() => server.kill());
  const port = server.segmentStorePort;
  const old = await Sluice.connect(server.controllerUri);
  t.teardown(() => old.close());
  await old.admin.createScope("conn");
  await old.admin.createStream("conn/s", { scaling: { type: "fixed", minSegments: 1 } });
  const oldWriter = old.writer("conn/s");
  await oldWriter.write("before");
  const [range] = await old.batch.segments("conn/s");

  // A tail reader's long poll: quiet for longer than the idle timeout, but waiting, so not idle.
  const tail = await WireConnection.connect("127.0.0.1", port, { connectTimeoutMs: 5_000 });
  t.teardown(() => tail.close());
  const longPoll = tail.request({ type: "ReadSegment", requestId: tail.nextRequestId(), segment: range!.segment, offset: range!.endOffset, maxBytes: 4096, waitMs: 30_000 }, "SegmentRead", 40_000);

  const raws: Raw[] = [];
  t.teardown(() => raws.forEach((r) => r.socket.destroy()));
  for (let i = 0; i < perPeerMax + 8; i++) raws.push(idleClient(port));
  const firsts = await within(Promise.all(raws.map((r) => r.first)), 5_000, "every raw socket hears from the server");
  const admitted = raws.filter((_, i) => firsts[i]!.frame?.type === "Hello");
  const refused = firsts.filter((f) => codeOf(f.frame) === "TOO_MANY_CONNECTIONS");
  t.ok(admitted.length >= 1 && admitted.length <= perPeerMax - 1, `${admitted.length} idle sockets admitted, under the per-peer cap of ${perPeerMax} with the clients' own connections`);
  t.equal(admitted.length + refused.length, raws.length, "every other socket was refused with TOO_MANY_CONNECTIONS");
  const slowest = Math.max(...refused.map((f) => f.ms));
  t.ok(slowest < 2_000, `refusals came at once (slowest ${Math.round(slowest)} ms)`);
  t.match(refused[0]!.frame?.type === "Error" ? refused[0]!.frame.message : "", /per-peer cap \(--connections-per-peer-max 12\)/, "the refusal names the cap");

  // A client's connect is refused the same way, promptly, with the typed error (not "cannot connect" after 31 s).
  const started = performance.now();
  const err = await WireConnection.connect("127.0.0.1", port, { connectTimeoutMs: 5_000 }).then(
    (c) => {
      void c.close();
      return undefined;
    },
    (e: unknown) => e as SluiceError,
  );
  t.equal(err?.code, "TOO_MANY_CONNECTIONS", `a client's connect is refused: ${err?.message}`);
  t.ok(performance.now() - started < 2_000, `within ${Math.round(performance.now() - started)} ms`);
  await new Promise((r) => setTimeout(r, 200));
  t.match(server.stderr(), /WARN .*segment store refused connections over its caps.*per-peer cap/, "the refusal is logged");

  // Past the idle timeout every idle socket is closed, each told why.
  await within(Promise.all(admitted.map((r) => r.closed)), idleTimeoutMs + 5_000, "idle sockets are closed");
  for (const r of admitted) t.equal(codeOf(r.frames.at(-1)), "CONNECTION_CLOSED", "closed with a typed frame");
  t.match(server.stderr(), /segment store closed idle connections/, "idle closes are logged");
  t.equal(tail.closed, false, "the long-poll connection, as quiet, is still open");

  // A new client connects and writes; the long poll wakes with its event.
  const fresh = await Sluice.connect(server.controllerUri);
  t.teardown(() => fresh.close());
  await fresh.writer("conn/s").write("after");
  const woke = await within(longPoll, 10_000, "the long poll answers");
  t.equal(woke.data.subarray(4).toString(), "after", "the long poll was served, not cut");
  // The old client's connection was closed as idle; its writer connects again by itself.
  await oldWriter.write("again");
  t.same(await readAll(fresh, "conn/s"), ["before", "after", "again"], "every acknowledged event, once");
});

void t.test("the log node: per-peer cap refused with a typed frame, optional idle timeout", async (t) => {
  const storage = await LedgerStorage.open(t.testdir());
  t.teardown(() => storage.close());
  const server = await LogNodeServer.listen(storage, "127.0.0.1", 0, undefined, { connectionsMax: 10, connectionsPerPeerMax: 2, idleTimeoutMs: 1_000 });
  t.teardown(() => server.close());
  const conns = await Promise.all([0, 1].map(() => WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs: 5_000 })));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  const refused = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs: 5_000 }).then(
    () => "connected",
    (e: unknown) => (e as SluiceError).code,
  );
  t.equal(refused, "TOO_MANY_CONNECTIONS", "the third connection from one peer is refused, typed");
  t.equal(server.admission.refusedTotal, 1);
  const reasons = await within(Promise.all(conns.map((c) => new Promise<SluiceError>((resolve) => c.onClose(resolve)))), 5_000, "idle log node connections close");
  t.ok(reasons.every((r) => /after 1000 ms without a request/.test(r.message)), "each closed as idle, told why");
  // The server's side closes a moment after the client's.
  for (let i = 0; i < 50 && server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(server.connectionCount, 0, "and their slots are free");
});

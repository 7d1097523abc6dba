// Proves WireConnection's handshake, reply correlation, typed errors, deadlines, close handling and subscriptions against a tiny real TCP server on 127.0.0.1 built from FrameDecoder and encodeFrame.
import net from "node:net";
import t from "tap";
import { ManualClock, NoSuchSegmentError, SluiceError, connectionRequestsMax } from "../../common/index.js";
import { encodeFrame } from "./codec.js";
import { WireConnection } from "./connection.js";
import { FrameDecoder } from "./decoder.js";
import { errorFrame, type Frame } from "./frames.js";

type Handler = (frame: Frame, peer: Peer) => void;

/** The server's end of one accepted connection. */
class Peer {
  readonly received: Frame[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {}

  send(frame: Frame): void {
    for (const b of encodeFrame(frame)) this.socket.write(b);
  }

  deliver(frame: Frame): void {
    this.received.push(frame);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once `count` frames have arrived. */
  async receivedCount(count: number): Promise<void> {
    while (this.received.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

interface TestServer {
  port: number;
  peers: Peer[];
  close(): Promise<void>;
}

/** Answers Hello with Hello, then hands every later frame to `handler`. */
const helloThen =
  (handler: Handler): Handler =>
  (frame, peer) => {
    if (frame.type === "Hello") peer.send({ type: "Hello", highVersion: 1, lowVersion: 1 });
    else handler(frame, peer);
  };

async function startServer(handler: Handler): Promise<TestServer> {
  const peers: Peer[] = [];
  const server = net.createServer((socket) => {
    const peer = new Peer(socket);
    peers.push(peer);
    const decoder = new FrameDecoder((frame) => {
      peer.deliver(frame);
      handler(frame, peer);
    });
    socket.on("data", (chunk: Buffer) => decoder.push(chunk));
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    peers,
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of peers) p.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof SluiceError ? err.code : `not a SluiceError: ${String(err)}`;
  }
  return "resolved";
}

const connectTimeoutMs = 5_000;
// A hang is a failure: no test here needs more than a moment.
t.setTimeout(30_000);

void t.test("handshake sends our Hello and completes on the server's", async (t) => {
  const server = await startServer(helloThen(() => undefined));
  t.teardown(() => server.close());
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs });
  t.equal(conn.closed, false);
  t.strictSame(server.peers[0]?.received[0], { type: "Hello", highVersion: 1, lowVersion: 1 });
  await conn.close();
  t.equal(conn.closed, true);
  await conn.close();
  t.pass("close is idempotent");
});

void t.test("replies are matched by requestId, out of order", async (t) => {
  const server = await startServer(helloThen(() => undefined));
  t.teardown(() => server.close());
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs });
  t.teardown(() => conn.close());
  const segments = ["a", "b", "c"];
  const replies = segments.map((segment) =>
    conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment }, "SegmentInfo", 10_000),
  );
  const peer = server.peers[0];
  if (peer === undefined) throw new Error("no peer");
  await peer.receivedCount(4);
  for (const frame of peer.received.slice(1).reverse()) {
    if (frame.type !== "GetSegmentInfo") throw new Error(`unexpected ${frame.type}`);
    peer.send({ type: "SegmentInfo", requestId: frame.requestId, segment: frame.segment, startOffset: 0, length: frame.segment.charCodeAt(0), sealed: false, lastModifiedMs: 1 });
  }
  const got = await Promise.all(replies);
  t.strictSame(got.map((r) => [r.segment, r.length]), [["a", 97], ["b", 98], ["c", 99]]);
  t.strictSame(
    peer.received.slice(1).map((f) => ("requestId" in f ? f.requestId : 0)),
    [1, 2, 3],
    "request ids count up from 1",
  );
});

void t.test("an Error reply rejects with the typed error; a reply of another type is MALFORMED_FRAME", async (t) => {
  const server = await startServer(
    helloThen((frame, peer) => {
      if (frame.type === "CreateSegment") peer.send(errorFrame(frame.requestId, new NoSuchSegmentError(`no segment ${frame.segment}`), frame.segment));
      if (frame.type === "GetSegmentInfo") peer.send({ type: "SegmentCreated", requestId: frame.requestId, segment: frame.segment });
    }),
  );
  t.teardown(() => server.close());
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs });
  t.teardown(() => conn.close());
  const err = await conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "x/y/0" }, "SegmentCreated", 10_000).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof NoSuchSegmentError, "the same class the server raised");
  t.equal(err instanceof SluiceError ? err.code : "", "NO_SUCH_SEGMENT");
  t.match(err instanceof Error ? err.message : "", /no segment x\/y\/0/);
  t.equal(await codeOf(conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment: "z" }, "SegmentInfo", 10_000)), "MALFORMED_FRAME");
  t.equal(conn.closed, false, "request errors keep the connection open");
});

void t.test("a request past its deadline is TIMEOUT and forgotten; a late reply goes to subscribers", async (t) => {
  const server = await startServer(helloThen(() => undefined));
  t.teardown(() => server.close());
  const clock = new ManualClock();
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs, clock });
  t.teardown(() => conn.close());
  const unsolicited: Frame[] = [];
  conn.subscribe((f) => unsolicited.push(f));
  const requestId = conn.nextRequestId();
  const reply = conn.request({ type: "CreateSegment", requestId, segment: "s" }, "SegmentCreated", 500);
  clock.advance(499);
  clock.advance(1);
  t.equal(await codeOf(reply), "TIMEOUT");
  const peer = server.peers[0];
  if (peer === undefined) throw new Error("no peer");
  peer.send({ type: "SegmentCreated", requestId, segment: "s" });
  peer.send({ type: "KeepAlive" });
  const marker = conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "m" }, "SegmentCreated", 10_000);
  peer.send({ type: "SegmentCreated", requestId: requestId + 1, segment: "m" });
  await marker;
  t.strictSame(unsolicited, [{ type: "SegmentCreated", requestId, segment: "s" }]);
});

void t.test("the server closing rejects pending requests with CONNECTION_CLOSED", async (t) => {
  const server = await startServer(helloThen((_frame, peer) => peer.socket.end()));
  t.teardown(() => server.close());
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs });
  const reasons: SluiceError[] = [];
  conn.onClose((err) => reasons.push(err));
  const removed = conn.onClose(() => reasons.push(new NoSuchSegmentError("removed listener ran")));
  removed();
  const a = conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "a" }, "SegmentCreated", 10_000);
  const b = conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "b" }, "SegmentCreated", 10_000);
  t.equal(await codeOf(a), "CONNECTION_CLOSED");
  t.equal(await codeOf(b), "CONNECTION_CLOSED");
  t.equal(conn.closed, true);
  t.strictSame(reasons.map((r) => r.code), ["CONNECTION_CLOSED"]);
  t.throws(() => conn.send({ type: "KeepAlive" }), { code: "CONNECTION_CLOSED" });
  t.equal(await codeOf(conn.request({ type: "CreateSegment", requestId: 99, segment: "c" }, "SegmentCreated", 10)), "CONNECTION_CLOSED");
  t.equal(await codeOf(conn.drained()), "CONNECTION_CLOSED");
  const late = await new Promise<SluiceError>((resolve) => conn.onClose(resolve));
  t.equal(late.code, "CONNECTION_CLOSED", "a listener added after close still hears why");
  await conn.close();
});

void t.test("unsolicited frames reach subscribers until they unsubscribe", async (t) => {
  const writerId = Buffer.alloc(16, 1);
  const server = await startServer(
    helloThen((frame, peer) => {
      if (frame.type !== "AppendBlock") return;
      peer.send({ type: "KeepAlive" });
      peer.send({ type: "DataAppended", requestId: frame.requestId, writerId, segment: frame.segment, eventNumber: frame.lastEventNumber, segmentLength: 10 });
      peer.send(errorFrame(frame.requestId, new NoSuchSegmentError("gone"), frame.segment));
    }),
  );
  t.teardown(() => server.close());
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs });
  t.teardown(() => conn.close());
  const first: Frame[] = [];
  const second: Frame[] = [];
  const unsubscribeFirst = conn.subscribe((f) => first.push(f));
  conn.subscribe((f) => second.push(f));
  const block: Frame = { type: "AppendBlock", requestId: conn.nextRequestId(), writerId, segment: "w/s/0", lastEventNumber: 5, eventCount: 1, data: Buffer.from([0, 0, 0, 1, 9]) };
  t.equal(conn.send(block), true);
  while (second.length < 2) await new Promise((resolve) => setImmediate(resolve));
  t.strictSame(first.map((f) => f.type), ["DataAppended", "Error"], "KeepAlive is not delivered");
  t.strictSame(second, first);
  unsubscribeFirst();
  conn.send({ ...block, requestId: conn.nextRequestId() });
  while (second.length < 4) await new Promise((resolve) => setImmediate(resolve));
  t.equal(first.length, 2, "unsubscribed listener hears nothing more");
  await conn.drained();
});

void t.test("connecting to a closed port is UNAVAILABLE naming host:port", async (t) => {
  const server = await startServer(() => undefined);
  const port = server.port;
  await server.close();
  const err = await WireConnection.connect("127.0.0.1", port, { connectTimeoutMs }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof SluiceError && err.code === "UNAVAILABLE");
  t.match(err instanceof Error ? err.message : "", `127.0.0.1:${port}`);
  t.ok(err instanceof Error && err.cause !== undefined, "cause kept");
});

void t.test("handshake failures: Error frame, version mismatch, no answer, garbage", async (t) => {
  const refusing = await startServer((frame, peer) => {
    if (frame.type === "Hello") peer.send(errorFrame(0, new SluiceError("UNSUPPORTED_VERSION", "no thanks")));
  });
  t.teardown(() => refusing.close());
  t.equal(await codeOf(WireConnection.connect("127.0.0.1", refusing.port, { connectTimeoutMs })), "UNSUPPORTED_VERSION");

  const future = await startServer((_f, peer) => peer.send({ type: "Hello", highVersion: 5, lowVersion: 2 }));
  t.teardown(() => future.close());
  t.equal(await codeOf(WireConnection.connect("127.0.0.1", future.port, { connectTimeoutMs })), "UNSUPPORTED_VERSION");

  const silent = await startServer(() => undefined);
  t.teardown(() => silent.close());
  const clock = new ManualClock();
  const pending = WireConnection.connect("127.0.0.1", silent.port, { connectTimeoutMs: 1_000, clock });
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  clock.advance(1_000);
  t.equal(await codeOf(pending), "TIMEOUT");

  const garbage = await startServer((_f, peer) => peer.socket.write(Buffer.from([0, 0, 0, 99, 0, 0, 0, 0])));
  t.teardown(() => garbage.close());
  t.equal(await codeOf(WireConnection.connect("127.0.0.1", garbage.port, { connectTimeoutMs })), "UNKNOWN_FRAME_TYPE");
});

void t.test("bad bytes from the server close the connection with the decoder's error", async (t) => {
  const server = await startServer(helloThen((_f, peer) => peer.socket.write(Buffer.from([0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff]))));
  t.teardown(() => server.close());
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs });
  const closed = new Promise<SluiceError>((resolve) => conn.onClose(resolve));
  const reply = conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "s" }, "SegmentCreated", 10_000);
  t.equal(await codeOf(reply), "CONNECTION_CLOSED");
  t.equal((await closed).code, "FRAME_TOO_LARGE");
  await conn.close();
});

void t.test(`more than ${connectionRequestsMax} pending requests is OVERLOADED at once`, async (t) => {
  const server = await startServer(helloThen(() => undefined));
  t.teardown(() => server.close());
  const clock = new ManualClock();
  const conn = await WireConnection.connect("127.0.0.1", server.port, { connectTimeoutMs, clock });
  const pending: Promise<string>[] = [];
  for (let i = 0; i < connectionRequestsMax; i++) {
    pending.push(codeOf(conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "s" }, "SegmentCreated", 60_000)));
  }
  t.equal(await codeOf(conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: "s" }, "SegmentCreated", 60_000)), "OVERLOADED");
  await conn.close();
  const codes = new Set(await Promise.all(pending));
  t.strictSame([...codes], ["CONNECTION_CLOSED"], "close fails every pending request");
});

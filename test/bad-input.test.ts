// Proves invariant 7 against a real standalone process: raw sockets sending garbage, a 2^32-1 length prefix, an unknown
// frame type, or events whose lengths do not add up get a typed error or a closed connection, the server stays up,
// other clients keep being served, and no segment changes.
import t from "tap";
import { connect, type Socket } from "node:net";
import { Sluice } from "../client/index.js";
import { encodeFrame, FrameDecoder, protocolVersion, type Frame } from "../proto/index.js";
import { errorFromWireId } from "../common/index.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";

interface RawResult {
  frames: Frame[];
  closed: boolean;
}

/** Sends raw bytes, collects what comes back until the server closes or `waitMs` passes. */
function raw(port: number, chunks: Buffer[], waitMs = 1500): Promise<RawResult> {
  return new Promise((resolve) => {
    const frames: Frame[] = [];
    const socket: Socket = connect(port, "127.0.0.1");
    const decoder = new FrameDecoder((f) => frames.push(f));
    let closed = false;
    socket.on("data", (c: Buffer) => decoder.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      clearTimeout(timer);
      resolve({ frames, closed });
    });
    socket.on("connect", () => {
      for (const c of chunks) socket.write(c);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ frames, closed });
    }, waitMs);
  });
}

const hello = Buffer.concat(encodeFrame({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion }));

function codeOf(f: Frame | undefined): string | undefined {
  return f?.type === "Error" ? errorFromWireId(f.errorId, f.message).code : undefined;
}

void t.test("bad clients are refused; the server and good clients carry on; nothing is written", async (t) => {
  const server = await startStandaloneProcess(t.testdir());
  t.teardown(() => server.kill());
  const sluice = await Sluice.connect(server.controllerUri);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("bad");
  await sluice.admin.createStream("bad/s", { scaling: { type: "fixed", minSegments: 1 } });
  const writer = sluice.writer("bad/s");
  await writer.write("before");
  const [range] = await sluice.batch.segments("bad/s");
  const segment = range!.segment;
  const lengthBefore = range!.endOffset;
  const port = server.segmentStorePort;

  const garbage = await raw(port, [Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
  t.ok(garbage.closed, "garbage: connection closed");
  t.ok(["UNKNOWN_FRAME_TYPE", "FRAME_TOO_LARGE", "MALFORMED_FRAME"].includes(codeOf(garbage.frames.at(-1)) ?? ""), `garbage: typed error ${codeOf(garbage.frames.at(-1))}`);

  const huge = Buffer.alloc(8);
  huge.writeUInt32BE(12, 0);
  huge.writeUInt32BE(0xffffffff, 4);
  const tooLarge = await raw(port, [hello, huge]);
  t.ok(tooLarge.closed, "2^32-1 length: connection closed");
  t.equal(codeOf(tooLarge.frames.at(-1)), "FRAME_TOO_LARGE");

  const unknown = Buffer.alloc(8);
  unknown.writeUInt32BE(9999, 0);
  const unknownType = await raw(port, [hello, unknown]);
  t.ok(unknownType.closed, "unknown type: connection closed");
  t.equal(codeOf(unknownType.frames.at(-1)), "UNKNOWN_FRAME_TYPE");

  const noHello = await raw(port, [Buffer.concat(encodeFrame({ type: "GetSegmentInfo", requestId: 1, segment }))]);
  t.ok(noHello.closed, "a request before Hello: connection closed");
  t.equal(codeOf(noHello.frames.at(-1)), "MALFORMED_FRAME");

  // Events whose lengths do not add up: the frame is sound, so only the request fails.
  const writerId = Buffer.alloc(16, 7);
  const setup = Buffer.concat(encodeFrame({ type: "SetupAppend", requestId: 1, writerId, segment }));
  const lying = Buffer.alloc(4 + 10);
  lying.writeUInt32BE(500, 0); // claims 500 bytes, carries 10
  const badBlock = Buffer.concat(encodeFrame({ type: "AppendBlock", requestId: 2, writerId, segment, lastEventNumber: 0, eventCount: 1, data: lying }));
  const oversize = Buffer.alloc(4);
  oversize.writeUInt32BE(0xfffffff0, 0);
  const hugeEvent = Buffer.concat(encodeFrame({ type: "AppendBlock", requestId: 3, writerId, segment, lastEventNumber: 0, eventCount: 1, data: oversize }));
  const countLie = Buffer.concat(encodeFrame({ type: "AppendBlock", requestId: 4, writerId, segment, lastEventNumber: 5, eventCount: 6, data: Buffer.from([0, 0, 0, 1, 65]) }));
  const badEvents = await raw(port, [hello, setup, badBlock, setup, hugeEvent, setup, countLie]);
  t.notOk(badEvents.closed, "bad events: connection stays open");
  const errors = badEvents.frames.filter((f) => f.type === "Error");
  t.same(errors.map((f) => codeOf(f)), ["INVALID_EVENTS", "EVENT_TOO_LARGE", "INVALID_EVENTS"]);

  // An unknown segment and an invalid name are request errors too.
  const noSuch = await raw(port, [hello, Buffer.concat(encodeFrame({ type: "GetSegmentInfo", requestId: 9, segment: "bad/none/0.#epoch.0" })), Buffer.concat(encodeFrame({ type: "GetSegmentInfo", requestId: 10, segment: "../../etc" }))]);
  // Replies come as requests complete, matched by requestId (wire.md), not necessarily in order.
  const byRequest = new Map(noSuch.frames.flatMap((f) => (f.type === "Error" ? [[f.requestId, codeOf(f)] as const] : [])));
  t.same([byRequest.get(9), byRequest.get(10)], ["NO_SUCH_SEGMENT", "INVALID_NAME"]);

  // A flood of reads that are never read back: bounded per connection, the excess refused at once.
  const flood = Buffer.concat(
    Array.from({ length: 3000 }, (_, i) =>
      Buffer.concat(encodeFrame({ type: "ReadSegment", requestId: i + 1, segment, offset: 0, maxBytes: 8 * 1024 * 1024, waitMs: 60_000 })),
    ),
  );
  const flooded = await raw(port, [hello, flood], 2000);
  const overloaded = flooded.frames.filter((f) => codeOf(f) === "OVERLOADED").length;
  t.ok(overloaded > 2000, `${overloaded} of 3000 reads refused with OVERLOADED`);

  // The server is up, the good client still works, and the bad input wrote nothing.
  const [after] = await sluice.batch.segments("bad/s");
  t.equal(after!.endOffset, lengthBefore, "no bytes were added by bad clients");
  await writer.write("after");
  const events: string[] = [];
  for (const r of await sluice.batch.segments("bad/s")) for await (const e of sluice.batch.read(r)) events.push(Buffer.from(e.data).toString());
  t.same(events, ["before", "after"]);
  t.equal(server.proc.exitCode, null, "server still running");
});

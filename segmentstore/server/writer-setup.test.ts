// Proves a block that fails late drops only the set-up it was taken under: a writer that set up again after an
// earlier block's error keeps appending, even when an older block's failure comes back after its new set-up.
// A raw client speaks the wire protocol to a real SegmentStoreServer whose container's appends the test settles.
import t from "tap";
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import { ContainerNotReadyError, ManualClock, errorFromWireId } from "../../common/index.js";
import { FrameDecoder, encodeEvents, encodeFrame, protocolVersion, type Frame } from "../../proto/index.js";
import type { AppendResult, SegmentContainer } from "../container/segment-container.js";
import { StoreFlow } from "./flow.js";
import { SegmentStoreServer } from "./segment-store-server.js";

interface Deferred {
  resolve(r: AppendResult): void;
  reject(e: Error): void;
}

void t.test("an old block's late failure does not undo a newer set-up", async (t) => {
  const appends: Deferred[] = [];
  let stored = -1;
  const container = {
    lastEventNumber: () => stored,
    append: () =>
      new Promise<AppendResult>((resolve, reject) => {
        appends.push({ resolve, reject });
      }),
  } as unknown as SegmentContainer;
  const clock = new ManualClock();
  const server = new SegmentStoreServer(() => container, clock, new StoreFlow({ usedBytes: 0, maxBytes: 1 << 20 }, clock));
  const port = await server.listen("127.0.0.1", 0);
  t.teardown(() => server.close());

  const frames: Frame[] = [];
  let waiter: (() => void) | undefined;
  const decoder = new FrameDecoder((f) => {
    frames.push(f);
    waiter?.();
  });
  const socket = connect(port, "127.0.0.1");
  t.teardown(() => socket.destroy());
  socket.on("data", (c: Buffer) => decoder.push(c));
  await new Promise<void>((resolve) => socket.on("connect", () => resolve()));
  const next = async (): Promise<Frame> => {
    while (frames.length === 0) await new Promise<void>((resolve) => (waiter = resolve));
    return frames.shift()!;
  };
  const send = (f: Frame) => socket.write(Buffer.concat(encodeFrame(f)));
  const writerId = randomBytes(16);
  const segment = "sc/st/0.#epoch.0";
  const data = encodeEvents([Buffer.from("e")]);
  const block = (requestId: number, lastEventNumber: number): Frame => ({ type: "AppendBlock", requestId, writerId, segment, lastEventNumber, eventCount: 1, data });
  const codeOf = (f: Frame) => (f.type === "Error" ? errorFromWireId(f.errorId, f.message).code : f.type);

  send({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
  t.equal((await next()).type, "Hello");
  send({ type: "SetupAppend", requestId: 1, writerId, segment });
  t.equal((await next()).type, "AppendSetup");
  send(block(2, 0));
  send(block(3, 1));
  while (appends.length < 2) await new Promise((r) => setTimeout(r, 5));

  appends[0]!.reject(new ContainerNotReadyError("recovering"));
  t.equal(codeOf(await next()), "CONTAINER_NOT_READY", "the first block fails");
  send({ type: "SetupAppend", requestId: 4, writerId, segment });
  const setup = await next();
  t.equal(setup.type, "AppendSetup", "the writer sets up again");
  appends[1]!.reject(new ContainerNotReadyError("recovering"));
  t.equal(codeOf(await next()), "CONTAINER_NOT_READY", "the second block's failure comes back after the new set-up");

  send(block(5, 0));
  while (appends.length < 3 && frames.length === 0) await new Promise((r) => setTimeout(r, 5));
  t.equal(appends.length, 3, "the block after the new set-up reaches the container (no WRITER_NOT_SET_UP)");
  stored = 0;
  appends[2]!.resolve({ eventNumber: 0, segmentLength: 5 });
  const acked = await next();
  t.equal(acked.type, "DataAppended");
});

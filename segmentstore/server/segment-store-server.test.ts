// Proves a connection that never says Hello is closed at its deadline (driven by an injected clock), with a typed error,
// so silent sockets cannot hold the store's connection slots.
import t from "tap";
import { connect } from "node:net";
import { ManualClock, helloTimeoutMs, NoSuchSegmentError, errorFromWireId } from "../../common/index.js";
import { FrameDecoder, type Frame } from "../../proto/index.js";
import { StoreFlow } from "./flow.js";
import { SegmentStoreServer } from "./segment-store-server.js";

void t.test("no Hello within the deadline: typed error, then the connection is closed", async (t) => {
  const clock = new ManualClock();
  const server = new SegmentStoreServer(
    () => {
      throw new NoSuchSegmentError("none here");
    },
    clock,
    new StoreFlow({ usedBytes: 0, maxBytes: 1 << 20 }, clock),
  );
  const port = await server.listen("127.0.0.1", 0);
  t.teardown(() => server.close());
  const frames: Frame[] = [];
  const socket = connect(port, "127.0.0.1");
  const decoder = new FrameDecoder((f) => frames.push(f));
  socket.on("data", (c: Buffer) => decoder.push(c));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise<void>((resolve) => socket.on("connect", () => resolve()));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(frames.length, 0, "nothing before the deadline");
  clock.advance(helloTimeoutMs);
  await closed;
  const last = frames.at(-1);
  t.equal(last?.type, "Error");
  t.equal(last?.type === "Error" ? errorFromWireId(last.errorId, last.message).code : undefined, "MALFORMED_FRAME");
});

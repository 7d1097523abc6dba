// Proves the reader's recovery logic against a scripted connection: a read-ahead that gave up is not rethrown forever
// (the next call asks the server again), a closed reader sends nothing more and rejects with CLOSED, a sealed
// segment that ends inside an event is DATA_CORRUPTION, and after WRONG_HOST or CONTAINER_NOT_READY the next connect
// asks for a fresh endpoint. The real data path is proven by test/segment-reader.test.ts.
import t from "tap";
import { ContainerNotReadyError, OverloadedError, UnavailableError, WrongHostError } from "../../common/index.js";
import { encodeEvents, type Frame, type WireConnection } from "../../proto/index.js";
import { SegmentReader } from "./segment-reader.js";

type Answer = (offset: number) => { data: Buffer; endOfSegment?: boolean } | Error;

function scripted(answer: Answer) {
  const calls: number[] = [];
  let id = 0;
  const conn = {
    nextRequestId: () => ++id,
    request: (frame: Frame) => {
      if (frame.type !== "ReadSegment") throw new Error(`unexpected ${frame.type}`);
      calls.push(frame.offset);
      const a = answer(frame.offset);
      if (a instanceof Error) return Promise.reject(a);
      return Promise.resolve({ type: "SegmentRead", requestId: frame.requestId, segment: frame.segment, offset: frame.offset, atTail: true, endOfSegment: a.endOfSegment ?? false, data: a.data });
    },
  } as unknown as WireConnection;
  return { calls, connect: () => Promise.resolve(conn) };
}

const seg = "s/t/0.#epoch.0";
const one = (s: string) => encodeEvents([Buffer.from(s)]);

void t.test("a read-ahead that gave up is not rethrown: the next call reads again", async (t) => {
  let healthy = true;
  const { calls, connect } = scripted((offset) => {
    if (offset === 0) return { data: one("e0") };
    return healthy ? { data: one("e1") } : new UnavailableError("store down");
  });
  const reader = new SegmentReader(seg, connect, { waitMs: 0, retryCountMax: 2, retryDelayMsMin: 1 });
  healthy = false;
  const first = await reader.next();
  t.same(first.map((e) => Buffer.from(e.data).toString()), ["e0"]);
  await t.rejects(reader.next(), { code: "UNAVAILABLE" }, "the read-ahead gave up");
  healthy = true;
  const second = await reader.next();
  t.same(second.map((e) => Buffer.from(e.data).toString()), ["e1"], "asked the server again");
  t.ok(calls.length >= 4);
});

void t.test("close during a retry's backoff: CLOSED, and no request afterwards", async (t) => {
  const { calls, connect } = scripted(() => new UnavailableError("store down"));
  const reader = new SegmentReader(seg, connect, { waitMs: 0, retryDelayMsMin: 200 });
  const pending = reader.next();
  await new Promise((r) => setTimeout(r, 50));
  const sent = calls.length;
  reader.close();
  await t.rejects(pending, { code: "CLOSED" });
  await new Promise((r) => setTimeout(r, 300));
  t.equal(calls.length, sent, "nothing sent after close");
});

void t.test("a sealed end inside an event is DATA_CORRUPTION", async (t) => {
  const torn = one("whole").subarray(0, 6);
  const { connect } = scripted(() => ({ data: torn, endOfSegment: true }));
  const reader = new SegmentReader(seg, connect, { waitMs: 0 });
  await t.rejects(reader.next(), { code: "DATA_CORRUPTION" });
});

void t.test("after WRONG_HOST or CONTAINER_NOT_READY the next connect asks for a fresh endpoint", async (t) => {
  const answers: (Error | undefined)[] = [new WrongHostError("moved"), new OverloadedError("busy"), new ContainerNotReadyError("recovering")];
  const { calls, connect } = scripted(() => answers.shift() ?? { data: one("e0") });
  const refreshes: boolean[] = [];
  const reader = new SegmentReader(
    seg,
    (segment, options) => {
      refreshes.push(options?.refresh === true);
      return connect();
    },
    { waitMs: 0, retryDelayMsMin: 1 },
  );
  const events = await reader.next();
  t.same(events.map((e) => Buffer.from(e.data).toString()), ["e0"]);
  // Four attempts of the first read (a fifth call may be the read-ahead, on the endpoint that worked).
  t.same(refreshes.slice(0, 4), [false, true, false, true], "refreshed after WRONG_HOST and CONTAINER_NOT_READY, not after OVERLOADED");
  t.ok(calls.length >= 4);
  reader.close();
});

// Proves the writer's bounds do not leak when a segment writer fails: every write to a failed segment rejects at once
// with the typed error, the in-flight byte budget is given back, and ready()/flush() settle instead of hanging. Then,
// against scripted store connections: after WRONG_HOST (on set-up or on an append) the next connect asks for a fresh
// endpoint (the container moved) and resends only what the new owner lacks, while an error that says nothing about
// placement (OVERLOADED) retries on the cached one.
import t from "tap";
import { NoSuchSegmentError, OverloadedError, WrongHostError, writerInflightBytesMax, type SluiceError } from "../../common/index.js";
import type { Frame, WireConnection } from "../../proto/index.js";
import { EventWriter } from "./event-writer.js";

void t.test("writes to a failed segment reject without consuming the in-flight budget", async (t) => {
  const writer = new EventWriter("s/t", {
    currentSegments: () => Promise.resolve([{ segment: "s/t/0.#epoch.0", number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: () => Promise.reject(new NoSuchSegmentError("segment s/t/0.#epoch.0 does not exist")),
  });
  const event = Buffer.alloc(1024 * 1024);
  await t.rejects(writer.write(event), { code: "NO_SUCH_SEGMENT" });
  // Far more than the in-flight bound: each must fail fast, none may wait for acks that never come.
  const count = Math.ceil((2 * writerInflightBytesMax) / event.length);
  const results = await Promise.allSettled(Array.from({ length: count }, () => writer.write(event)));
  t.equal(results.filter((r) => r.status === "rejected").length, count, "every write rejected");
  const ready = await Promise.race([writer.ready().then(() => "ready"), new Promise((r) => setTimeout(() => r("hung"), 2000))]);
  t.equal(ready, "ready", "ready() resolves: the budget was given back");
  await t.rejects(writer.flush(), { code: "NO_SUCH_SEGMENT" }, "flush reports the failure");
});

/**
 * A scripted segment store connection: SetupAppend answers `setup` (a last event number, or an error the store
 * raises), and each AppendBlock is acked (DataAppended) on the next tick.
 */
function fakeStore(setup: () => number | Error, append: (lastEventNumber: number) => "ack" | SluiceError = () => "ack") {
  const listeners = new Set<(frame: Frame) => void>();
  const appended: number[] = [];
  let id = 0;
  const conn = {
    closed: false,
    nextRequestId: () => ++id,
    subscribe(listener: (frame: Frame) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onClose: () => () => undefined,
    request(frame: Frame) {
      if (frame.type !== "SetupAppend") throw new Error(`unexpected ${frame.type}`);
      const answer = setup();
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve({ type: "AppendSetup", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, lastEventNumber: answer });
    },
    send(frame: Frame) {
      if (frame.type !== "AppendBlock") throw new Error(`unexpected ${frame.type}`);
      const outcome = append(frame.lastEventNumber);
      if (outcome === "ack") appended.push(frame.lastEventNumber);
      const ack: Frame =
        outcome === "ack"
          ? { type: "DataAppended", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, eventNumber: frame.lastEventNumber, segmentLength: 0 }
          : { type: "Error", requestId: frame.requestId, errorId: outcome.wireId, segment: frame.segment, message: outcome.message };
      setImmediate(() => {
        for (const l of listeners) l(ack);
      });
      return true;
    },
  };
  return { conn: conn as unknown as WireConnection, appended };
}

void t.test("after WRONG_HOST the writer asks for a fresh endpoint and writes there", async (t) => {
  const segment = "s/t/0.#epoch.0";
  const oldStore = fakeStore(() => new WrongHostError(`${segment} is not served here`));
  const newStore = fakeStore(() => -1);
  const connects: { refresh: boolean }[] = [];
  let moved = false;
  const writer = new EventWriter("s/t", {
    currentSegments: () => Promise.resolve([{ segment, number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: (_segment, options) => {
      const refresh = options?.refresh === true;
      connects.push({ refresh });
      // The controller learns of the new owner once asked again; the cached answer is the old store.
      if (refresh) moved = true;
      return Promise.resolve(moved ? newStore.conn : oldStore.conn);
    },
  });
  await writer.write("e0");
  await writer.write("e1");
  await writer.close();
  t.same(connects, [{ refresh: false }, { refresh: true }], "the first connect uses the cache, the retry asks again");
  t.same(oldStore.appended, [], "nothing was appended on the old store");
  t.same(newStore.appended, [0, 1], "both events went to the new store");
});

void t.test("errors that do not say the segment moved keep the cached endpoint", async (t) => {
  const segment = "s/t/0.#epoch.0";
  let calls = 0;
  const store = fakeStore(() => (++calls === 1 ? new OverloadedError("busy") : -1));
  const connects: boolean[] = [];
  const writer = new EventWriter("s/t", {
    currentSegments: () => Promise.resolve([{ segment, number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: (_segment, options) => {
      connects.push(options?.refresh === true);
      return Promise.resolve(store.conn);
    },
  });
  await writer.write("e0");
  await writer.close();
  t.same(connects, [false, false], "OVERLOADED is retried on the same endpoint");
  t.same(store.appended, [0]);
});

void t.test("WRONG_HOST on an append: the writer sets up at the new owner and resends only what it lacks", async (t) => {
  const segment = "s/t/0.#epoch.0";
  // The old store stored event 0, then lost the container: event 1 is refused there.
  const oldStore = fakeStore(() => -1, (n) => (n === 0 ? "ack" : new WrongHostError(`${segment} moved`)));
  // The new owner recovered the container's log, so it knows event 0 of this writer is stored.
  const newStore = fakeStore(() => 0);
  const connects: boolean[] = [];
  const writer = new EventWriter("s/t", {
    currentSegments: () => Promise.resolve([{ segment, number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: (_segment, options) => {
      connects.push(options?.refresh === true);
      return Promise.resolve(connects.length === 1 ? oldStore.conn : newStore.conn);
    },
  });
  await writer.write("e0");
  await writer.write("e1");
  await writer.close();
  t.same(connects, [false, true], "the retry asked for a fresh endpoint");
  t.same(oldStore.appended, [0]);
  t.same(newStore.appended, [1], "event 0 is not sent again: it is stored once");
});

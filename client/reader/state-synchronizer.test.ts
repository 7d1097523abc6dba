// Proves that StateSynchronizer never applies a state that is in no record of its segment: an open() that loses the
// race for the first record takes the winner's state instead of writing its own over it, and after an append whose
// reply was lost (it may have been stored) the next update uses a new writer id, so the store's dedup (checked before
// the offset, as segment-container.ts does) cannot acknowledge it without storing it. The store is an in-memory fake
// of one segment speaking the frames the synchronizer sends.
import t from "tap";
import { ConditionalCheckFailedError, InternalError, InvalidEventNumberError, SegmentExistsError } from "../../common/index.js";
import { encodeEvents, type Frame, type WireConnection } from "../../proto/index.js";
import { StateSynchronizer } from "./state-synchronizer.js";

const seg = "s/_rg_g/0.#epoch.0";

interface State {
  who: string;
  n: number;
}

/** One segment with conditional appends and per-writer dedup; `hooks` let a test act inside an append. */
function fakeStore() {
  const store = {
    data: Buffer.alloc(0),
    created: false,
    /** Runs before the next ConditionalAppend is handled: another client appends first, or it throws (the append fails unstored). */
    beforeAppend: undefined as (() => void) | undefined,
    /** Stores the next append, then answers an error as if the reply was lost. */
    loseNextReply: false,
    /** Writer ids of the appends received, in hex. */
    writers: [] as string[],
  };
  const lastEventNumbers = new Map<string, number>();
  const waiters: (() => void)[] = [];
  let id = 0;
  const conn = {
    nextRequestId: () => ++id,
    request: (frame: Frame) => {
      switch (frame.type) {
        case "CreateSegment":
          if (store.created) return Promise.reject(new SegmentExistsError(`${seg} exists`));
          store.created = true;
          return Promise.resolve({ type: "SegmentCreated", requestId: frame.requestId, segment: seg });
        case "GetSegmentInfo":
          return Promise.resolve({ type: "SegmentInfo", requestId: frame.requestId, segment: seg, startOffset: 0, length: store.data.length, sealed: false, lastModifiedMs: 0 });
        case "ReadSegment": {
          const read = () => ({
            type: "SegmentRead", requestId: frame.requestId, segment: seg, offset: frame.offset, atTail: true, endOfSegment: false,
            data: Buffer.from(store.data.subarray(frame.offset, frame.offset + frame.maxBytes)),
          });
          if (frame.offset < store.data.length || frame.waitMs === 0) return Promise.resolve(read());
          return new Promise((resolve) => waiters.push(() => resolve(read())));
        }
        case "ConditionalAppend": {
          const before = store.beforeAppend;
          store.beforeAppend = undefined;
          before?.();
          const writer = frame.writerId.toString("hex");
          store.writers.push(writer);
          const last = lastEventNumbers.get(writer) ?? -1;
          const acked = { type: "DataAppended", requestId: frame.requestId, writerId: frame.writerId, segment: seg, eventNumber: frame.lastEventNumber, segmentLength: store.data.length };
          if (frame.lastEventNumber - frame.eventCount + 1 > last + 1) return Promise.reject(new InvalidEventNumberError("gap in event numbers"));
          // Dedup before the offset check: a number already stored is acknowledged again, whatever the data.
          if (frame.lastEventNumber <= last) return Promise.resolve(acked);
          if (frame.expectedOffset !== store.data.length) return Promise.reject(new ConditionalCheckFailedError("offset moved"));
          store.data = Buffer.concat([store.data, frame.data]);
          lastEventNumbers.set(writer, frame.lastEventNumber);
          for (const wake of waiters.splice(0)) wake();
          if (store.loseNextReply) {
            store.loseNextReply = false;
            return Promise.reject(new InternalError("reply lost (as UNAVAILABLE after the retries would be)"));
          }
          return Promise.resolve({ ...acked, segmentLength: store.data.length });
        }
        default:
          throw new Error(`unexpected ${frame.type}`);
      }
    },
  } as unknown as WireConnection;
  /** Appends a record as another client would. */
  const appendOther = (state: State) => {
    store.data = Buffer.concat([store.data, encodeEvents([Buffer.from(JSON.stringify(state))])]);
    for (const wake of waiters.splice(0)) wake();
  };
  return { store, appendOther, connect: () => Promise.resolve(conn) };
}

function synchronizer(connect: () => Promise<WireConnection>, newWriterId?: () => Buffer): StateSynchronizer<State> {
  return new StateSynchronizer<State>({
    segment: seg,
    connect,
    encode: (s) => Buffer.from(JSON.stringify(s)),
    decode: (b) => JSON.parse(b.toString()) as State,
    ...(newWriterId === undefined ? {} : { newWriterId }),
  });
}

void t.test("an open() that loses the race for the first record keeps the winner's state", async (t) => {
  const { store, appendOther, connect } = fakeStore();
  store.beforeAppend = () => appendOther({ who: "winner", n: 7 });
  const sync = synchronizer(connect);
  await sync.open(() => Promise.resolve({ who: "loser", n: 0 }));
  t.same(sync.state, { who: "winner", n: 7 }, "the first record stands");
  const reader = synchronizer(connect);
  await reader.open(() => Promise.resolve({ who: "third", n: -1 }));
  t.same(reader.state, { who: "winner", n: 7 }, "and it is the last record in the segment");
  await sync.close();
  await reader.close();
});

void t.test("after an append whose reply was lost, the next update is stored under a new writer id", async (t) => {
  const { store, connect } = fakeStore();
  let ids = 0;
  const sync = synchronizer(connect, () => Buffer.alloc(16, ++ids));
  await sync.open(() => Promise.resolve({ who: "a", n: 0 }));
  store.loseNextReply = true;
  await t.rejects(sync.update((s) => ({ state: { ...s, n: s.n + 1 }, result: undefined })), { code: "INTERNAL" });
  await sync.update((s) => ({ state: { ...s, n: s.n + 1 }, result: undefined }));
  t.equal(sync.state.n, 2, "the record that landed was read before the change was applied");
  const other = synchronizer(connect);
  await other.open(() => Promise.resolve({ who: "b", n: -1 }));
  t.equal(other.state.n, 2, "the segment holds the state the client applied");
  t.same(new Set(store.writers).size, 2, "a new writer id after the ambiguous failure");
  await sync.close();
  await other.close();
});

void t.test("after an append that failed unstored, the next update appends its change once", async (t) => {
  const { store, connect } = fakeStore();
  const sync = synchronizer(connect);
  await sync.open(() => Promise.resolve({ who: "a", n: 0 }));
  const length = store.data.length;
  store.beforeAppend = () => {
    throw new InternalError("store failed before storing");
  };
  await t.rejects(sync.update((s) => ({ state: { ...s, n: 10 }, result: undefined })));
  t.equal(store.data.length, length, "nothing stored");
  await sync.update((s) => ({ state: { ...s, n: s.n + 1 }, result: undefined }));
  t.equal(sync.state.n, 1);
  const other = synchronizer(connect);
  await other.open(() => Promise.resolve({ who: "b", n: -1 }));
  t.equal(other.state.n, 1);
  await sync.close();
  await other.close();
});

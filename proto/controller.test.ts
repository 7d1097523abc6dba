// Proves the hand-written message interfaces match controller.proto: fully populated messages round-trip through the gRPC codecs unchanged, and absent message fields arrive as undefined.
import t from "tap";
import { controllerMethodNames, controllerServiceDefinition, type GetStreamResponse, type ReportLoadRequest, type CreateReaderGroupRequest, type CreateTransactionResponse, type GetSegmentsBetweenResponse, type ListTransactionsResponse } from "./controller.js";

void t.test("every rpc has a definition", async (t) => {
  t.equal(controllerMethodNames.length, 28);
  for (const name of controllerMethodNames) t.ok(controllerServiceDefinition[name].path.endsWith(`/${name}`), name);
});

const range = { segment: "shop/orders/1.#epoch.3", number: 1, epoch: 3, keyStart: 0.25, keyEnd: 0.5 };
const cut = { positions: [{ segment: "shop/orders/1.#epoch.3", offset: 1_234_567_890_123 }] };

void t.test("a full GetStreamResponse round-trips", async (t) => {
  const def = controllerServiceDefinition.GetStream;
  const value: GetStreamResponse = {
    scope: "shop",
    stream: "orders",
    config: { scaling: { type: "BY_EVENT_RATE", minSegments: 4, targetRate: 1000, scaleFactor: 3 }, retention: { type: "BY_SIZE", limit: 5_000_000_000 } },
    epoch: 3,
    segments: [range],
    createdAtMs: 1_700_000_000_123,
    head: cut,
    tail: cut,
    sealed: true,
  };
  t.same(def.responseDeserialize(def.responseSerialize(value)), value);
});

void t.test("other messages round-trip field for field", async (t) => {
  const txn: CreateTransactionResponse = { txnId: "ab".repeat(16), epoch: 2, segments: [{ parent: range, txnSegment: `${range.segment}#txn.${"ab".repeat(16)}` }], leaseExpiresAtMs: 1_700_000_000_000 };
  const ct = controllerServiceDefinition.CreateTransaction;
  t.same(ct.responseDeserialize(ct.responseSerialize(txn)), txn);
  const between: GetSegmentsBetweenResponse = { segments: [{ range, startOffset: 10, endOffset: -1 }] };
  const gb = controllerServiceDefinition.GetSegmentsBetween;
  t.same(gb.responseDeserialize(gb.responseSerialize(between)), between);
  const rg: CreateReaderGroupRequest = { scope: "s", group: "g", config: { streams: [{ stream: "s/x", from: cut, to: cut }], checkpointIntervalMs: 500 } };
  const cr = controllerServiceDefinition.CreateReaderGroup;
  t.same(cr.requestDeserialize(cr.requestSerialize(rg)), rg);
  const load: ReportLoadRequest = { storeId: "ss-1", windowsMs: [1000, 2000], segments: [{ segment: range.segment, eventsPerSec: [1.5, 2.5], bytesPerSec: [100.25, 200], trackedMs: 5000 }] };
  const rl = controllerServiceDefinition.ReportLoad;
  t.same(rl.requestDeserialize(rl.requestSerialize(load)), load);
  const sc = controllerServiceDefinition.Scale;
  const scale = { scope: "s", stream: "x", seal: [range.segment], newRanges: [{ keyStart: 0.25, keyEnd: 0.375 }, { keyStart: 0.375, keyEnd: 0.5 }] };
  t.same(sc.requestDeserialize(sc.requestSerialize(scale)), scale);
  const ep = controllerServiceDefinition.GetSegmentEndpoint;
  const res = { host: "127.0.0.1", port: 12345, container: 3 };
  t.same(ep.responseDeserialize(ep.responseSerialize(res)), res);
});

void t.test("absent message fields arrive as undefined, scalars as defaults", async (t) => {
  const gb = controllerServiceDefinition.GetSegmentsBetween;
  const decoded = gb.requestDeserialize(gb.requestSerialize({ scope: "s", stream: "x" }));
  t.same(decoded, { scope: "s", stream: "x" });
  t.equal("from" in decoded, false, "no null left for an absent cut");
  const cs = controllerServiceDefinition.CreateStream;
  t.same(cs.requestDeserialize(cs.requestSerialize({ scope: "s", stream: "x", config: {} })), { scope: "s", stream: "x", config: {} });
});

void t.test("transaction tags, listing and alreadyCommitted round-trip; an untagged create arrives with an empty tag", async (t) => {
  const ct = controllerServiceDefinition.CreateTransaction;
  const tagged = { scope: "s", stream: "x", leaseMs: 86_400_000, tag: "job-1/3" };
  t.same(ct.requestDeserialize(ct.requestSerialize(tagged)), tagged);
  t.same(ct.requestDeserialize(ct.requestSerialize({ scope: "s", stream: "x", leaseMs: 1000 })), { scope: "s", stream: "x", leaseMs: 1000, tag: "" });
  const cm = controllerServiceDefinition.CommitTransaction;
  for (const alreadyCommitted of [true, false]) {
    const status = { state: "COMMITTED" as const, leaseExpiresAtMs: 1_700_000_000_000, alreadyCommitted };
    t.same(cm.responseDeserialize(cm.responseSerialize(status)), status);
  }
  const lt = controllerServiceDefinition.ListTransactions;
  t.same(lt.requestDeserialize(lt.requestSerialize({ scope: "s", stream: "x", tagPrefix: "job-1/" })), { scope: "s", stream: "x", tagPrefix: "job-1/" });
  const listed: ListTransactionsResponse = { transactions: [{ txnId: "ab".repeat(16), tag: "job-1/3", createdAtMs: 1_700_000_000_000, leaseExpiresAtMs: 1_700_000_060_000 }] };
  t.same(lt.responseDeserialize(lt.responseSerialize(listed)), listed);
  t.same(lt.responseDeserialize(lt.responseSerialize({ transactions: [] })), { transactions: [] });
});

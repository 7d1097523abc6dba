// Transactions end to end in a real `sluice standalone` process: events written in a transaction are invisible
// until commit and then all visible; an aborted transaction and one whose lease expired leave no trace (no event
// visible, their transaction segments deleted); and a transaction committed after the stream scaled under it
// (a commit that meets a concurrent scale) lands in full, with per-key order kept across the epochs.
import t from "tap";
import { Sluice } from "../client/index.js";
import { ControllerClient } from "../client/controller/controller-client.js";
import { WireConnection } from "../proto/index.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";
import { eventually } from "./support/lognodes.js";

void t.test("invisible until commit; abort and expiry leave no trace; commit during a scale lands", async (t) => {
  const standalone = await startStandaloneProcess(t.testdir());
  t.teardown(() => standalone.kill());
  const sluice = await Sluice.connect(standalone.controllerUri);
  t.teardown(() => sluice.close());
  const controller = new ControllerClient(`127.0.0.1:${standalone.controllerPort}`);
  t.teardown(() => controller.close());
  const store = await WireConnection.connect("127.0.0.1", standalone.segmentStorePort, { connectTimeoutMs: 5_000 });
  t.teardown(() => store.close());
  const exists = async (segment: string) =>
    store.request({ type: "GetSegmentInfo", requestId: store.nextRequestId(), segment }, "SegmentInfo", 5_000).then(
      () => true,
      (err: { code?: string }) => (err.code === "NO_SUCH_SEGMENT" ? false : Promise.reject(err as Error)),
    );

  await sluice.admin.createScope("tx");
  await sluice.admin.createStream("tx/orders", { scaling: { type: "fixed", minSegments: 2 } });
  const txw = sluice.transactionalWriter("tx/orders");

  // Committed: invisible before, all visible after.
  const committed = await txw.beginTransaction();
  for (let i = 0; i < 100; i++) await committed.write(testEvent(`c${i % 10}`, Math.floor(i / 10)), { routingKey: `c${i % 10}` });
  await committed.flush();
  t.equal((await readAllByKey(sluice, "tx/orders")).total, 0, "nothing visible before commit");
  t.equal(await committed.status(), "OPEN");
  await committed.commit();
  t.equal(await committed.status(), "COMMITTED");
  const afterCommit = await readAllByKey(sluice, "tx/orders");
  t.equal(afterCommit.total, 100, "all 100 events visible after commit");
  for (const [key, seqs] of afterCommit.byKey) t.same(seqs, [...Array(10).keys()], `key ${key} in order`);

  // Aborted: nothing visible, its segments deleted; a commit after it is refused.
  const aborted = await txw.beginTransaction();
  for (let i = 0; i < 50; i++) await aborted.write(testEvent(`a${i % 5}`, i), { routingKey: `a${i % 5}` });
  await aborted.flush();
  const abortedSegments = (await controller.call("GetTransactionStatus", { scope: "tx", stream: "orders", txnId: aborted.id })).state;
  t.equal(abortedSegments, "OPEN");
  await aborted.abort();
  t.equal(await aborted.status(), "ABORTED");
  await t.rejects(controller.call("CommitTransaction", { scope: "tx", stream: "orders", txnId: aborted.id }), { code: "TRANSACTION_CLOSED" });
  t.equal((await readAllByKey(sluice, "tx/orders")).total, 100, "the aborted events never show");

  // Expired: created without pings (a client that died), its lease runs out and it is aborted.
  const lonely = await controller.call("CreateTransaction", { scope: "tx", stream: "orders", leaseMs: 1000 });
  const lonelySegments = lonely.segments.map((s) => s.txnSegment);
  t.equal(lonelySegments.length, 2, "one transaction segment per segment");
  for (const s of lonelySegments) t.ok(await exists(s), `${s} exists while open`);
  const expired = await eventually(async () => (await controller.call("GetTransactionStatus", { scope: "tx", stream: "orders", txnId: lonely.txnId })).state === "ABORTED", 30_000);
  t.ok(expired, "the transaction was aborted when its lease expired");
  for (const s of lonelySegments) t.notOk(await exists(s), `${s} was deleted`);
  await t.rejects(controller.call("PingTransaction", { scope: "tx", stream: "orders", txnId: lonely.txnId, leaseMs: 1000 }), { code: "TRANSACTION_CLOSED" });

  // Commit that meets a scale: written in epoch 0, the stream splits, then the commit lands in full.
  const during = await txw.beginTransaction();
  for (let i = 0; i < 200; i++) await during.write(testEvent(`d${i % 20}`, Math.floor(i / 20)), { routingKey: `d${i % 20}` });
  await during.flush();
  const info = await sluice.admin.streamInfo("tx/orders");
  const first = info.segments[0]!;
  const mid = (first.keyStart + first.keyEnd) / 2;
  const scale = sluice.admin.scaleStream("tx/orders", [first.segment], [{ keyStart: first.keyStart, keyEnd: mid }, { keyStart: mid, keyEnd: first.keyEnd }]);
  const commit = during.commit();
  await Promise.all([scale, commit]);
  t.equal(await during.status(), "COMMITTED");
  // Events written after the commit, with the same keys, must read after the transaction's.
  const writer = sluice.writer("tx/orders");
  for (let i = 0; i < 40; i++) await writer.write(testEvent(`d${i % 20}`, 10 + Math.floor(i / 20)), { routingKey: `d${i % 20}` });
  await writer.close();
  const final = await readAllByKey(sluice, "tx/orders");
  t.equal(final.total, 100 + 200 + 40, "the transaction that met a scale is fully visible");
  for (let k = 0; k < 20; k++) t.same(final.byKey.get(`d${k}`), [...Array(12).keys()], `key d${k}: transaction events, then later ones, in order`);
  t.ok((await sluice.admin.streamInfo("tx/orders")).epoch >= 1, "the stream did scale");
});

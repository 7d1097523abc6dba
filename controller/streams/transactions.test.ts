// Proves transactions with an in-memory segment fake and the embedded metadata store: events stay
// out of the parents until commit; commit merges them after what the parents held; abort and lease
// expiry delete the transaction segments and leave nothing; a commit that meets a scale (done, or
// in flight) lands as a rolling commit with epochs D then A', and a reader following successors
// per routing key sees events in commit order; a commit cut short is finished exactly once.
import t from "tap";
import { txnLeaseMsMaxDefault, txnRecordKeptMsDefault, txnSegmentName } from "../../common/index.js";
import { encodeTxn, txnKey, type TxnRecord } from "../txn/index.js";
import type { StreamService } from "./stream-service.js";
import { drive, harness, keysUnder, orphans, until, type FakeSegmentOps } from "./stream-test-support.js";

const fixed = (n: number) => ({ scaling: { type: "FIXED" as const, minSegments: n, targetRate: 0, scaleFactor: 0 } });

/** What a reader following successors sees for routing-key position `key`, from the head. */
async function readKey(svc: StreamService, ops: FakeSegmentOps, scope: string, stream: string, key: number): Promise<string[]> {
  const contains = (r: { keyStart: number; keyEnd: number } | undefined) => r !== undefined && r.keyStart <= key && key < r.keyEnd;
  let segment = (await svc.segmentsAtCut(scope, stream)).find((p) => contains(p.range))?.range?.segment;
  const out: string[] = [];
  while (segment !== undefined) {
    out.push(...ops.events(segment));
    segment = (await svc.successors(segment)).find((s) => contains(s.range))?.range?.segment;
  }
  return out;
}

void t.test("events are invisible until commit, which appends them to the parents", async (t) => {
  const { svc, ops, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  const [a, b] = await svc.currentRanges("sc", "s");
  const txn = await svc.createTransaction("sc", "s", 30_000);
  t.match(txn.txnId, /^[0-9a-f]{32}$/);
  t.equal(txn.epoch, 0);
  t.same(txn.segments.map((s) => [s.parent?.segment, s.txnSegment]), [
    [a!.segment, txnSegmentName(a!.segment, txn.txnId)],
    [b!.segment, txnSegmentName(b!.segment, txn.txnId)],
  ]);
  t.equal(txn.leaseExpiresAtMs, 1_700_000_000_000 + 30_000);
  ops.append(a!.segment, "a-before");
  ops.append(txn.segments[0]!.txnSegment, "t-a1");
  ops.append(txn.segments[0]!.txnSegment, "t-a2");
  ops.append(txn.segments[1]!.txnSegment, "t-b1");
  ops.append(a!.segment, "a-during");
  t.same(ops.events(a!.segment), ["a-before", "a-during"], "not in the parent while open");
  t.same(await svc.transactionStatus("sc", "s", txn.txnId), { state: "OPEN", leaseExpiresAtMs: txn.leaseExpiresAtMs, alreadyCommitted: false });
  t.same((await svc.endpointOf(txn.segments[0]!.txnSegment)).container, (await svc.endpointOf(a!.segment)).container, "a transaction segment lives with its parent");
  t.same(await svc.commitTransaction("sc", "s", txn.txnId), { state: "COMMITTED", leaseExpiresAtMs: txn.leaseExpiresAtMs, alreadyCommitted: false }, "this call committed it");
  t.same(ops.events(a!.segment), ["a-before", "a-during", "t-a1", "t-a2"]);
  t.same(ops.events(b!.segment), ["t-b1"]);
  for (const s of txn.segments) t.notOk(ops.segments.has(s.txnSegment), "merged sources are gone");
  t.same(await svc.commitTransaction("sc", "s", txn.txnId), { state: "COMMITTED", leaseExpiresAtMs: txn.leaseExpiresAtMs, alreadyCommitted: true }, "commit again: idempotent, and says so");
  t.equal((await svc.transactionStatus("sc", "s", txn.txnId)).alreadyCommitted, false, "only a commit answers alreadyCommitted");
  t.same(ops.events(a!.segment), ["a-before", "a-during", "t-a1", "t-a2"], "merged once");
  await t.rejects(svc.abortTransaction("sc", "s", txn.txnId), { code: "TRANSACTION_CLOSED" });
  await t.rejects(svc.pingTransaction("sc", "s", txn.txnId, 10_000), { code: "TRANSACTION_CLOSED" });
  t.equal((await svc.getStream("sc", "s")).epoch, 0, "a plain commit makes no epoch");
  t.same(await orphans(store, ops), []);
});

void t.test("abort deletes the transaction segments; expiry aborts; ended records go after a while", async (t) => {
  const { svc, ops, store, clock } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  const aborted = await svc.createTransaction("sc", "s", 10_000);
  ops.append(aborted.segments[0]!.txnSegment, "x");
  t.equal((await svc.abortTransaction("sc", "s", aborted.txnId)).state, "ABORTED");
  t.equal((await svc.abortTransaction("sc", "s", aborted.txnId)).state, "ABORTED", "idempotent");
  for (const s of aborted.segments) t.notOk(ops.segments.has(s.txnSegment));
  t.same(ops.events("sc/s/0.#epoch.0"), [], "nothing reached the parent");
  await t.rejects(svc.commitTransaction("sc", "s", aborted.txnId), { code: "TRANSACTION_CLOSED" });
  await t.rejects(svc.pingTransaction("sc", "s", aborted.txnId, 10_000), { code: "TRANSACTION_CLOSED" });

  const pinged = await svc.createTransaction("sc", "s", 10_000);
  const expiring = await svc.createTransaction("sc", "s", 10_000);
  clock.advance(9_000);
  t.equal((await svc.pingTransaction("sc", "s", pinged.txnId, 10_000)).leaseExpiresAtMs, clock.nowMs() + 10_000);
  clock.advance(2_000);
  await svc.expireTransactions();
  t.equal((await svc.transactionStatus("sc", "s", expiring.txnId)).state, "ABORTED", "lease ran out");
  t.equal((await svc.transactionStatus("sc", "s", pinged.txnId)).state, "OPEN", "pinged in time");
  for (const s of expiring.segments) t.notOk(ops.segments.has(s.txnSegment));
  clock.advance(10_000);
  await t.rejects(svc.commitTransaction("sc", "s", pinged.txnId), { code: "TRANSACTION_CLOSED", message: /expired/ }, "a commit after the lease ran out aborts instead");
  t.equal((await svc.transactionStatus("sc", "s", pinged.txnId)).state, "ABORTED");
  t.same(await orphans(store, ops), []);
  clock.advance(txnRecordKeptMsDefault);
  await svc.expireTransactions();
  await t.rejects(svc.transactionStatus("sc", "s", aborted.txnId), { code: "TRANSACTION_RECORD_GONE" }, "an ended record is removed after --txn-record-kept-ms");
  t.same(await keysUnder(store, "txns/", "txnsended/", "txnsexpiry/"), []);
  t.same([...ops.segments.keys()].sort(), ["sc/s/0.#epoch.0", "sc/s/1.#epoch.0"], "only the stream's own segments are left");
});

void t.test("transaction input errors", async (t) => {
  const { svc, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s");
  await t.rejects(svc.createTransaction("sc", "s", 999), { code: "INVALID_ARGUMENT", message: /leaseMs/ });
  await t.rejects(svc.createTransaction("sc", "s", txnLeaseMsMaxDefault + 1), { code: "INVALID_ARGUMENT", message: /leaseMs must be an integer in \[1000, 3600000\]/ });
  await t.rejects(svc.createTransaction("sc", "nope", 10_000), { code: "NO_SUCH_STREAM" });
  await t.rejects(svc.commitTransaction("sc", "s", "XYZ"), { code: "INVALID_ARGUMENT", message: /32 lower-case hex/ });
  await t.rejects(svc.transactionStatus("sc", "s", "0".repeat(32)), { code: "TRANSACTION_RECORD_GONE" }, "an id from 1970: any record would be long gone");
  await t.rejects(svc.abortTransaction("sc", "s", "0".repeat(32)), { code: "TRANSACTION_RECORD_GONE" });
  const txn = await svc.createTransaction("sc", "s", 10_000);
  await t.rejects(svc.pingTransaction("sc", "s", txn.txnId, 0), { code: "INVALID_ARGUMENT" });
  // The per-stream bound: fill the store with open records (as if created), then one more is refused.
  const open: TxnRecord = { txnId: "", state: "OPEN", epoch: 0, parents: [], createdAtMs: 0, leaseExpiresAtMs: Number.MAX_SAFE_INTEGER };
  for (let i = 0; i < 10_000; i += 100) {
    await store.txn(
      [],
      Array.from({ length: 100 }, (_, j) => {
        const txnId = (i + j).toString(16).padStart(32, "0");
        return { type: "put" as const, key: txnKey("sc", "s", txnId), value: encodeTxn({ ...open, txnId }) };
      }),
    );
  }
  await t.rejects(svc.createTransaction("sc", "s", 10_000), { code: "OVERLOADED" });
  t.equal((await keysUnder(store, "txns/sc/s/")).length, 10_001, "nothing was added");
});

void t.test("a commit after a scale is a rolling commit: A -> D -> A', per-key order kept", async (t) => {
  const { svc, ops, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 1, targetRate: 10, scaleFactor: 2 } });
  const [a] = await svc.currentRanges("sc", "s");
  const first = await svc.createTransaction("sc", "s", 60_000);
  const second = await svc.createTransaction("sc", "s", 60_000);
  ops.append(a!.segment, "a1");
  ops.append(first.segments[0]!.txnSegment, "t1");
  ops.append(second.segments[0]!.txnSegment, "t2");
  await svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
  ops.append("sc/s/1.#epoch.1", "low1");
  ops.append("sc/s/2.#epoch.1", "high1");
  t.equal((await svc.commitTransaction("sc", "s", first.txnId)).state, "COMMITTED");
  const info = await svc.getStream("sc", "s");
  t.equal(info.epoch, 3, "epochs C+1 (D) and C+2 (A') committed");
  t.same(info.segments.map((s) => s.segment), ["sc/s/1.#epoch.3", "sc/s/2.#epoch.3"], "A' duplicates the current segments");
  t.same(ops.events("sc/s/0.#epoch.2"), ["t1"], "D holds the transaction's events");
  t.equal(ops.segments.get("sc/s/0.#epoch.2")?.sealed, true, "D is sealed");
  t.equal(ops.segments.get("sc/s/1.#epoch.1")?.sealed, true, "A is sealed");
  const toD = await svc.successors("sc/s/1.#epoch.1");
  t.same(toD.map((s) => [s.range?.segment, s.predecessors.sort()]), [["sc/s/0.#epoch.2", ["sc/s/1.#epoch.1", "sc/s/2.#epoch.1"]]]);
  const toA = await svc.successors("sc/s/0.#epoch.2");
  t.same(toA.map((s) => [s.range?.segment, s.predecessors]), [["sc/s/1.#epoch.3", ["sc/s/0.#epoch.2"]], ["sc/s/2.#epoch.3", ["sc/s/0.#epoch.2"]]]);
  ops.append("sc/s/1.#epoch.3", "low2");
  t.same(await readKey(svc, ops, "sc", "s", 0.25), ["a1", "low1", "t1", "low2"]);
  t.same(await readKey(svc, ops, "sc", "s", 0.75), ["a1", "high1", "t1"]);
  // The second transaction of epoch 0 rolls again, over the duplicates.
  t.equal((await svc.commitTransaction("sc", "s", second.txnId)).state, "COMMITTED");
  t.equal((await svc.getStream("sc", "s")).epoch, 5);
  t.same(await readKey(svc, ops, "sc", "s", 0.25), ["a1", "low1", "t1", "low2", "t2"]);
  const tail = (await svc.tailCut("sc", "s"))!;
  t.equal(tail.sizeBytes, ["a1", "low1", "high1", "t1", "low2", "t2"].reduce((n, e) => n + e.length + 4, 0), "every byte counted once");
  t.same(await orphans(store, ops), []);
});

void t.test("a commit that meets a scale in flight waits for it and then rolls", async (t) => {
  const h = await harness(t, { pauseAfterSealMs: 5_000 });
  await h.svc.createScope("sc");
  await h.svc.createStream("sc", "s", fixed(1));
  await h.svc.updateStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 1, targetRate: 10, scaleFactor: 2 } });
  const [a] = await h.svc.currentRanges("sc", "s");
  const txn = await h.svc.createTransaction("sc", "s", 60_000);
  h.ops.append(txn.segments[0]!.txnSegment, "t1");
  h.ops.append(a!.segment, "a1");
  const scaling = h.svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
  await until(() => h.ops.segments.get(a!.segment)?.sealed === true, "scale paused after sealing");
  const committing = h.another().commitTransaction("sc", "s", txn.txnId);
  const [scaled, committed] = await drive(h.clock, Promise.all([scaling, committing]));
  t.equal(scaled.epoch, 1);
  t.equal(committed.state, "COMMITTED");
  t.equal((await h.svc.getStream("sc", "s")).epoch, 3, "rolled over the scale");
  t.same(await readKey(h.svc, h.ops, "sc", "s", 0.1), ["a1", "t1"]);
  t.same(await orphans(h.store, h.ops), []);
});

void t.test("a commit cut short is finished exactly once, also by two controllers at once", async (t) => {
  const h = await harness(t);
  await h.svc.createScope("sc");
  await h.svc.createStream("sc", "s", fixed(3));
  const txn = await h.svc.createTransaction("sc", "s", 60_000);
  txn.segments.forEach((s, i) => h.ops.append(s.txnSegment, `t${i}`));
  h.ops.callsBeforeCrash = 1;
  await t.rejects(h.svc.commitTransaction("sc", "s", txn.txnId), /simulated/);
  t.equal((await h.svc.transactionStatus("sc", "s", txn.txnId)).state, "COMMITTING", "the decision stands");
  t.same(h.ops.events("sc/s/0.#epoch.0"), ["t0"], "one merge happened");
  h.ops.callsBeforeCrash = undefined;
  await Promise.all([h.another().resumeWorkflows(0), h.another().resumeWorkflows(0)]);
  t.equal((await h.svc.transactionStatus("sc", "s", txn.txnId)).state, "COMMITTED");
  t.same([0, 1, 2].map((i) => h.ops.events(`sc/s/${i}.#epoch.0`)), [["t0"], ["t1"], ["t2"]], "each merged exactly once");
  t.same(await orphans(h.store, h.ops), []);

  // A rolling commit cut short after its duplicates were created and merged.
  const rolling = await h.svc.createTransaction("sc", "s", 60_000);
  h.ops.append(rolling.segments[1]!.txnSegment, "r1");
  const segs = await h.svc.currentRanges("sc", "s");
  await h.svc.scale("sc", "s", [segs[1]!.segment], [{ keyStart: 1 / 3, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 2 / 3 }]);
  h.ops.callsBeforeCrash = 6; // 3 duplicates created, 3 merges, then the first create of A' fails
  await t.rejects(h.svc.commitTransaction("sc", "s", rolling.txnId), /simulated/);
  h.ops.callsBeforeCrash = undefined;
  await h.svc.resumeWorkflows(0);
  t.equal((await h.svc.transactionStatus("sc", "s", rolling.txnId)).state, "COMMITTED");
  t.equal((await h.svc.getStream("sc", "s")).epoch, 3);
  t.same(h.ops.events("sc/s/1.#epoch.2"), ["r1"]);
  t.same(await orphans(h.store, h.ops), []);
});

void t.test("sealing lands a commit that was decided but not yet run", async (t) => {
  const h = await harness(t);
  await h.svc.createScope("sc");
  await h.svc.createStream("sc", "s", fixed(1));
  const txn = await h.svc.createTransaction("sc", "s", 60_000);
  h.ops.append(txn.segments[0]!.txnSegment, "t1");
  h.ops.callsBeforeCrash = 0;
  await t.rejects(h.svc.commitTransaction("sc", "s", txn.txnId), /simulated/);
  h.ops.callsBeforeCrash = undefined;
  // The commit batch still holds the slot: the seal runs it itself (it holds a transaction the seal must land).
  await drive(h.clock, h.svc.sealStream("sc", "s"), 500);
  t.equal((await h.svc.transactionStatus("sc", "s", txn.txnId)).state, "COMMITTED");
  t.same(h.ops.events("sc/s/0.#epoch.0"), ["t1"]);
  t.equal(h.ops.segments.get("sc/s/0.#epoch.0")?.sealed, true);
  t.same(await orphans(h.store, h.ops), []);
});

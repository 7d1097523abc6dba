// Proves, through the stream service with an in-memory segment fake and the embedded metadata store,
// that ended transaction records are kept apart from live ones: creates (the open count), listings,
// commits and expiry rounds read no ended record, and the open bound counts only open ones; a full
// commit batch, in the same epoch and rolled over a scale, moves every transaction to its ended key
// in its one metadata transaction (within the store's operation bound), and a repeated commit then
// answers alreadyCommitted; deleting a stream leaves none of its ended records, and the expiry sweep
// later removes their index entries.
import t from "tap";
import { txnRecordKeptMsDefault } from "../../common/index.js";
import type { ListOptions } from "../store/index.js";
import { readTxn, txnEndedKey, txnKey } from "../txn/index.js";
import { txnCommitBatchMax } from "./commit-workflow.js";
import { harness, keysUnder, orphans } from "./stream-test-support.js";

const fixed = (n: number) => ({ scaling: { type: "FIXED" as const, minSegments: n, targetRate: 0, scaleFactor: 0 } });

void t.test("creates, listings, commits and expiry rounds read no ended record", async (t) => {
  const { svc, store, ops, clock } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  for (let i = 0; i < 20; i++) {
    const txn = await svc.createTransaction("sc", "s", 60_000, "job/0");
    if (i % 2 === 0) await svc.commitTransaction("sc", "s", txn.txnId);
    else await svc.abortTransaction("sc", "s", txn.txnId);
  }
  const open = await svc.createTransaction("sc", "s", 60_000, "job/0");
  t.equal((await keysUnder(store, "txnsended/sc/s/")).length, 20, "twenty ended records kept");
  t.same(await keysUnder(store, "txns/sc/s/"), [txnKey("sc", "s", open.txnId)], "the live keys hold the open one only");

  const listed: string[] = [];
  const list = store.list.bind(store);
  store.list = async (prefix: string, options?: ListOptions) => {
    const page = await list(prefix, options);
    listed.push(...page.entries.map((kv) => kv.key));
    return page;
  };
  clock.advance(1);
  const another = await svc.createTransaction("sc", "s", 60_000, "job/1");
  t.same((await svc.listTransactions("sc", "s", "job/")).transactions.map((x) => x.txnId), [open.txnId, another.txnId]);
  await svc.commitTransaction("sc", "s", open.txnId);
  t.same((await svc.commitTransaction("sc", "s", open.txnId)).alreadyCommitted, true, "a repeated commit after the move");
  await svc.expireTransactions();
  await svc.resumeWorkflows(0);
  t.same(listed.filter((k) => k.startsWith("txnsended/")), [], "no ended record was listed");
  t.ok(listed.filter((k) => k.startsWith("txns/")).every((k) => k === txnKey("sc", "s", open.txnId) || k === txnKey("sc", "s", another.txnId)), "only live records were");
  t.equal(listed.filter((k) => k.startsWith("txnsexpiry/")).length, 1, "the sweep read one index key: the first, not due");
  t.same(await orphans(store, ops), []);
});

void t.test("the open bound counts open transactions only", async (t) => {
  const { svc, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(1));
  const ended = await svc.createTransaction("sc", "s", 60_000);
  await svc.commitTransaction("sc", "s", ended.txnId);
  // Open records as if created, up to one below the bound (the test in transactions.test.ts fills it).
  const found = await svc.createTransaction("sc", "s", 60_000);
  const record = (await readTxn(store, "sc", "s", found.txnId))!.record;
  for (let i = 1; i < 10_000 - 1; i += 100) {
    await store.txn(
      [],
      Array.from({ length: Math.min(100, 10_000 - 1 - i) }, (_, j) => {
        const txnId = (i + j).toString(16).padStart(32, "0");
        return { type: "put" as const, key: txnKey("sc", "s", txnId), value: Buffer.from(JSON.stringify({ ...record, txnId })) };
      }),
    );
  }
  t.equal((await keysUnder(store, "txns/sc/s/")).length, 9_999);
  const last = await svc.createTransaction("sc", "s", 60_000);
  t.ok(last.txnId, "the 10,000th open one is created: the committed one does not count");
  await t.rejects(svc.createTransaction("sc", "s", 60_000), { code: "OVERLOADED" });
});

for (const rolled of [false, true]) {
  void t.test(`a full commit batch ${rolled ? "rolled over a scale" : "in the same epoch"} moves every transaction in one metadata transaction`, async (t) => {
    const { svc, store, ops } = await harness(t);
    await svc.createScope("sc");
    await svc.createStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 1, targetRate: 10, scaleFactor: 2 } });
    const count = txnCommitBatchMax + 5;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const txn = await svc.createTransaction("sc", "s", 60_000);
      ops.append(txn.segments[0]!.txnSegment, `t${i}`);
      ids.push(txn.txnId);
    }
    if (rolled) {
      const [a] = await svc.currentRanges("sc", "s");
      await svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
    }
    // Decided but not run, as if their committers died: the next commit batches them.
    for (const id of ids.slice(1)) {
      const found = (await readTxn(store, "sc", "s", id))!;
      await store.compareAndSet(found.key, found.version, Buffer.from(JSON.stringify({ ...found.record, state: "COMMITTING", decidedAtMs: 0 })));
    }
    const epochBefore = (await svc.getStream("sc", "s")).epoch;
    t.same((await svc.commitTransaction("sc", "s", ids[0]!)).state, "COMMITTED");
    t.equal((await svc.getStream("sc", "s")).epoch, epochBefore + (rolled ? 2 : 0), "one batch");
    let ended = 0;
    for (const id of ids) if ((await store.get(txnEndedKey("sc", "s", id))) !== undefined) ended++;
    t.equal(ended, txnCommitBatchMax, `the batch ended ${txnCommitBatchMax} at once`);
    t.equal((await keysUnder(store, "txns/sc/s/")).length, count - txnCommitBatchMax, "the rest still live, COMMITTING");
    await svc.resumeWorkflows(0);
    t.same(await keysUnder(store, "txns/sc/s/"), [], "resumed: all ended");
    for (const id of ids) t.equal((await svc.transactionStatus("sc", "s", id)).state, "COMMITTED");
    t.same((await svc.commitTransaction("sc", "s", ids[count - 1]!)).alreadyCommitted, true);
    t.equal((await keysUnder(store, "txnsexpiry/")).length, count, "each indexed once");
    t.same(await orphans(store, ops), []);
  });
}

void t.test("deleting a stream removes its ended records; the sweep removes their index entries when due", async (t) => {
  const { svc, store, clock } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(1));
  await svc.createStream("sc", "s2", fixed(1));
  for (let i = 0; i < 30; i++) {
    const txn = await svc.createTransaction("sc", "s", 60_000);
    await svc.commitTransaction("sc", "s", txn.txnId);
  }
  const kept = await svc.createTransaction("sc", "s2", 60_000);
  await svc.commitTransaction("sc", "s2", kept.txnId);
  const gone = (await keysUnder(store, "txnsended/sc/s/"))[0]!.slice("txnsended/sc/s/".length);
  await svc.sealStream("sc", "s");
  await svc.deleteStream("sc", "s");
  t.same(await keysUnder(store, "txns/sc/s/", "txnsended/sc/s/"), [], "no record of the deleted stream is left");
  t.same(await keysUnder(store, "txnsended/sc/"), [txnEndedKey("sc", "s2", kept.txnId)], "the other stream's is kept");
  t.equal((await keysUnder(store, "txnsexpiry/")).length, 31, "index entries wait for the sweep");
  clock.advance(txnRecordKeptMsDefault);
  await svc.expireTransactions();
  t.same(await keysUnder(store, "txnsexpiry/", "txnsended/"), [], "removed when due, with or without their record");
  await svc.createStream("sc", "s", fixed(1));
  await t.rejects(svc.transactionStatus("sc", "s", gone), { code: "TRANSACTION_RECORD_GONE" });
});

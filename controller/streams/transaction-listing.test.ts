// Proves, through the stream service with an in-memory segment fake and the embedded metadata store,
// what the Flink exactly-once sink needs from the controller: transactions carry a validated tag;
// ListTransactions answers only OPEN ones whose tag starts with the prefix, in id (creation) order,
// and NO_SUCH_STREAM for an unknown stream; a commit says whether it found the transaction committed
// already; the longest lease and the record keeping are the configured ones; an ended record keeps
// no parents; and a commit or status after the record was removed is TRANSACTION_RECORD_GONE while
// an unknown recent id stays NO_SUCH_TRANSACTION.
import t from "tap";
import { txnTagBytesMax } from "../../common/index.js";
import { newTxnId, readTxn } from "../txn/index.js";
import { harness, keysUnder, orphans } from "./stream-test-support.js";

const fixed = (n: number) => ({ scaling: { type: "FIXED" as const, minSegments: n, targetRate: 0, scaleFactor: 0 } });

void t.test("tags are validated and stored; listing filters by state and prefix, in id order", async (t) => {
  const { svc, clock } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  await t.rejects(svc.createTransaction("sc", "s", 10_000, "x".repeat(txnTagBytesMax + 1)), { code: "INVALID_ARGUMENT", message: /tag .*at most 200 bytes/ });
  await t.rejects(svc.createTransaction("sc", "s", 10_000, "line\nbreak"), { code: "INVALID_ARGUMENT" });
  await t.rejects(svc.createTransaction("sc", "s", 10_000, "naïve"), { code: "INVALID_ARGUMENT" });
  t.same((await svc.listTransactions("sc", "s", "")).transactions, [], "nothing was created by the refused calls");

  const a1 = await svc.createTransaction("sc", "s", 10_000, "job-a/0");
  clock.advance(1);
  const b1 = await svc.createTransaction("sc", "s", 20_000, "job-b/0");
  clock.advance(1);
  const a2 = await svc.createTransaction("sc", "s", 10_000, "job-a/1");
  clock.advance(1);
  const untagged = await svc.createTransaction("sc", "s", 10_000);
  clock.advance(1);
  const a3 = await svc.createTransaction("sc", "s", 10_000, "job-a/0");
  const createdAt = 1_700_000_000_000;
  t.same((await svc.listTransactions("sc", "s", "job-a/")).transactions, [
    { txnId: a1.txnId, tag: "job-a/0", createdAtMs: createdAt, leaseExpiresAtMs: a1.leaseExpiresAtMs },
    { txnId: a2.txnId, tag: "job-a/1", createdAtMs: createdAt + 2, leaseExpiresAtMs: a2.leaseExpiresAtMs },
    { txnId: a3.txnId, tag: "job-a/0", createdAtMs: createdAt + 4, leaseExpiresAtMs: a3.leaseExpiresAtMs },
  ], "only the prefix's, in creation order");
  t.same((await svc.listTransactions("sc", "s", "")).transactions.map((x) => x.txnId), [a1.txnId, b1.txnId, a2.txnId, untagged.txnId, a3.txnId], "empty prefix: all open, untagged too");
  t.same((await svc.listTransactions("sc", "s", "job-a/0")).transactions.map((x) => x.txnId), [a1.txnId, a3.txnId]);
  t.same((await svc.listTransactions("sc", "s", "job-c")).transactions, []);

  await svc.commitTransaction("sc", "s", a1.txnId);
  await svc.abortTransaction("sc", "s", a2.txnId);
  clock.advance(1);
  const later = await svc.createTransaction("sc", "s", 10_000, "job-a/2");
  t.same((await svc.listTransactions("sc", "s", "job-a/")).transactions.map((x) => x.txnId), [a3.txnId, later.txnId], "committed and aborted ones are left out");
  t.same((await svc.listTransactions("sc", "s", "job-a/")).transactions.map((x) => x.tag), ["job-a/0", "job-a/2"]);

  await t.rejects(svc.listTransactions("sc", "nope", ""), { code: "NO_SUCH_STREAM" });
  await t.rejects(svc.listTransactions("sc", "s", "bad\u0001"), { code: "INVALID_ARGUMENT", message: /tagPrefix/ });
  await svc.sealStream("sc", "s");
  t.same((await svc.listTransactions("sc", "s", "")).transactions, [], "a sealed stream answers: its open transactions were aborted");
});

void t.test("listing leaves out transactions being committed or aborted", async (t) => {
  const { svc, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(1));
  const deciding = await svc.createTransaction("sc", "s", 10_000, "t");
  const open = await svc.createTransaction("sc", "s", 10_000, "t");
  const found = await readTxn(store, "sc", "s", deciding.txnId);
  await store.compareAndSet(`txns/sc/s/${deciding.txnId}`, found!.version, Buffer.from(JSON.stringify({ ...found!.record, state: "COMMITTING" })));
  t.same((await svc.listTransactions("sc", "s", "t")).transactions.map((x) => x.txnId), [open.txnId]);
});

void t.test("commit answers alreadyCommitted: false when it commits, true when it finds it committed", async (t) => {
  const { svc, ops, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(2));
  const txn = await svc.createTransaction("sc", "s", 10_000, "job/0");
  ops.append(txn.segments[0]!.txnSegment, "e1");
  const first = await svc.commitTransaction("sc", "s", txn.txnId);
  t.same(first, { state: "COMMITTED", leaseExpiresAtMs: txn.leaseExpiresAtMs, alreadyCommitted: false });
  const second = await svc.commitTransaction("sc", "s", txn.txnId);
  t.same(second, { state: "COMMITTED", leaseExpiresAtMs: txn.leaseExpiresAtMs, alreadyCommitted: true });
  t.same(ops.events("sc/s/0.#epoch.0"), ["e1"], "merged once");
  const record = (await readTxn(store, "sc", "s", txn.txnId))?.record;
  t.equal(record?.state, "COMMITTED");
  t.same(record?.parents, [], "the committed record keeps no parents");
  t.equal(record?.tag, "job/0", "but keeps its tag");
  t.same(await keysUnder(store, "txns/"), [], "and has left the live keys");
  t.same((await svc.abortTransaction("sc", "s", (await svc.createTransaction("sc", "s", 10_000)).txnId)).alreadyCommitted, false, "abort answers false");
  t.same(await orphans(store, ops), []);
});

void t.test("the configured longest lease and record keeping are the ones applied", async (t) => {
  const keptMs = 2 * 60_000;
  const h = await harness(t, { txn: { recordKeptMs: keptMs, leaseMsMax: 5_000 } });
  const { svc, clock, store } = h;
  await svc.createScope("sc");
  await svc.createStream("sc", "s", fixed(1));
  await t.rejects(svc.createTransaction("sc", "s", 5_001), { code: "INVALID_ARGUMENT", message: /\[1000, 5000\]/ }, "create: names the configured range");
  const txn = await svc.createTransaction("sc", "s", 5_000);
  await t.rejects(svc.pingTransaction("sc", "s", txn.txnId, 5_001), { code: "INVALID_ARGUMENT", message: /\[1000, 5000\]/ }, "ping too");
  t.same((await svc.commitTransaction("sc", "s", txn.txnId)).alreadyCommitted, false);
  clock.advance(keptMs - 1);
  await svc.expireTransactions();
  t.same((await svc.commitTransaction("sc", "s", txn.txnId)).alreadyCommitted, true, "kept for the configured time");
  clock.advance(1);
  await svc.expireTransactions();
  t.same(await keysUnder(store, "txns/", "txnsended/", "txnsexpiry/"), [], "removed once the configured time passed, with its index entry");
  await t.rejects(svc.commitTransaction("sc", "s", txn.txnId), { code: "TRANSACTION_RECORD_GONE", message: /has no record: if it existed it ended more than 2 min ago/ });
  await t.rejects(svc.transactionStatus("sc", "s", txn.txnId), { code: "TRANSACTION_RECORD_GONE" });
  await t.rejects(svc.abortTransaction("sc", "s", txn.txnId), { code: "TRANSACTION_RECORD_GONE" });
  await t.rejects(svc.pingTransaction("sc", "s", txn.txnId, 2_000), { code: "TRANSACTION_RECORD_GONE" });
  const recent = newTxnId(clock.nowMs() - 1_000);
  await t.rejects(svc.commitTransaction("sc", "s", recent), { code: "NO_SUCH_TRANSACTION" }, "an unknown id younger than the keeping time never existed");
  await t.rejects(svc.transactionStatus("sc", "s", recent), { code: "NO_SUCH_TRANSACTION" });
  t.throws(() => h.another({ txn: { recordKeptMs: 59_999 } }), { code: "INVALID_CONFIG", message: /--txn-record-kept-ms/ }, "a service is not made with a value out of range");
  t.throws(() => h.another({ txn: { leaseMsMax: 24 * 60 * 60_000 + 1 } }), { code: "INVALID_CONFIG", message: /--txn-lease-max-ms/ });
});

// Proves the transaction records and the stream-independent parts of a transaction's life on the
// embedded metadata store with a recording segment deleter: ids and leases are checked, abort is
// two idempotent steps that delete every transaction segment once decided, a ping moves an open
// lease and closes an expired one, expiry aborts past-lease transactions and removes old ended
// records, and corrupt records are reported as DATA_CORRUPTION.
import t, { type Test } from "tap";
import { ManualClock, txnLeaseMsMin, txnRecordKeptMs } from "../../common/index.js";
import { FileMetadataStore } from "../store/index.js";
import { abortTxn, decideAbort, expireTransactions, finishAbort, pingTxn } from "./index.js";
import { encodeTxn, newTxnId, readTxn, txnKey, txnSegmentsOf, validateLeaseMs, validateTxnId, type TxnRecord } from "./txn-record.js";

async function setUp(t: Test) {
  const store = await FileMetadataStore.open(t.testdir());
  t.teardown(() => store.close());
  const clock = new ManualClock();
  const deleted: string[] = [];
  const deleter = {
    deleteSegment: (s: string) => {
      deleted.push(s);
      return Promise.resolve();
    },
  };
  const put = async (state: TxnRecord["state"], leaseMs = 10_000): Promise<TxnRecord> => {
    const record: TxnRecord = {
      txnId: newTxnId(),
      state,
      epoch: 0,
      parents: [{ number: 0, epoch: 0, keyStart: 0, keyEnd: 0.5 }, { number: 3, epoch: 1, keyStart: 0.5, keyEnd: 1 }],
      createdAtMs: clock.nowMs(),
      leaseExpiresAtMs: clock.nowMs() + leaseMs,
    };
    await store.put(txnKey("sc", "s", record.txnId), encodeTxn(record));
    return record;
  };
  return { store, clock, deleted, deleter, put };
}

void t.test("ids, leases and segment names", async (t) => {
  t.match(newTxnId(), /^[0-9a-f]{32}$/);
  t.not(newTxnId(), newTxnId());
  t.throws(() => validateTxnId("ABC"), { code: "INVALID_ARGUMENT" });
  t.throws(() => validateLeaseMs(txnLeaseMsMin - 1), { code: "INVALID_ARGUMENT", message: /leaseMs/ });
  t.throws(() => validateLeaseMs(1500.5), { code: "INVALID_ARGUMENT" });
  t.equal(validateLeaseMs(txnLeaseMsMin), txnLeaseMsMin);
  const record = { txnId: "f".repeat(32), parents: [{ number: 3, epoch: 1, keyStart: 0, keyEnd: 1 }] } as TxnRecord;
  t.same(txnSegmentsOf("sc", "s", record), [`sc/s/3.#epoch.1#txn.${"f".repeat(32)}`]);
});

void t.test("abort: decide, then delete the segments, then ABORTED; each step idempotent", async (t) => {
  const { store, clock, deleted, deleter, put } = await setUp(t);
  const open = await put("OPEN");
  t.equal((await decideAbort(store, clock, "sc", "s", open.txnId)).state, "ABORTING");
  t.same(deleted, [], "deciding deletes nothing yet");
  t.equal((await finishAbort(store, deleter, clock, "sc", "s", open.txnId))?.state, "ABORTED");
  t.same(deleted.sort(), txnSegmentsOf("sc", "s", open).sort());
  t.equal((await abortTxn(store, deleter, clock, "sc", "s", open.txnId)).state, "ABORTED", "again: nothing to do");
  t.equal(deleted.length, 2, "segments deleted once");
  const committing = await put("COMMITTING");
  await t.rejects(abortTxn(store, deleter, clock, "sc", "s", committing.txnId), { code: "TRANSACTION_CLOSED" });
  t.equal((await readTxn(store, "sc", "s", committing.txnId))?.record.state, "COMMITTING", "unchanged");
  await t.rejects(abortTxn(store, deleter, clock, "sc", "s", newTxnId()), { code: "NO_SUCH_TRANSACTION" });
});

void t.test("ping moves an open lease; an expired or ended transaction is closed", async (t) => {
  const { store, clock, deleter, put } = await setUp(t);
  const open = await put("OPEN", 5_000);
  clock.advance(4_000);
  t.equal((await pingTxn(store, deleter, clock, "sc", "s", open.txnId, 2_000)).leaseExpiresAtMs, clock.nowMs() + 2_000);
  clock.advance(2_000);
  await t.rejects(pingTxn(store, deleter, clock, "sc", "s", open.txnId, 2_000), { code: "TRANSACTION_CLOSED", message: /expired/ });
  t.equal((await readTxn(store, "sc", "s", open.txnId))?.record.state, "ABORTED", "the expired transaction was aborted");
  const committed = await put("COMMITTED");
  await t.rejects(pingTxn(store, deleter, clock, "sc", "s", committed.txnId, 2_000), { code: "TRANSACTION_CLOSED" });
});

void t.test("expiry aborts past-lease transactions and removes old ended records", async (t) => {
  const { store, clock, deleted, deleter, put } = await setUp(t);
  const short = await put("OPEN", 1_000);
  const long = await put("OPEN", 60_000);
  clock.advance(1_000);
  t.same(await expireTransactions(store, deleter, clock), { aborted: 1, removed: 0 });
  t.equal((await readTxn(store, "sc", "s", short.txnId))?.record.state, "ABORTED");
  t.equal((await readTxn(store, "sc", "s", long.txnId))?.record.state, "OPEN");
  t.equal(deleted.length, 2);
  clock.advance(txnRecordKeptMs - 1);
  t.same(await expireTransactions(store, deleter, clock), { aborted: 1, removed: 0 }, "the long one expired now; the ended record is kept a while");
  clock.advance(1);
  t.same(await expireTransactions(store, deleter, clock), { aborted: 0, removed: 1 });
  t.equal(await readTxn(store, "sc", "s", short.txnId), undefined);
});

void t.test("a record that does not parse is DATA_CORRUPTION", async (t) => {
  const { store } = await setUp(t);
  const id = newTxnId();
  await store.put(txnKey("sc", "s", id), Buffer.from("{"));
  await t.rejects(readTxn(store, "sc", "s", id), { code: "DATA_CORRUPTION" });
  await store.put(txnKey("sc", "s", id), Buffer.from('{"state":"WHAT"}'));
  await t.rejects(readTxn(store, "sc", "s", id), { code: "DATA_CORRUPTION" });
});

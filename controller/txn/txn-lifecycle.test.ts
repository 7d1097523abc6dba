// Proves the transaction records and the stream-independent parts of a transaction's life on the
// embedded metadata store with a recording segment deleter: ids and leases are checked, abort is
// two idempotent steps that delete every transaction segment once decided, a ping moves an open
// lease and closes an expired one, expiry aborts past-lease transactions and removes ended records
// after the configured keeping time, an ended record drops its parents, a missing record is
// TRANSACTION_RECORD_GONE or NO_SUCH_TRANSACTION by the age its id embeds, the settings refuse values
// outside their ranges, and corrupt records are reported as DATA_CORRUPTION.
import t, { type Test } from "tap";
import { ManualClock, txnLeaseMsMin, txnTagBytesMax } from "../../common/index.js";
import { FileMetadataStore } from "../store/index.js";
import { txnKey } from "./txn-keys.js";
import { abortTxn, decideAbort, expireTransactions, finishAbort, pingTxn, txnSettings } from "./index.js";
import {
  encodeTxn,
  missingTxnError,
  newTxnId,
  readTxn,
  requireTxn,
  txnIdCreatedAtMs,
  txnSegmentsOf,
  validateLeaseMs,
  validateTag,
  validateTxnId,
  type TxnRecord,
} from "./txn-record.js";

/** The record keeping these tests configure (short, to show the value is the one passed, not a default). */
const keptMs = 5 * 60_000;
const hourMs = 60 * 60_000;

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
      txnId: newTxnId(clock.nowMs()),
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

void t.test("ids, leases, tags and segment names", async (t) => {
  const nowMs = 1_765_000_000_123;
  const id = newTxnId(nowMs);
  t.match(id, /^[0-9a-f]{32}$/);
  t.equal(id.slice(0, 12), nowMs.toString(16).padStart(12, "0"), "the first 12 digits are the creation time, big-endian");
  t.equal(txnIdCreatedAtMs(id), nowMs);
  t.equal(txnIdCreatedAtMs(newTxnId(0)), 0);
  t.not(newTxnId(nowMs), newTxnId(nowMs), "the other 20 digits are random");
  t.throws(() => newTxnId(2 ** 48), /creation time/);
  t.throws(() => validateTxnId("ABC"), { code: "INVALID_ARGUMENT" });
  t.throws(() => validateLeaseMs(txnLeaseMsMin - 1, hourMs), { code: "INVALID_ARGUMENT", message: /leaseMs/ });
  t.throws(() => validateLeaseMs(1500.5, hourMs), { code: "INVALID_ARGUMENT" });
  t.throws(() => validateLeaseMs(hourMs + 1, hourMs), { code: "INVALID_ARGUMENT", message: /\[1000, 3600000\]/ }, "names the configured range");
  t.equal(validateLeaseMs(hourMs, hourMs), hourMs);
  t.equal(validateLeaseMs(txnLeaseMsMin, hourMs), txnLeaseMsMin);
  t.equal(validateTag("tag", ""), "");
  t.equal(validateTag("tag", " job-1/sub 3 ~"), " job-1/sub 3 ~");
  t.equal(validateTag("tag", "x".repeat(txnTagBytesMax)), "x".repeat(txnTagBytesMax));
  t.throws(() => validateTag("tag", "x".repeat(txnTagBytesMax + 1)), { code: "INVALID_ARGUMENT", message: /at most 200 bytes/ });
  for (const bad of ["a\nb", "tab\t", "é", "\u0000", "\u007f"]) t.throws(() => validateTag("tag", bad), { code: "INVALID_ARGUMENT" }, JSON.stringify(bad));
  t.throws(() => validateTag("tagPrefix", "ü"), { code: "INVALID_ARGUMENT", message: /^tagPrefix/ });
  const record = { txnId: "f".repeat(32), parents: [{ number: 3, epoch: 1, keyStart: 0, keyEnd: 1 }] } as TxnRecord;
  t.same(txnSegmentsOf("sc", "s", record), [`sc/s/3.#epoch.1#txn.${"f".repeat(32)}`]);
});

void t.test("abort: decide, then delete the segments, then ABORTED; each step idempotent", async (t) => {
  const { store, clock, deleted, deleter, put } = await setUp(t);
  const open = await put("OPEN");
  t.equal((await decideAbort(store, clock, "sc", "s", open.txnId, keptMs)).state, "ABORTING");
  t.same(deleted, [], "deciding deletes nothing yet");
  t.equal((await finishAbort(store, deleter, clock, "sc", "s", open.txnId))?.state, "ABORTED");
  t.same(deleted.sort(), txnSegmentsOf("sc", "s", open).sort());
  const ended = (await readTxn(store, "sc", "s", open.txnId))?.record;
  t.same(ended?.parents, [], "an ended record keeps no parents");
  t.equal(ended?.endedAtMs, clock.nowMs());
  t.ok(encodeTxn(ended!).length < encodeTxn(open).length, "and is smaller than the open one");
  t.equal((await abortTxn(store, deleter, clock, "sc", "s", open.txnId, keptMs)).state, "ABORTED", "again: nothing to do");
  t.equal(deleted.length, 2, "segments deleted once");
  const committing = await put("COMMITTING");
  await t.rejects(abortTxn(store, deleter, clock, "sc", "s", committing.txnId, keptMs), { code: "TRANSACTION_CLOSED" });
  t.equal((await readTxn(store, "sc", "s", committing.txnId))?.record.state, "COMMITTING", "unchanged");
  await t.rejects(abortTxn(store, deleter, clock, "sc", "s", newTxnId(clock.nowMs()), keptMs), { code: "NO_SUCH_TRANSACTION" });
});

void t.test("a missing record: TRANSACTION_RECORD_GONE once its id is older than the keeping time, else NO_SUCH_TRANSACTION", async (t) => {
  const { store, clock, deleter } = await setUp(t);
  const nowMs = clock.nowMs();
  const at = (ageMs: number) => newTxnId(nowMs - ageMs);
  t.equal(missingTxnError("sc", "s", at(0), nowMs, keptMs).code, "NO_SUCH_TRANSACTION", "created now");
  t.equal(missingTxnError("sc", "s", at(keptMs - 1), nowMs, keptMs).code, "NO_SUCH_TRANSACTION", "younger than the keeping time: a record would still be there");
  const gone = missingTxnError("sc", "s", at(keptMs), nowMs, keptMs);
  t.equal(gone.code, "TRANSACTION_RECORD_GONE", "exactly the keeping time: a record ended at creation is removed from now on");
  t.equal(gone.code, "TRANSACTION_RECORD_GONE");
  t.equal(gone.retriable, false);
  t.match(gone.message, /has no record: if it existed it ended more than 5 min ago .*no longer known/);
  t.equal(missingTxnError("sc", "s", newTxnId(nowMs + hourMs), nowMs, keptMs).code, "NO_SUCH_TRANSACTION", "an id from the future");
  t.equal(missingTxnError("sc", "s", at(keptMs + 1), nowMs, keptMs + 2).code, "NO_SUCH_TRANSACTION", "judged by the keeping time passed in");
  t.equal(missingTxnError("sc", "s", at(keptMs + 1), nowMs, keptMs).code, "TRANSACTION_RECORD_GONE");
  const old = at(keptMs + 1);
  await t.rejects(requireTxn(store, "sc", "s", old, clock, keptMs), { code: "TRANSACTION_RECORD_GONE" });
  await t.rejects(decideAbort(store, clock, "sc", "s", old, keptMs), { code: "TRANSACTION_RECORD_GONE" });
  await t.rejects(pingTxn(store, deleter, clock, "sc", "s", old, 2_000, keptMs), { code: "TRANSACTION_RECORD_GONE" });
  await t.rejects(pingTxn(store, deleter, clock, "sc", "s", at(1_000), 2_000, keptMs), { code: "NO_SUCH_TRANSACTION" });
});

void t.test("settings: defaults, and each option refused outside its range naming it", async (t) => {
  t.same(txnSettings(), { recordKeptMs: 25 * hourMs, leaseMsMax: hourMs });
  t.same(txnSettings({ recordKeptMs: 60_000, leaseMsMax: 1_000 }), { recordKeptMs: 60_000, leaseMsMax: 1_000 }, "both minimums");
  t.same(txnSettings({ recordKeptMs: 30 * 24 * hourMs, leaseMsMax: 24 * hourMs }), { recordKeptMs: 30 * 24 * hourMs, leaseMsMax: 24 * hourMs }, "both maximums");
  t.throws(() => txnSettings({ recordKeptMs: 59_999 }), { code: "INVALID_CONFIG", message: /--txn-record-kept-ms must be an integer in \[60000, 2592000000\]/ });
  t.throws(() => txnSettings({ recordKeptMs: 30 * 24 * hourMs + 1 }), { code: "INVALID_CONFIG", message: /--txn-record-kept-ms/ });
  t.throws(() => txnSettings({ leaseMsMax: 999 }), { code: "INVALID_CONFIG", message: /--txn-lease-max-ms must be an integer in \[1000, 86400000\]/ });
  t.throws(() => txnSettings({ leaseMsMax: 24 * hourMs + 1 }), { code: "INVALID_CONFIG", message: /--txn-lease-max-ms/ });
  t.throws(() => txnSettings({ leaseMsMax: 1500.5 }), { code: "INVALID_CONFIG" });
});

void t.test("ping moves an open lease; an expired or ended transaction is closed", async (t) => {
  const { store, clock, deleter, put } = await setUp(t);
  const open = await put("OPEN", 5_000);
  clock.advance(4_000);
  t.equal((await pingTxn(store, deleter, clock, "sc", "s", open.txnId, 2_000, keptMs)).leaseExpiresAtMs, clock.nowMs() + 2_000);
  clock.advance(2_000);
  await t.rejects(pingTxn(store, deleter, clock, "sc", "s", open.txnId, 2_000, keptMs), { code: "TRANSACTION_CLOSED", message: /expired/ });
  t.equal((await readTxn(store, "sc", "s", open.txnId))?.record.state, "ABORTED", "the expired transaction was aborted");
  const committed = await put("COMMITTED");
  await t.rejects(pingTxn(store, deleter, clock, "sc", "s", committed.txnId, 2_000, keptMs), { code: "TRANSACTION_CLOSED" });
});

void t.test("expiry aborts past-lease transactions and removes ended records after the configured keeping time", async (t) => {
  const { store, clock, deleted, deleter, put } = await setUp(t);
  const short = await put("OPEN", 1_000);
  const long = await put("OPEN", 60_000);
  clock.advance(1_000);
  t.same(await expireTransactions(store, deleter, clock, keptMs), { aborted: 1, removed: 0 });
  t.equal((await readTxn(store, "sc", "s", short.txnId))?.record.state, "ABORTED");
  t.equal((await readTxn(store, "sc", "s", long.txnId))?.record.state, "OPEN");
  t.equal(deleted.length, 2);
  clock.advance(keptMs - 1);
  t.same(await expireTransactions(store, deleter, clock, keptMs), { aborted: 1, removed: 0 }, "the long one expired now; the ended record is kept a while");
  clock.advance(1);
  t.same(await expireTransactions(store, deleter, clock, keptMs), { aborted: 0, removed: 1 });
  t.equal(await readTxn(store, "sc", "s", short.txnId), undefined);
  await t.rejects(requireTxn(store, "sc", "s", short.txnId, clock, keptMs), { code: "TRANSACTION_RECORD_GONE" }, "a status call now learns the record is gone");
});

void t.test("a record that does not parse is DATA_CORRUPTION", async (t) => {
  const { store } = await setUp(t);
  const id = newTxnId(0);
  await store.put(txnKey("sc", "s", id), Buffer.from("{"));
  await t.rejects(readTxn(store, "sc", "s", id), { code: "DATA_CORRUPTION" });
  await store.put(txnKey("sc", "s", id), Buffer.from('{"state":"WHAT"}'));
  await t.rejects(readTxn(store, "sc", "s", id), { code: "DATA_CORRUPTION" });
});

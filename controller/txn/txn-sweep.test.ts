// Proves on the embedded metadata store that ended transaction records are kept apart from live
// ones and removed through their index: ending moves a record (with its index key) out of the live
// keys in one step, while lookups by id answer as before; the live listing does not return it; the
// sweep removes due records in end order, stops at the first one not due (counting the index keys
// it reads), removes an index entry whose record is already gone, and leaves TRANSACTION_RECORD_GONE
// behind; a COMMITTED record left at a live key is moved; removals at stale versions are skipped.
import t, { type Test } from "tap";
import { ManualClock } from "../../common/index.js";
import { FileMetadataStore, listAll, type ListOptions, type TxnOp } from "../store/index.js";
import {
  abortTxn,
  decideAbort,
  encodeTxn,
  endedTxnOps,
  endTxn,
  expireTransactions,
  finishAbort,
  listTxns,
  newTxnId,
  pingTxn,
  readTxn,
  removeAtVersions,
  requireTxn,
  txnEndedKey,
  txnExpiryKey,
  txnKey,
  txnSweepPageMax,
  type TxnRecord,
} from "./index.js";

const keptMs = 5 * 60_000;
const noSegments = { deleteSegment: () => Promise.resolve() };

async function setUp(t: Test) {
  const store = await FileMetadataStore.open(t.testdir());
  t.teardown(() => store.close());
  const clock = new ManualClock();
  /** Keys each list call returned, by the prefix listed. */
  const read = new Map<string, number>();
  const list = store.list.bind(store);
  store.list = async (prefix: string, options?: ListOptions) => {
    const page = await list(prefix, options);
    read.set(prefix, (read.get(prefix) ?? 0) + page.entries.length);
    return page;
  };
  const open = (createdAtMs = clock.nowMs()): TxnRecord => ({
    txnId: newTxnId(createdAtMs),
    state: "OPEN",
    epoch: 0,
    parents: [{ number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }],
    createdAtMs,
    leaseExpiresAtMs: createdAtMs + 60_000,
  });
  const putOpen = async (): Promise<TxnRecord> => {
    const record = open();
    await store.put(txnKey("sc", "s", record.txnId), encodeTxn(record));
    return record;
  };
  return { store, clock, read, open, putOpen };
}

void t.test("ending moves the record out of the live keys; lookups by id answer as before", async (t) => {
  const { store, clock, putOpen } = await setUp(t);
  const other = await putOpen();
  const txn = await putOpen();
  t.same((await listTxns(store, "sc", "s")).map((x) => x.record.txnId).sort(), [other.txnId, txn.txnId].sort(), "both live");
  clock.advance(7);
  await decideAbort(store, clock, "sc", "s", txn.txnId, keptMs);
  t.equal((await listTxns(store, "sc", "s")).length, 2, "ABORTING is still live");
  t.equal((await finishAbort(store, noSegments, clock, "sc", "s", txn.txnId))?.state, "ABORTED");
  t.equal(await store.get(txnKey("sc", "s", txn.txnId)), undefined, "gone from the live key");
  const ended = await store.get(txnEndedKey("sc", "s", txn.txnId));
  t.equal(ended === undefined ? undefined : (JSON.parse(ended.value.toString()) as TxnRecord).state, "ABORTED", "kept at the ended key");
  const index = await store.get(txnExpiryKey(clock.nowMs(), "sc", "s", txn.txnId));
  t.equal(index?.value.length, 0, "with an empty index key at its end time");
  t.equal(index?.version, ended?.version, "written in the same metadata transaction");
  t.same((await listTxns(store, "sc", "s")).map((x) => x.record.txnId), [other.txnId], "the live listing leaves it out");
  const found = await readTxn(store, "sc", "s", txn.txnId);
  t.same([found?.record.state, found?.record.endedAtMs, found?.key], ["ABORTED", clock.nowMs(), txnEndedKey("sc", "s", txn.txnId)]);
  t.equal((await requireTxn(store, "sc", "s", txn.txnId, clock, keptMs)).record.state, "ABORTED");
  t.equal((await abortTxn(store, noSegments, clock, "sc", "s", txn.txnId, keptMs)).state, "ABORTED", "a repeated abort answers ABORTED");
  t.equal((await decideAbort(store, clock, "sc", "s", txn.txnId, keptMs)).state, "ABORTED");
  await t.rejects(pingTxn(store, noSegments, clock, "sc", "s", txn.txnId, 2_000, keptMs), { code: "TRANSACTION_CLOSED" });
  t.equal((await listAll(store, "txnsended/")).length, 1, "moved once");
});

void t.test("the sweep removes due records in end order and stops at the first one not due", async (t) => {
  const { store, clock, read, open } = await setUp(t);
  const startMs = clock.nowMs();
  const count = 1_000;
  const ids: string[] = [];
  // Records ended 1 ms apart (the index order), written as a commit batch would, 40 at a time.
  for (let i = 0; i < count; i += 40) {
    const ops: TxnOp[] = [];
    for (let j = i; j < i + 40 && j < count; j++) {
      const record = endTxn(open(startMs), "COMMITTED", startMs + j);
      ids.push(record.txnId);
      ops.push(...endedTxnOps("sc", "s", record).slice(1));
    }
    await store.txn([], ops);
  }
  const live = { ...open(), leaseExpiresAtMs: startMs + 10 * keptMs };
  await store.put(txnKey("sc", "s", live.txnId), encodeTxn(live));

  clock.advance(keptMs - 1);
  read.clear();
  t.same(await expireTransactions(store, noSegments, clock, keptMs), { aborted: 0, removed: 0 }, "nothing due yet");
  t.equal(read.get("txnsexpiry/"), 1, "a round with nothing due reads one index key");
  t.equal(read.get("txns/"), 1, "and the one live record, no ended one");

  const due = 600;
  clock.advance(due);
  read.clear();
  t.same(await expireTransactions(store, noSegments, clock, keptMs), { aborted: 0, removed: due });
  const indexRead = read.get("txnsexpiry/") ?? 0;
  t.ok(indexRead < count && indexRead <= due + txnSweepPageMax, `read ${indexRead} index keys for ${due} due of ${count}`);
  const left = (await listAll(store, "txnsexpiry/")).map((kv) => kv.key);
  t.same(left, ids.slice(due).map((id, i) => txnExpiryKey(startMs + due + i, "sc", "s", id)), "the earliest ended went, the rest kept in order");
  t.equal(await readTxn(store, "sc", "s", ids[due - 1]!), undefined, "the last due record is gone");
  await t.rejects(requireTxn(store, "sc", "s", ids[0]!, clock, keptMs), { code: "TRANSACTION_RECORD_GONE" });
  t.equal((await requireTxn(store, "sc", "s", ids[due]!, clock, keptMs)).record.state, "COMMITTED", "the first not due is kept");
  t.equal((await listAll(store, "txnsended/")).length, count - due);

  clock.advance(count);
  t.same(await expireTransactions(store, noSegments, clock, keptMs), { aborted: 0, removed: count - due });
  t.same(await listAll(store, "txnsended/"), []);
  t.same(await listAll(store, "txnsexpiry/"), []);
  t.equal((await readTxn(store, "sc", "s", live.txnId))?.record.state, "OPEN", "the live record is untouched");
});

void t.test("an index entry without its record is removed; an ended record at a live key is moved", async (t) => {
  const { store, clock, open } = await setUp(t);
  const orphan = open();
  await store.put(txnExpiryKey(clock.nowMs(), "gone", "s", orphan.txnId), Buffer.alloc(0));
  const legacy = endTxn(open(), "COMMITTED", clock.nowMs());
  await store.put(txnKey("sc", "s", legacy.txnId), encodeTxn(legacy));
  t.same(await expireTransactions(store, noSegments, clock, keptMs), { aborted: 0, removed: 0 });
  t.equal(await store.get(txnKey("sc", "s", legacy.txnId)), undefined, "moved off the live key");
  t.same((await readTxn(store, "sc", "s", legacy.txnId))?.record, legacy, "unchanged, at its ended key");
  t.same((await listAll(store, "txnsexpiry/")).length, 2, "indexed at its end time");
  clock.advance(keptMs);
  t.same(await expireTransactions(store, noSegments, clock, keptMs), { aborted: 0, removed: 2 });
  t.same(await listAll(store, "txns"), [], "nothing left under txns/, txnsended/ or txnsexpiry/");
});

void t.test("removals at stale versions are left; the others go", async (t) => {
  const { store } = await setUp(t);
  const keys = Array.from({ length: 100 }, (_, i) => `x/${i.toString().padStart(3, "0")}`);
  for (const k of keys) await store.put(k, Buffer.from("v"));
  const listed = await listAll(store, "x/");
  const changed = listed[50]!;
  await store.put(changed.key, Buffer.from("newer"));
  t.equal(await removeAtVersions(store, listed.map((kv) => ({ key: kv.key, version: kv.version }))), 99, "in batches within metadataTxnOpsMax");
  t.same((await listAll(store, "x/")).map((kv) => kv.key), [changed.key], "the changed key is kept");
});

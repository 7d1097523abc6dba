// Runs the MetadataStore contract suite against the embedded store (lease time from a ManualClock), then proves
// what only the embedded store does: reopen keeps everything, snapshots and log restarts, torn-tail cut,
// corruption reported, leases restarted with a full TTL, and the byte bound.
import t from "tap";
import { open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeRecord, ManualClock, RecordFile, syncedMarkPath } from "../../common/index.js";
import { FileMetadataStore } from "./file-metadata-store.js";
import { listAll, type WatchEvent } from "./metadata-store.js";
import { metadataStoreContract } from "./metadata-store.contract.js";

void t.test("contract: embedded store", async (t) => {
  const clock = new ManualClock();
  metadataStoreContract(t, {
    async open(t) {
      const s = await FileMetadataStore.open(t.testdir(), { clock });
      t.teardown(() => s.close());
      return s;
    },
    passTime(ms) {
      clock.advance(ms);
      return Promise.resolve();
    },
  });
});

const b = (s: string) => Buffer.from(s, "utf8");

void t.test("reopen keeps keys, versions, createRevisions, leases and the revision", async (t) => {
  const dir = t.testdir();
  const clock = new ManualClock();
  const s = await FileMetadataStore.open(dir, { clock });
  await s.put("a", b("1"));
  await s.put("a", b("2"));
  const lease = await s.grantLease(5000);
  await s.put("l", b("leased"), { lease });
  await s.put("gone", b("x"));
  await s.delete("gone");
  const before = await listAll(s, "");
  const revision = await s.revision();
  await s.close();
  const r = await FileMetadataStore.open(dir, { clock });
  t.same(await listAll(r, ""), before, "same keys, values, versions, leases");
  t.equal(await r.revision(), revision);
  await r.keepAlive(lease);
  t.pass("the lease came back");
  clock.advance(4000);
  t.equal((await r.get("l"))?.value.toString(), "leased", "with a full TTL from the reopen");
  clock.advance(2000);
  await r.put("sync", b("")); // queued behind the expiry
  t.equal(await r.get("l"), undefined, "then it expires");
  await r.close();
});

void t.test("snapshots: the log restarts, old files go, state and later history survive reopen", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir, { snapshotEveryRecords: 5 });
  const lease = await s.grantLease(60_000);
  for (let i = 0; i < 23; i++) await s.put(`k/${i % 7}`, b(`v${i}`), i % 5 === 0 ? { lease } : {});
  await s.delete("k/3");
  const before = await listAll(s, "");
  const revision = await s.revision();
  await s.close(); // waits for the snapshot the last write started
  // .log-5.synced: the log's synced mark (common/record-synced-mark.ts).
  t.same((await readdir(dir)).sort(), [".log-5.synced", "log-5", "snapshot-5"], "one generation on disk: 25 records made 5 snapshots");
  const r = await FileMetadataStore.open(dir, { snapshotEveryRecords: 5 });
  t.same(await listAll(r, ""), before, "snapshot + log give back the same state");
  t.equal(await r.revision(), revision);
  await t.rejects(r.watch("k/", 1, { onEvents: () => undefined, onError: () => undefined }), { code: "REVISION_COMPACTED" }, "history before the snapshot is gone");
  const events: WatchEvent[] = [];
  const w = await r.watch("k/", revision + 1, { onEvents: (e) => events.push(...e), onError: () => undefined });
  await r.put("k/new", b("n"));
  t.same(events.map((e) => e.key), ["k/new"]);
  await w.close();
  await r.revokeLease(lease);
  t.same(
    (await listAll(r, "k/")).map((e) => e.key),
    ["k/0", "k/1", "k/2", "k/4", "k/5", "k/new"],
    "the lease from the snapshot still owned its key (k/6, last written with it), and revoke took it",
  );
  await r.close();
});

void t.test("a torn last record is cut at reopen; earlier corruption is reported", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir);
  await s.put("a", b("kept"));
  await s.put("b", b("torn"));
  await s.close();
  const path = join(dir, "log-0");
  const size = (await stat(path)).size;
  let fh = await open(path, "r+");
  await fh.truncate(size - 30); // past the batch marker, into the last record
  await fh.close();
  // As a crash leaves it: after a clean close the synced mark covers the whole file (common/record-synced-mark.ts).
  await rm(syncedMarkPath(path));
  const r = await FileMetadataStore.open(dir);
  t.equal((await r.get("a"))?.value.toString(), "kept");
  t.equal(await r.get("b"), undefined, "the torn write is gone (it was never acknowledged)");
  await r.put("c", b("after"));
  await r.put("d", b("later"));
  await r.close();
  fh = await open(path, "r+");
  await fh.write(Buffer.from([0xff, 0xff]), 0, 2, 30); // inside the first record, which later batches follow
  await fh.close();
  await t.rejects(FileMetadataStore.open(dir), { code: "DATA_CORRUPTION" }, "corruption is reported, never skipped");
});

void t.test("the byte bound refuses growth with STORAGE_FULL and changes nothing", async (t) => {
  const s = await FileMetadataStore.open(t.testdir(), { bytesMax: 1000 });
  t.teardown(() => s.close());
  await s.put("a", Buffer.alloc(900));
  const revision = await s.revision();
  await t.rejects(s.put("b", Buffer.alloc(200)), { code: "STORAGE_FULL" });
  t.equal(await s.revision(), revision);
  t.equal(await s.get("b"), undefined);
  await s.put("a", Buffer.alloc(10));
  await s.put("b", Buffer.alloc(200));
  t.pass("room freed by a smaller value is used");
});

void t.test("a watch handler that throws ends its own watch only", async (t) => {
  const s = await FileMetadataStore.open(t.testdir());
  t.teardown(() => s.close());
  const seen: string[] = [];
  const errors: string[] = [];
  await s.watch("", 1, {
    onEvents: () => {
      throw new Error("handler bug");
    },
    onError: (err) => errors.push((err as { code?: string }).code ?? "untyped"),
  });
  await s.watch("", 1, { onEvents: (e) => seen.push(...e.map((x) => x.key)), onError: () => undefined });
  await s.put("x", b("1"));
  await s.put("y", b("2"));
  t.same(seen, ["x", "y"], "the other watch goes on");
  t.same(errors, ["INTERNAL"], "the throwing watch ended once, with INTERNAL");
  t.ok((await s.get("y")) !== undefined, "the store goes on");
});

void t.test("group commit: concurrent writes keep call order, get one revision each, and survive reopen", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir);
  // Fired together, so they share group commits; the compares are called after every put.
  const puts = Array.from({ length: 500 }, (_, i) => s.put(i % 2 === 0 ? "same" : `k/${i}`, b(String(i))));
  const cas = Promise.allSettled(Array.from({ length: 50 }, (_, i) => s.compareAndSet("same", 499, b(`c${i}`))));
  t.same(await Promise.all(puts), Array.from({ length: 500 }, (_, i) => i + 1), "revisions follow call order, one per write");
  const won = (await cas).flatMap((r, i) => (r.status === "fulfilled" ? [[i, r.value]] : []));
  t.same(won, [[0, 501]], "only the first compare holds: each sees the writes staged before it in its batch");
  t.equal((await s.get("same"))?.value.toString(), "c0");
  const state = await listAll(s, "");
  await s.close();
  const r = await FileMetadataStore.open(dir);
  t.same(await listAll(r, ""), state, "the batches were logged as applied");
  await r.close();
});

void t.test("a lease whose keys pass one record's bound still ends, in several records", async (t) => {
  const clock = new ManualClock();
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir, { clock });
  const lease = await s.grantLease(1000);
  for (let i = 0; i < 900; i += 100) {
    await s.txn([], Array.from({ length: 100 }, (_, j) => ({ type: "put" as const, key: `many/${String(i + j).padStart(4, "0")}/${"k".repeat(2000)}`, value: b("v"), lease })));
  }
  await s.put("other", b("stays"));
  clock.advance(1000);
  await s.put("sync", b("")); // queued behind the expiry
  t.same((await listAll(s, "")).map((e) => e.key), ["other", "sync"], "1.8 MB of leased keys are gone");
  await s.close();
  const r = await FileMetadataStore.open(dir, { clock });
  t.same((await listAll(r, "")).map((e) => e.key), ["other", "sync"], "and stay gone after reopen");
  await t.rejects(r.keepAlive(lease), { code: "LEASE_NOT_FOUND" });
  await r.close();
});

void t.test("writes accepted before close commit; writes after it are refused", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir);
  const accepted = Array.from({ length: 50 }, (_, i) => s.put(`c/${i}`, b(String(i))));
  const closing = s.close();
  await t.rejects(s.put("late", b("x")), { code: "CLOSED" });
  t.equal((await Promise.all(accepted)).length, 50, "every accepted write resolved");
  await closing;
  const r = await FileMetadataStore.open(dir);
  t.equal((await listAll(r, "c/")).length, 50, "and is on disk");
  await r.close();
});

void t.test("a data directory of the foundation's format (metadata.log) is carried over", async (t) => {
  const dir = t.testdir();
  const { file } = await RecordFile.open(join(dir, "metadata.log"), () => undefined, { create: true });
  const legacy = (tag: number, seq: number, key: string, value: string) => {
    const head = Buffer.alloc(2);
    head.writeUInt16BE(Buffer.byteLength(key), 0);
    const pieces = encodeRecord(tag, seq, [head, b(key), b(value)]);
    return file.appendBatch(pieces, pieces.reduce((n, x) => n + x.length, 0));
  };
  await legacy(1, 1, "scopes/shop", "{}");
  await legacy(1, 2, "streams/shop/orders", '{"state":"active"}');
  await legacy(1, 3, "scopes/gone", "{}");
  await legacy(2, 4, "scopes/gone", "");
  await file.close();
  const s = await FileMetadataStore.open(dir);
  t.same(
    (await listAll(s, "")).map((e) => [e.key, e.value.toString(), e.version]),
    [
      ["scopes/shop", "{}", 1],
      ["streams/shop/orders", '{"state":"active"}', 2],
    ],
  );
  t.equal(await s.revision(), 4);
  t.equal(await s.put("scopes/new", b("{}")), 5, "revisions go on from the old file's");
  await s.close();
  // .log-1.synced: the log's synced mark (common/record-synced-mark.ts).
  t.same((await readdir(dir)).sort(), [".log-1.synced", "log-1", "snapshot-1"], "the old file became a snapshot");
  const r = await FileMetadataStore.open(dir);
  t.equal((await listAll(r, "scopes/")).length, 2);
  await r.close();
});

void t.test("the newest snapshot deleted while stopped: DATA_CORRUPTION, not an empty store; a snapshot switch's crash windows still open", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir, { snapshotEveryRecords: 5 });
  for (let i = 0; i < 12; i++) await s.put(`k/${i}`, b(`v${i}`));
  await s.close();
  t.same((await readdir(dir)).filter((n) => n.startsWith("snapshot-")), ["snapshot-2"]);
  const snapshotBytes = await readFile(join(dir, "snapshot-2"));
  await rm(join(dir, "snapshot-2"));
  const err = await FileMetadataStore.open(dir).then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  t.equal(err?.code, "DATA_CORRUPTION");
  t.match(err?.message ?? "", /snapshot-2 is missing/);
  await t.rejects(FileMetadataStore.open(dir, { readOnly: true }), { code: "DATA_CORRUPTION" }, "read-only too");

  // A crash after the new snapshot was renamed into place, before its log was created: no log of
  // that generation yet, which opens as an empty one.
  await writeFile(join(dir, "snapshot-2"), snapshotBytes);
  await rm(join(dir, "log-2"));
  await rm(join(dir, ".log-2.synced"));
  const r = await FileMetadataStore.open(dir, { snapshotEveryRecords: 5 });
  t.equal((await listAll(r, "k/")).length, 10, "the snapshot's keys (the lost log held the last two, unsynced as a crash leaves them)");
  await r.close();
});

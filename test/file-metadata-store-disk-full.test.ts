/**
 * The embedded metadata store on a full disk (a small tmpfs filled by a filler file): writes are
 * refused STORAGE_FULL and change nothing, a snapshot the disk has no room for is put off instead
 * of stopping the store, writes succeed again once the filler is removed, and a reopen finds
 * exactly the writes that were acknowledged. A write of a refused batch whose compare failed only
 * because of an earlier write of that batch is STORAGE_FULL too, not CONDITIONAL_CHECK_FAILED.
 */
import t from "tap";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fillDisk, mountTmpfs } from "./support/tmpfs.js";
import { FileMetadataStore } from "../controller/store/file-metadata-store.js";

void t.test("STORAGE_FULL while full, a snapshot put off, writes again once there is room, nothing acknowledged lost", async (t) => {
  const { dir, cleanup } = await mountTmpfs(2);
  t.teardown(() => cleanup());
  const storeDir = join(dir, "meta");
  // A snapshot after every record, so snapshots fall due while the disk is full (the writes that
  // still fit the last page of the log each ask for one, and the disk has no room for it).
  let store = await FileMetadataStore.open(storeDir, { snapshotEveryRecords: 1 });
  const acked = new Map<string, string>();
  for (let i = 0; i < 15; i++) {
    await store.put(`k${i}`, Buffer.from(`v${i}`));
    acked.set(`k${i}`, `v${i}`);
  }
  await fillDisk(join(dir, "filler"));
  let refused: unknown;
  for (let i = 15; i < 5_000 && refused === undefined; i++) {
    try {
      await store.put(`k${i}`, Buffer.alloc(100, 0x61));
      acked.set(`k${i}`, "a".repeat(100));
    } catch (err) {
      refused = err;
    }
  }
  t.match(refused, { code: "STORAGE_FULL" }, "a write is refused STORAGE_FULL, not INTERNAL");
  const revision = await store.revision();
  await t.rejects(store.put("refused", Buffer.alloc(100, 0x62)), { code: "STORAGE_FULL" }, "and the next one too: the store is not failed, and refuses for space");
  t.equal(await store.revision(), revision, "a refused write changes nothing");
  t.equal(await store.get("refused"), undefined);
  // Three creates in one group commit: the second key's compare fails only because of the first
  // write of the batch, which the disk refuses; the third fails against the durable state alone.
  const outcomes = await Promise.allSettled([
    store.compareAndSet("race", 0, Buffer.alloc(100, 0x63)),
    store.compareAndSet("race", 0, Buffer.alloc(100, 0x64)),
    store.compareAndSet("k0", 0, Buffer.alloc(100, 0x65)),
  ]);
  t.same(
    outcomes.map((o) => (o.status === "rejected" ? (o.reason as { code?: string }).code : "written")),
    ["STORAGE_FULL", "STORAGE_FULL", "CONDITIONAL_CHECK_FAILED"],
    "nobody is told a compare failed because of a write that never happened",
  );
  t.equal(await store.get("race"), undefined);

  await rm(join(dir, "filler"));
  for (let i = 0; i < 40; i++) {
    await store.put(`after${i}`, Buffer.from(`a${i}`));
    acked.set(`after${i}`, `a${i}`);
  }
  t.ok((await readdir(storeDir)).some((n) => /^snapshot-\d+$/.test(n)), "a snapshot is written once there is room");
  await store.close();

  store = await FileMetadataStore.open(storeDir);
  for (const [key, value] of acked) {
    if ((await store.get(key))?.value.toString() !== value) t.fail(`${key} is not as acknowledged`);
  }
  t.equal((await store.list("")).entries.length, acked.size, `a reopen finds the ${acked.size} acknowledged keys, and nothing else`);
  await store.close();
});

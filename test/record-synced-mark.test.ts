// Proves that a synced-mark side file whose first write failed (a full tmpfs: the create succeeds,
// the write does not) still gets its directory fsync'd by the next write that succeeds, and only once.
import t from "tap";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fillDisk, mountTmpfs } from "./support/tmpfs.js";
import { ManualClock } from "../common/clock.js";
import { readSyncedMark, SyncedMarkWriter } from "../common/record-synced-mark.js";

void t.test("the directory is fsync'd by the first write that succeeds after the side file was created", async (t) => {
  const { dir, cleanup } = await mountTmpfs(2);
  t.teardown(() => cleanup());
  const record = join(dir, "records");
  const synced: string[] = [];
  const writer = new SyncedMarkWriter(record, undefined, 1_000, new ManualClock(), (d) => {
    synced.push(d);
    return Promise.resolve();
  });
  await fillDisk(join(dir, "filler"));
  await writer.markNow(100);
  t.equal(writer.markedBytes, 0, "the first write failed (disk full) after the side file was created");
  t.same(synced, [], "and the directory was not synced then");
  await rm(join(dir, "filler"));
  await writer.markNow(200);
  t.equal(writer.markedBytes, 200);
  t.same(synced, [dir], "the next write that succeeds syncs the directory");
  await writer.markNow(300);
  t.same(synced, [dir], "once");
  await writer.close();
  t.equal((await readSyncedMark(record))?.lengthBytes, 300);
});

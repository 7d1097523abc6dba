/**
 * RecordFile on a full disk (a small tmpfs filled by a filler file): a batch the disk refuses
 * rejects STORAGE_FULL and leaves the file at its last good length and usable, appends succeed
 * again once the filler is removed, and a reopen replays exactly the acknowledged records.
 */
import t from "tap";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fillDisk, mountTmpfs } from "./support/tmpfs.js";
import { encodeRecord, RecordFile } from "../common/record-log.js";

const record = (seq: number): Buffer[] => encodeRecord(1, seq, Buffer.alloc(64 * 1024, seq % 251));
const bytesOf = (pieces: Buffer[]): number => pieces.reduce((n, b) => n + b.length, 0);

void t.test("a refused batch is cut off, STORAGE_FULL, and the file takes appends again once there is room", async (t) => {
  const { dir, cleanup } = await mountTmpfs(4);
  t.teardown(() => cleanup());
  const path = join(dir, "records.log");
  const { file } = await RecordFile.open(path, () => undefined, { create: true });
  let acked = 0;
  for (; acked < 10; acked++) await file.appendBatch(record(acked), bytesOf(record(acked)));
  await fillDisk(join(dir, "filler"));

  let refused: unknown;
  for (let i = 0; i < 100 && refused === undefined; i++) {
    try {
      await file.appendBatch(record(acked), bytesOf(record(acked)));
      acked++;
    } catch (err) {
      refused = err;
    }
  }
  t.match(refused, { code: "STORAGE_FULL" }, "the disk's refusal is STORAGE_FULL");
  t.equal(file.failed, undefined, "the file is not failed for good");
  t.equal((await stat(path)).size, file.sizeBytes, "the file ends at its last good batch (the refused one was cut off)");
  await t.rejects(file.appendBatch(record(acked), bytesOf(record(acked))), { code: "STORAGE_FULL" }, "and refuses while the disk is full");

  await rm(join(dir, "filler"));
  for (let i = 0; i < 5; i++, acked++) await file.appendBatch(record(acked), bytesOf(record(acked)));
  await file.close();

  const seqs: number[] = [];
  const reopened = await RecordFile.open(path, (rec) => seqs.push(rec.seq));
  t.same(seqs, Array.from({ length: acked }, (_, i) => i), "a reopen replays every acknowledged record, once, in order");
  t.equal(reopened.recovery.truncatedBytes, 0, "with no torn tail to cut");
  await reopened.file.close();
});

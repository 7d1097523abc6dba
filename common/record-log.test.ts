// Proves record files round-trip, cut torn tails and report corruption (or skip it when asked), by writing real files and damaging their bytes.
import t from "tap";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { DataCorruptionError, SluiceError } from "./errors.js";
import { journalBatchBytesMax, journalRecordHeaderBytes, logEntryBytesMax, MiB } from "./limits.js";
import { ManualClock } from "./clock.js";
import { encodeRecord, readSyncedMark, RecordFile, syncedMarkPath, tornWindowBytes, type RecordFileOpenOptions, type RecordFileRecord } from "./record-log.js";

/** A payload whose bytes depend on its record, so a swapped or shifted payload is caught. */
function payloadFor(seq: number, bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (seq * 31 + i * 7) & 0xff;
  return b;
}

interface Written {
  tag: number;
  seq: number;
  payload: Buffer;
}

async function collect(path: string, opts: RecordFileOpenOptions = {}) {
  const records: RecordFileRecord[] = [];
  const opened = await RecordFile.open(path, (rec) => records.push(rec), opts);
  return { ...opened, records };
}

/** Appends `count` records in batches of `perBatch`, returning what was written. */
async function writeRecords(file: RecordFile, first: number, count: number, perBatch: number, bytesOf: (seq: number) => number) {
  const written: Written[] = [];
  for (let start = first; start < first + count; start += perBatch) {
    const pieces: Buffer[] = [];
    let total = 0;
    for (let seq = start; seq < Math.min(first + count, start + perBatch); seq++) {
      const rec = { tag: seq % 5, seq, payload: payloadFor(seq, bytesOf(seq)) };
      written.push(rec);
      for (const p of encodeRecord(rec.tag, rec.seq, rec.payload)) {
        pieces.push(p);
        total += p.length;
      }
    }
    await file.appendBatch(pieces, total);
  }
  return written;
}

/**
 * Drops the synced mark of `path`, as a crash before the mark caught up would leave it: the tests
 * that damage the last batch of a closed file to simulate a torn tail need this, since after a
 * clean close the mark covers the whole file and such damage is corruption.
 */
function forgetMark(path: string): void {
  rmSync(syncedMarkPath(path), { force: true });
}

/** Describes the first difference between replayed and written records, or answers "same". */
function compare(got: readonly RecordFileRecord[], want: readonly Written[]): string {
  if (got.length !== want.length) return `${got.length} records replayed, ${want.length} written`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g === undefined || w === undefined || g.tag !== w.tag || g.seq !== w.seq || !g.payload.equals(w.payload)) {
      return `record ${i} differs`;
    }
  }
  return "same";
}

void t.test("round trip of many records, headers and seq encoding", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "a.log");
  const { file, recovery } = await collect(path, { create: true });
  t.same(recovery, { records: 0, validBytes: 0, truncatedBytes: 0, damaged: [] });
  const written = await writeRecords(file, 0, 3000, 97, (seq) => (seq * 13) % 3000);
  // Payload given as several pieces, a zero-length payload, and a seq above 2^32.
  const bigSeq = 2 ** 40 + 12345;
  const parts = [payloadFor(1, 10), payloadFor(2, 0), payloadFor(3, 5000)];
  const multi = encodeRecord(7, bigSeq, parts);
  const empty = encodeRecord(0xffff_ffff, Number.MAX_SAFE_INTEGER, Buffer.alloc(0));
  await file.appendBatch([...multi, ...empty], [...multi, ...empty].reduce((n, b) => n + b.length, 0));
  written.push({ tag: 7, seq: bigSeq, payload: Buffer.concat(parts) });
  written.push({ tag: 0xffff_ffff, seq: Number.MAX_SAFE_INTEGER, payload: Buffer.alloc(0) });
  const size = file.sizeBytes;
  t.equal(size, statSync(path).size, "sizeBytes is the file length");
  await file.close();

  const again = await collect(path);
  t.same(again.recovery, { records: written.length, validBytes: size, truncatedBytes: 0, damaged: [] });
  t.equal(compare(again.records, written), "same");
  t.equal(again.records[1]?.position, journalRecordHeaderBytes + 0, "positions are header offsets");
  await again.file.close();

  // The header layout is the documented one: crc over bytes 4.., big-endian fields.
  const bytes = readFileSync(path);
  const first = written[1];
  const at = again.records[1]?.position ?? -1;
  t.equal(bytes.readUInt32BE(at + 4), first?.payload.length);
  t.equal(bytes.readUInt32BE(at + 8), first?.tag);
  t.equal(bytes.readUInt32BE(at + 12), 0);
  t.equal(bytes.readUInt32BE(at + 20), first?.seq);
  t.equal(bytes.readUInt32BE(at), crc32(bytes.subarray(at + 4, at + 24 + (first?.payload.length ?? 0))));
});

void t.test("encodeRecord rejects bad tags, seqs and oversized payloads", (t) => {
  t.throws(() => encodeRecord(-1, 0, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  t.throws(() => encodeRecord(2 ** 32, 0, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  t.throws(() => encodeRecord(0, -1, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  t.throws(() => encodeRecord(0, 1.5, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  t.throws(() => encodeRecord(0, 2 ** 53, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  t.throws(() => encodeRecord(0, 0, [Buffer.alloc(logEntryBytesMax), Buffer.alloc(1)]), { code: "INVALID_ARGUMENT" });
  t.equal(encodeRecord(0, 0, Buffer.alloc(logEntryBytesMax)).length, 2, "exactly the limit is fine");
  t.end();
});

void t.test("a file cut mid-record is truncated there and keeps working", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "cut.log");
  const { file } = await collect(path, { create: true });
  const written = await writeRecords(file, 0, 50, 10, (seq) => 100 + seq * 40);
  const size = file.sizeBytes;
  await file.close();
  const pristine = readFileSync(path);
  const ends: number[] = [];
  {
    const r = await collect(path);
    for (const rec of r.records) ends.push(rec.position + journalRecordHeaderBytes + rec.payload.length);
    await r.file.close();
  }
  const lastStart = ends[ends.length - 2] ?? 0;
  const cuts = [
    { name: "1 byte into the last header", at: lastStart + 1, keep: 49 },
    { name: "mid-header of the last record", at: lastStart + 13, keep: 49 },
    { name: "just after the last header", at: lastStart + journalRecordHeaderBytes, keep: 49 },
    { name: "mid-payload of the last record", at: lastStart + journalRecordHeaderBytes + 700, keep: 49 },
    { name: "into the batch marker after the last record", at: size - 1, keep: 50 },
    { name: "mid-payload of an earlier record", at: (ends[30] ?? 0) + 50, keep: 31 },
  ];
  for (const cut of cuts) {
    await t.test(cut.name, async (t) => {
      writeFileSync(path, pristine.subarray(0, cut.at));
      // No synced mark: as after a crash before the mark caught up (or a file older than marks);
      // the marked cases are in the tests of the synced mark below.
      rmSync(syncedMarkPath(path), { force: true });
      const r = await collect(path);
      const validBytes = ends[cut.keep - 1] ?? 0;
      t.same(r.recovery, { records: cut.keep, validBytes, truncatedBytes: cut.at - validBytes, damaged: [] });
      t.equal(statSync(path).size, validBytes, "the file was cut at the last good record");
      t.equal(compare(r.records, written.slice(0, cut.keep)), "same");
      // Appends continue after the cut and survive another reopen.
      const more = await writeRecords(r.file, 1000, 20, 7, () => 333);
      await r.file.close();
      const again = await collect(path);
      t.equal(again.recovery.truncatedBytes, 0);
      t.equal(compare(again.records, [...written.slice(0, cut.keep), ...more]), "same");
      await again.file.close();
    });
  }
});

void t.test("a flipped byte followed by more than the torn window is corruption, and the file is untouched", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "corrupt.log");
  const { file } = await collect(path, { create: true });
  // 64 KiB records in batches within journalBatchBytesMax, enough to pass the window.
  const recordBytes = 64 * 1024;
  const count = Math.ceil(tornWindowBytes / recordBytes) + 20;
  await writeRecords(file, 0, count, Math.floor(journalBatchBytesMax / (recordBytes + 64)), () => recordBytes);
  await file.close();
  const bytes = readFileSync(path);
  const victim = 5 * (recordBytes + journalRecordHeaderBytes) + journalRecordHeaderBytes + 1000; // in record 5's payload
  bytes[victim] = (bytes[victim] ?? 0) ^ 0x40;
  writeFileSync(path, bytes);
  let replayed = 0;
  const err: unknown = await RecordFile.open(path, () => replayed++).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof DataCorruptionError, "DataCorruptionError");
  t.equal((err as SluiceError).code, "DATA_CORRUPTION");
  t.match((err as Error).message, path, "the message names the file");
  t.match((err as Error).message, String(5 * (recordBytes + journalRecordHeaderBytes)), "and the position");
  t.equal(replayed, 5, "records before the damage were replayed");
  t.ok(readFileSync(path).equals(bytes), "the file is untouched");

  // A caller that forbids a torn tail gets corruption even for damage in the last record.
  const tail = Buffer.from(bytes);
  tail[victim] = (tail[victim] ?? 0) ^ 0x40; // undo
  tail[tail.length - 10] = (tail[tail.length - 10] ?? 0) ^ 1;
  writeFileSync(path, tail);
  await t.rejects(RecordFile.open(path, () => {}, { allowTornTail: false }), { code: "DATA_CORRUPTION" });
  t.ok(readFileSync(path).equals(tail), "the file is untouched");
});

void t.test("a flipped byte in the last record is a torn tail and is cut", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "torn.log");
  const { file } = await collect(path, { create: true });
  const written = await writeRecords(file, 0, 40, 8, () => 500);
  const size = file.sizeBytes;
  await file.close();
  const recordBytes = 500 + journalRecordHeaderBytes;
  // The file ends with the last record, then the marker closing its batch.
  const lastAt = size - journalRecordHeaderBytes - recordBytes;
  for (const offset of [2, 6, 10, 14, 18, 22, 300]) {
    const bytes = readFileSync(path);
    // Restore the pristine length each round, then damage one byte of the last record.
    const at = lastAt + offset;
    bytes[at] = (bytes[at] ?? 0) ^ 0x80;
    writeFileSync(path, bytes);
    forgetMark(path);
    const r = await collect(path);
    t.same(r.recovery, { records: 39, validBytes: lastAt, truncatedBytes: size - lastAt, damaged: [] }, `damage at +${offset}`);
    t.equal(compare(r.records, written.slice(0, 39)), "same");
    const rewritten = await writeRecords(r.file, 39, 1, 1, () => 500);
    t.ok(rewritten[0]?.payload.equals(written[39]?.payload ?? Buffer.alloc(0)));
    await r.file.close();
  }
});

void t.test("damage in a synced batch that a later batch follows is corruption, even near the end", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "synced.log");
  const { file } = await collect(path, { create: true });
  await writeRecords(file, 0, 30, 10, () => 200); // three small batches, far inside the torn window
  await file.close();
  const pristine = readFileSync(path);
  const recordBytes = 200 + journalRecordHeaderBytes;
  const batchBytes = 10 * recordBytes + journalRecordHeaderBytes;
  // A payload byte of the middle batch: the last batch was written after it was synced.
  const damaged = Buffer.from(pristine);
  const at = batchBytes + 3 * recordBytes + journalRecordHeaderBytes + 50;
  damaged[at] = (damaged[at] ?? 0) ^ 0x10;
  writeFileSync(path, damaged);
  await t.rejects(RecordFile.open(path, () => {}), { code: "DATA_CORRUPTION", message: /later batch/ });
  t.ok(readFileSync(path).equals(damaged), "the file is untouched");
  // The same damage in the last batch is a torn tail.
  const torn = Buffer.from(pristine);
  const inLast = 2 * batchBytes + 3 * recordBytes + journalRecordHeaderBytes + 50;
  torn[inLast] = (torn[inLast] ?? 0) ^ 0x10;
  writeFileSync(path, torn);
  forgetMark(path);
  const r = await collect(path);
  t.equal(r.recovery.records, 23);
  await r.file.close();
});

void t.test("skipDamaged: provable corruption is skipped and listed, the file untouched and still appendable", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "skip.log");
  const { file } = await collect(path, { create: true });
  const written = await writeRecords(file, 0, 30, 10, () => 200);
  await file.close();
  const recordBytes = 200 + journalRecordHeaderBytes;
  const batchBytes = 10 * recordBytes + journalRecordHeaderBytes;
  const damagedAt = batchBytes + 3 * recordBytes;
  const bytes = readFileSync(path);
  bytes[damagedAt + journalRecordHeaderBytes + 50] = (bytes[damagedAt + journalRecordHeaderBytes + 50] ?? 0) ^ 0x10;
  writeFileSync(path, bytes);

  const records: RecordFileRecord[] = [];
  const r = await RecordFile.open(path, (rec) => records.push(rec), { skipDamaged: true });
  t.match(r.recovery, { records: 29, validBytes: bytes.length, truncatedBytes: 0 });
  t.match(r.recovery.damaged, [{ position: damagedAt, bytes: recordBytes, reason: /crc/ }]);
  t.equal(compare(records, [...written.slice(0, 13), ...written.slice(14)]), "same", "every record but the damaged one, the rest of its batch included");
  t.ok(readFileSync(path).equals(bytes), "the file is untouched");
  const more = await writeRecords(r.file, 100, 5, 5, () => 100);
  await r.file.close();
  const again: RecordFileRecord[] = [];
  const r2 = await RecordFile.open(path, (rec) => again.push(rec), { skipDamaged: true });
  t.equal(compare(again, [...written.slice(0, 13), ...written.slice(14), ...more]), "same", "appends after the damage replay");
  t.equal(r2.recovery.damaged.length, 1);
  await r2.file.close();

  // A torn tail after skipped damage is still only a torn tail.
  writeFileSync(path, readFileSync(path).subarray(0, r2.file.sizeBytes - 30));
  forgetMark(path);
  const r3 = await collect(path, { skipDamaged: true });
  t.equal(r3.recovery.records, 33);
  t.ok(r3.recovery.truncatedBytes > 0);
  t.equal(r3.recovery.damaged.length, 1);
  await r3.file.close();
});

void t.test("skipDamaged in a file that may not have a torn tail: the rest of the file is skipped and it takes no appends", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "sealed.log");
  const { file } = await collect(path, { create: true });
  await writeRecords(file, 0, 30, 10, () => 200);
  const size = file.sizeBytes;
  await file.close();
  const recordBytes = 200 + journalRecordHeaderBytes;
  const lastBatch = 2 * (10 * recordBytes + journalRecordHeaderBytes);
  const damagedAt = lastBatch + 4 * recordBytes;
  const bytes = readFileSync(path);
  bytes[damagedAt + 30] = (bytes[damagedAt + 30] ?? 0) ^ 1;
  writeFileSync(path, bytes);
  await t.rejects(RecordFile.open(path, () => {}, { allowTornTail: false }), { code: "DATA_CORRUPTION" });
  let replayed = 0;
  const r = await RecordFile.open(path, () => replayed++, { allowTornTail: false, skipDamaged: true });
  t.equal(replayed, 24);
  t.match(r.recovery.damaged, [{ position: damagedAt, bytes: size - damagedAt }]);
  t.ok(readFileSync(path).equals(bytes), "the file is untouched");
  await t.rejects(r.file.appendBatch(encodeRecord(1, 1, Buffer.from("x")), 25), { code: "DATA_CORRUPTION" });
  await r.file.close();
});

void t.test("a payload length of 2^32-1 near the end is cut without a huge allocation", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "len.log");
  const { file } = await collect(path, { create: true });
  const written = await writeRecords(file, 0, 10, 10, () => 64);
  const size = file.sizeBytes;
  await file.close();
  const bytes = readFileSync(path);
  const lastAt = size - journalRecordHeaderBytes - (64 + journalRecordHeaderBytes);
  bytes.writeUInt32BE(0xffff_ffff, lastAt + 4);
  writeFileSync(path, bytes);
  forgetMark(path);
  const heapBefore = process.memoryUsage().arrayBuffers;
  const r = await collect(path);
  t.ok(process.memoryUsage().arrayBuffers - heapBefore < 64 * MiB, "no buffer of the claimed length was made");
  t.same(r.recovery, { records: 9, validBytes: lastAt, truncatedBytes: size - lastAt, damaged: [] });
  t.equal(compare(r.records, written.slice(0, 9)), "same");
  await r.file.close();
});

void t.test("a failed write fails the file for good and close makes later calls CLOSED", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "fail.log");
  const { file } = await collect(path, { create: true });
  // Close the descriptor under the RecordFile so the next writev fails with EBADF.
  const handle = (file as unknown as { handle: { close(): Promise<void> } }).handle;
  await handle.close();
  const rec = encodeRecord(1, 1, Buffer.from("x"));
  const err: unknown = await file.appendBatch(rec, 25).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((err as SluiceError).code, "INTERNAL");
  t.ok((err as Error).cause !== undefined, "the I/O error is the cause");
  t.equal(file.failed, err);
  const again: unknown = await file.appendBatch(rec, 25).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(again, err, "later calls reject with the same error, with no retry");

  const other = await collect(join(dir, "ok.log"), { create: true });
  await other.file.close();
  await t.rejects(other.file.appendBatch(rec, 25), { code: "CLOSED" });
  await t.rejects(RecordFile.open(join(dir, "missing.log"), () => {}), { code: "INTERNAL" });
});

/** Waits (bounded) until `check` holds, letting background writes of the synced mark run. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

void t.test("the synced mark: written off the hot path, lagging an interval or two while appends go on; whole at close", async (t) => {
  const path = join(t.testdir(), "marked.log");
  const clock = new ManualClock();
  const { file } = await collect(path, { create: true, clock, syncedMarkIntervalMs: 1000 });
  const mark = async (): Promise<number | undefined> => (await readSyncedMark(path))?.lengthBytes;
  await writeRecords(file, 0, 5, 1, () => 100);
  const first = file.sizeBytes;
  t.equal(await mark(), 0, "open marked the new file (empty); appends write no mark themselves");
  clock.advance(1000);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(await mark(), 0, "one interval after: still not them (a crash now may tear those batches)");
  await writeRecords(file, 5, 5, 1, () => 100);
  clock.advance(1000);
  await until(async () => (await mark()) === first, "the mark two intervals after");
  t.pass("the length synced at the previous tick is marked, not the latest");
  // Let the write finish and arm the next tick before the clock moves on.
  await new Promise((r) => setTimeout(r, 20));
  clock.advance(1000);
  await until(async () => (await mark()) === file.sizeBytes, "the mark catching up");
  t.pass("with no more appends it catches up a tick later, and the ticks stop");
  await writeRecords(file, 10, 5, 5, () => 100);
  await file.close();
  t.equal(await mark(), file.sizeBytes, "close marks the whole file");
});

void t.test("a file shorter than its synced mark, or missing while its mark stays, is DATA_CORRUPTION naming the file", async (t) => {
  const dir = t.testdir();
  const path = join(dir, "cut-below.log");
  const clock = new ManualClock();
  const { file } = await collect(path, { create: true, clock, syncedMarkIntervalMs: 1000 });
  const written = await writeRecords(file, 0, 90, 10, () => 500);
  const markedAt = file.sizeBytes;
  clock.advance(1000);
  clock.advance(1000);
  await until(async () => (await readSyncedMark(path))?.lengthBytes === markedAt, "the mark");
  written.push(...(await writeRecords(file, 90, 10, 10, () => 500)));
  // A SIGKILL now: the file and its mark as they are, the last batch not yet marked.
  const killed = { data: readFileSync(path), mark: readFileSync(syncedMarkPath(path)) };
  await file.close();
  const size = statSync(path).size;
  t.equal((await readSyncedMark(path))?.lengthBytes, size, "after close the mark is the whole file");

  writeFileSync(path, killed.data.subarray(0, Math.floor(size / 2)));
  const half = await RecordFile.open(path, () => undefined).catch((e: unknown) => e);
  t.ok(half instanceof DataCorruptionError, "cut to half: DATA_CORRUPTION");
  t.match((half as Error).message, /cut-below\.log is \d+ bytes, but at least \d+ bytes were synced/, "naming the file and both lengths");
  t.equal(statSync(path).size, Math.floor(size / 2), "the file is left untouched");
  // Even where damage may be skipped (the log node's journal): cut records cannot be stepped over.
  await t.rejects(RecordFile.open(path, () => undefined, { skipDamaged: true }), { code: "DATA_CORRUPTION" });
  writeFileSync(path, killed.data.subarray(0, size - 300));
  await t.rejects(RecordFile.open(path, () => undefined), { code: "DATA_CORRUPTION" }, "after a clean close even the last batch cannot be torn");

  // As after the SIGKILL: the batch past the mark may be torn, and is cut; what came before is served.
  writeFileSync(syncedMarkPath(path), killed.mark);
  writeFileSync(path, killed.data.subarray(0, markedAt + 300));
  const torn = await collect(path);
  t.equal(compare(torn.records, written.slice(0, 90)), "same", "a torn batch past the mark is still cut");
  await torn.file.close();

  // A bad record below the mark with nothing after it is not a torn tail either.
  const flipped = Buffer.from(killed.data.subarray(0, markedAt + 30));
  flipped[markedAt - 100] = (flipped[markedAt - 100] ?? 0) ^ 0xff;
  writeFileSync(path, flipped);
  writeFileSync(syncedMarkPath(path), killed.mark);
  await t.rejects(RecordFile.open(path, () => undefined), { code: "DATA_CORRUPTION" }, "damage below the mark is corruption");

  rmSync(path);
  const missing = await RecordFile.open(path, () => undefined, { create: true }).catch((e: unknown) => e);
  t.ok(missing instanceof DataCorruptionError, "a deleted file whose mark stays: DATA_CORRUPTION, not a new empty file");
  t.match((missing as Error).message, /cut-below\.log is missing, but at least \d+ bytes were synced/);
  t.notOk(existsSync(path), "and no empty file is created in its place");
});

void t.test("a torn slot of the synced mark falls back to the other; a mark with no good slot marks nothing", async (t) => {
  const path = join(t.testdir(), "slots.log");
  const clock = new ManualClock();
  const { file } = await collect(path, { create: true, clock, syncedMarkIntervalMs: 1000 });
  await writeRecords(file, 0, 2, 1, () => 100);
  clock.advance(1000);
  await writeRecords(file, 2, 1, 1, () => 100);
  clock.advance(1000);
  await until(async () => (await readSyncedMark(path))?.counter === 2, "a first mark after the one made at open");
  await file.close();
  const markFile = readFileSync(syncedMarkPath(path));
  t.equal(markFile.length, 64, "two 32-byte slots");
  const newest = (await readSyncedMark(path))!;
  const older = Buffer.from(markFile);
  // Tear the newest slot (counter parity picks the slot).
  const at = (newest.counter % 2) * 32 + 20;
  older[at] = (older[at] ?? 0) ^ 0xff;
  writeFileSync(syncedMarkPath(path), older);
  const fallback = (await readSyncedMark(path))!;
  t.ok(fallback.counter === newest.counter - 1 && fallback.lengthBytes < newest.lengthBytes, "the older slot is used");
  writeFileSync(syncedMarkPath(path), Buffer.alloc(64));
  t.same(await readSyncedMark(path), { lengthBytes: 0, counter: 0 }, "no good slot: nothing marked");
  const reopened = await collect(path);
  t.equal(reopened.records.length, 3);
  await reopened.file.close();
});

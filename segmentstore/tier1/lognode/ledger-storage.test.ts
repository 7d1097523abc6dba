// Proves the log node's storage keeps, serves, fences and deletes ledger entries durably, and finds damage, on real journal files in temp dirs.
import t, { type Test } from "tap";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { journalRecordHeaderBytes, KiB, ledgerEntryBytesMax, ledgerEntryHeaderBytes, logNodeReadHandlesMax, RecordFile, syncedMarkPath, type SluiceError } from "../../../common/index.js";
import { entryPayload } from "../fixtures/payload.js";
import { journalFileName } from "../journal.js";
import type { JournalReader } from "./journal-reader.js";
import { LedgerStorage, type LedgerStorageOptions } from "./ledger-storage.js";

async function openStorage(t: Test, dir: string, opts: LedgerStorageOptions = {}): Promise<LedgerStorage> {
  const storage = await LedgerStorage.open(dir, opts);
  t.teardown(() => storage.close());
  return storage;
}

/** Entry data in one or more pieces (the storage must join them into one entry). */
function pieces(ledger: number, entryId: number): Buffer[] {
  const p = entryPayload(ledger, entryId);
  return entryId % 3 === 0 ? [p] : [p.subarray(0, 5), p.subarray(5)];
}

/** Adds entries `from`..`to - 1` of a ledger one at a time (one batch each), lac = entryId - 1. */
async function addRange(storage: LedgerStorage, ledger: number, from: number, to: number): Promise<void> {
  for (let e = from; e < to; e++) await storage.addEntry(ledger, e, e - 1, pieces(ledger, e), false);
}

/** Reads the entries from `first` and checks each against its deterministic payload; answers the ids read. */
async function readIds(storage: LedgerStorage, ledger: number, first: number, maxBytes = 1 << 30): Promise<number[] | string> {
  const got = await storage.readEntries(ledger, first, maxBytes);
  for (const [i, data] of got.entries()) {
    if (!data.equals(entryPayload(ledger, first + i))) return `entry ${first + i} of ledger ${ledger} differs`;
  }
  return got.map((_, i) => first + i);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function journalFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^journal-\d{10}\.log$/.test(n))
    .sort();
}

interface ScannedRecord {
  file: string;
  tag: number;
  seq: number;
  position: number;
  /** The ledger a record concerns: its tag, or a control record's payload. */
  ledger: number;
}

/** Replays the journal files of a closed storage independently of it. */
async function scanJournal(dir: string): Promise<ScannedRecord[]> {
  const out: ScannedRecord[] = [];
  for (const file of journalFiles(dir)) {
    const opened = await RecordFile.open(join(dir, file), (rec) => {
      out.push({ file, tag: rec.tag, seq: rec.seq, position: rec.position, ledger: rec.tag === 0 ? rec.payload.readUInt32BE(0) : rec.tag });
    });
    await opened.file.close();
  }
  return out;
}

function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = (bytes[at] ?? 0) ^ 0x20;
  writeFileSync(path, bytes);
}

async function rejection(p: Promise<unknown>): Promise<SluiceError> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as SluiceError,
  );
}

void t.test("entries of several ledgers are stored, read back and described by readState", async (t) => {
  const dir = t.testdir();
  const storage = await openStorage(t, dir);
  t.equal(storage.address, `local:${dir}`);
  t.same(storage.recovery, { files: 0, records: 0, truncatedBytes: 0, damaged: [] });
  for (const ledger of [1, 2, 3]) await addRange(storage, ledger, 0, 20);
  for (const ledger of [1, 2, 3]) {
    t.same(await readIds(storage, ledger, 0), range(0, 20), `ledger ${ledger} reads back whole`);
    t.same(await storage.readState(ledger), { lac: 18, lastEntryId: 19, fenced: false });
  }
  t.same(await readIds(storage, 2, 7), range(7, 20), "a read may start in the middle");
  t.same(await readIds(storage, 2, 7, 1), [7], "the first entry comes whatever maxBytes says");
  const sizes = range(7, 10).map((e) => entryPayload(2, e).length);
  t.same(await readIds(storage, 2, 7, (sizes[0] ?? 0) + (sizes[1] ?? 0)), [7, 8], "maxBytes bounds the entry data gathered");
  t.same(await storage.readState(9), { lac: -1, lastEntryId: -1, fenced: false }, "an unknown ledger");
  t.equal((await rejection(storage.readEntries(1, 20, 100))).code, "NO_SUCH_ENTRY");
  t.equal((await rejection(storage.readEntries(9, 0, 100))).code, "NO_SUCH_ENTRY");

  // Ids out of order and with a gap: reads stop before the gap; lac and lastEntryId are maxima.
  await storage.addEntry(4, 10, 3, pieces(4, 10), false);
  await storage.addEntry(4, 8, 7, pieces(4, 8), false);
  await storage.addEntry(4, 9, 5, pieces(4, 9), false);
  await storage.addEntry(4, 12, 2, pieces(4, 12), false);
  t.same(await readIds(storage, 4, 8), [8, 9, 10]);
  t.same(await readIds(storage, 4, 12), [12]);
  t.equal((await rejection(storage.readEntries(4, 11, 100))).code, "NO_SUCH_ENTRY");
  t.same(await storage.readState(4), { lac: 7, lastEntryId: 12, fenced: false });
  t.same(await storage.addEntry(5, 0, -1, [], false), undefined, "an empty entry is an entry");
  t.same(await storage.readEntries(5, 0, 1), [Buffer.alloc(0)]);
});

void t.test("a duplicate add, in flight or held, resolves without a second record", async (t) => {
  const storage = await openStorage(t, t.testdir());
  const first = storage.addEntry(1, 0, -1, [Buffer.from("first")], false);
  const again = storage.addEntry(1, 0, -1, [Buffer.from("second")], false);
  await Promise.all([first, again]);
  await storage.addEntry(1, 0, -1, [Buffer.from("third")], false);
  t.equal(storage.stats.records, 1, "one record written");
  t.same(await storage.readEntries(1, 0, 100), [Buffer.from("first")], "entries never change");
  t.same(await storage.readState(1), { lac: -1, lastEntryId: 0, fenced: false });
});

void t.test("pipelined adds group-commit and resolve in order", async (t) => {
  const storage = await openStorage(t, t.testdir());
  const order: number[] = [];
  const acks = range(0, 2000).map((i) => storage.addEntry(1 + (i % 4), i >> 2, (i >> 2) - 1, pieces(1 + (i % 4), i >> 2), false).then(() => order.push(i)));
  await Promise.all(acks);
  t.ok(order.every((v, i) => v === i), "adds resolved in the order they were made");
  const { batches, records } = storage.stats;
  t.equal(records, 2000);
  t.ok(batches * 10 <= records, `group commit: ${records} records in ${batches} batches`);
  for (const ledger of [1, 2, 3, 4]) t.same(await readIds(storage, ledger, 0), range(0, 500));
});

void t.test("fence: blocks later adds at once, lets recovery adds in, survives reopen", async (t) => {
  const dir = t.testdir();
  const storage = await LedgerStorage.open(dir);
  const before = range(0, 10).map((e) => storage.addEntry(1, e, e - 1, pieces(1, e), false));
  const fenced = storage.fence(1);
  // The fence counts for adds made after fence() was called, before its record is durable.
  const late = await rejection(storage.addEntry(1, 10, 9, pieces(1, 10), false));
  t.equal(late.code, "LEDGER_FENCED");
  t.same(await fenced, { lac: 8, lastEntryId: 9, fenced: true }, "the adds admitted before the fence are in its state");
  await Promise.all(before);
  t.same(await storage.fence(1), { lac: 8, lastEntryId: 9, fenced: true }, "fencing again is the same");
  await storage.addEntry(1, 10, 9, pieces(1, 10), true);
  t.same(await storage.readState(1), { lac: 9, lastEntryId: 10, fenced: true }, "a recovery add passes");
  t.same(await storage.fence(7), { lac: -1, lastEntryId: -1, fenced: true }, "a ledger never seen can be fenced");
  await storage.close();

  const again = await openStorage(t, dir);
  t.same(await again.readState(1), { lac: 9, lastEntryId: 10, fenced: true });
  t.same(await again.readState(7), { lac: -1, lastEntryId: -1, fenced: true });
  t.equal((await rejection(again.addEntry(7, 0, -1, pieces(7, 0), false))).code, "LEDGER_FENCED", "still fenced after reopen");
  await again.addEntry(7, 0, -1, pieces(7, 0), true);
  t.same(await readIds(again, 1, 0), range(0, 11));
});

void t.test("reopen keeps entries, lac, fences and deletes", async (t) => {
  const dir = t.testdir();
  const storage = await LedgerStorage.open(dir);
  for (const ledger of [1, 2, 3]) await addRange(storage, ledger, 0, 15);
  await storage.fence(2);
  await storage.deleteLedger(3);
  await storage.deleteLedger(3);
  t.equal(storage.stats.records, 47, "45 entries, a fence, one delete record");
  await storage.close();
  await storage.close();

  const again = await openStorage(t, dir);
  t.same(again.recovery, { files: 1, records: 47, truncatedBytes: 0, damaged: [] });
  t.same(await readIds(again, 1, 0), range(0, 15));
  t.same(await readIds(again, 2, 0), range(0, 15));
  t.same(await again.readState(1), { lac: 13, lastEntryId: 14, fenced: false });
  t.same(await again.readState(2), { lac: 13, lastEntryId: 14, fenced: true });
  t.same(await again.readState(3), { lac: -1, lastEntryId: -1, fenced: true }, "a deleted ledger holds nothing and takes no adds");
  const refused = await rejection(again.addEntry(3, 15, 14, pieces(3, 15), true));
  t.equal(refused.code, "LEDGER_FENCED");
  t.match(refused.message, /deleted/);
  t.equal((await rejection(again.readEntries(3, 0, 100))).code, "NO_SUCH_ENTRY");
  await again.deleteLedger(99);
  t.same(await again.readState(99), { lac: -1, lastEntryId: -1, fenced: true }, "deleting an unknown ledger resolves");
});

void t.test("deletes remove journal files oldest first, and a live ledger pins its file and all later ones", async (t) => {
  const dir = t.testdir();
  const opts = { fileBytesMax: 4 * KiB };
  const storage = await LedgerStorage.open(dir, opts);
  await addRange(storage, 1, 0, 30);
  await addRange(storage, 2, 0, 30);
  await addRange(storage, 3, 0, 30);
  await addRange(storage, 1, 30, 35);
  await storage.close();
  const records = await scanJournal(dir);
  const files = journalFiles(dir);
  t.ok(files.length >= 8, `${files.length} files`);
  const firstFileOf = (ledger: number): string => records.find((r) => r.ledger === ledger)?.file ?? "";

  const s = await openStorage(t, dir, opts);
  await s.deleteLedger(2);
  t.same(journalFiles(dir), files, "ledger 1 pins the first file, so nothing goes");
  await s.deleteLedger(1);
  const afterTwo = journalFiles(dir);
  const pinned = files.indexOf(firstFileOf(3));
  t.ok(pinned > 0, `ledger 3 starts in ${firstFileOf(3)}`);
  t.same(afterTwo.slice(0, files.length - pinned), files.slice(pinned), "files go up to the first one holding live ledger 3, and no later one");
  t.same(await readIds(s, 3, 0), range(0, 30), "ledger 3 reads on");
  const reader = (s as unknown as { reader: JournalReader }).reader;
  t.ok(reader.openHandles <= logNodeReadHandlesMax, `read handles stay bounded (${reader.openHandles})`);
  t.same(await s.readState(1), { lac: -1, lastEntryId: -1, fenced: true }, "ledger 1 is remembered: its delete record is still held");

  await s.deleteLedger(3);
  const current = journalFiles(dir);
  t.equal(current.length, 1, "only the file being written is left");
  // More writes roll past the delete records; then the files holding them go, and the deleted ids with them.
  await addRange(s, 4, 0, 30);
  await s.deleteLedger(4);
  t.same(journalFiles(dir).length, 1);
  t.notSame(journalFiles(dir), current, "the file that held the delete records went");
  t.same(await s.readState(1), { lac: -1, lastEntryId: -1, fenced: false }, "ledger 1 is forgotten");
  await s.close();
  const reopened = await openStorage(t, dir, opts);
  t.same(reopened.recovery.files, 1);
  t.equal((await rejection(reopened.readEntries(3, 0, 100))).code, "NO_SUCH_ENTRY");
});

void t.test("files a delete freed are removed at open when a crash came before their removal", async (t) => {
  const dir = t.testdir();
  const opts = { fileBytesMax: 4 * KiB };
  const storage = await LedgerStorage.open(dir, opts);
  await addRange(storage, 1, 0, 40);
  await addRange(storage, 2, 0, 5);
  const before = new Map(journalFiles(dir).map((f) => [f, readFileSync(join(dir, f))]));
  await storage.deleteLedger(1);
  await storage.close();
  const after = journalFiles(dir);
  t.ok(after.length < before.size, `the delete removed files (${before.size} -> ${after.length})`);
  // Put the removed files back, as if the node crashed after the delete record was durable.
  for (const [name, bytes] of before) if (!after.includes(name)) writeFileSync(join(dir, name), bytes);
  t.equal(journalFiles(dir).length, before.size);

  const again = await openStorage(t, dir, opts);
  t.same(journalFiles(dir), after, "open removed them again");
  t.same(await readIds(again, 2, 0), range(0, 5));
  t.same(await again.readState(1), { lac: -1, lastEntryId: -1, fenced: true });
});

void t.test("a torn tail is cut at open and the torn entry can be added again", async (t) => {
  const dir = t.testdir();
  const storage = await LedgerStorage.open(dir);
  await addRange(storage, 1, 0, 10);
  await storage.close();
  const path = join(dir, journalFileName(1));
  const bytes = readFileSync(path);
  // Past the batch marker into the last entry's payload.
  writeFileSync(path, bytes.subarray(0, bytes.length - journalRecordHeaderBytes - 5));
  // As a crash leaves it: after a clean close the synced mark covers the whole file (common/record-synced-mark.ts).
  rmSync(syncedMarkPath(path));

  const again = await openStorage(t, dir);
  t.ok(again.recovery.truncatedBytes > 0, "the torn bytes were cut");
  t.same(again.recovery.damaged, [], "a torn tail is not damage");
  t.same(await again.readState(1), { lac: 7, lastEntryId: 8, fenced: false });
  t.equal((await rejection(again.readEntries(1, 9, 100))).code, "NO_SUCH_ENTRY");
  await again.addEntry(1, 9, 8, pieces(1, 9), false);
  t.same(await readIds(again, 1, 0), range(0, 10));
});

void t.test("a flipped bit in an early committed record: open goes on, lists it, and reads never hide it", async (t) => {
  const dir = t.testdir();
  const opts = { fileBytesMax: 4 * KiB };
  const storage = await LedgerStorage.open(dir, opts);
  await addRange(storage, 1, 0, 10);
  await addRange(storage, 2, 0, 10);
  await storage.close();
  const files = journalFiles(dir);
  t.ok(files.length >= 2, `${files.length} files`);
  const victim = (await scanJournal(dir)).find((r) => r.ledger === 1 && r.seq === 3);
  const path = join(dir, journalFileName(1));
  const at = (victim?.position ?? 0) + journalRecordHeaderBytes + ledgerEntryHeaderBytes + 4;
  flipByte(path, at);
  const damagedBytes = readFileSync(path);

  const again = await openStorage(t, dir, opts);
  t.equal(again.recovery.records, 19, "every other record replayed");
  t.equal(again.recovery.damaged.length, 1);
  t.match(again.recovery.damaged[0], { file: journalFileName(1), fileNumber: 1, position: victim?.position, reason: /crc/ });
  t.ok(readFileSync(path).equals(damagedBytes), "the damaged file is left as it is");
  const err = await rejection(again.readEntries(1, 3, 100));
  t.equal(err.code, "DATA_CORRUPTION", "the damaged entry");
  t.match(err.message, journalFileName(1), "names the file");
  t.equal((await rejection(again.readEntries(1, 50, 100))).code, "DATA_CORRUPTION", "a missing entry may have been the damaged one");
  t.equal((await rejection(again.readEntries(8, 0, 100))).code, "DATA_CORRUPTION", "so may an unknown ledger's");
  t.same(await readIds(again, 1, 0), [0, 1, 2], "a read stops before the hole");
  t.same(await readIds(again, 1, 4), range(4, 10));
  t.same(await readIds(again, 2, 0), range(0, 10));
  t.same(await again.readState(1), { lac: 8, lastEntryId: 9, fenced: false });
  // The writer's recovery can put the entry back; it is then served.
  await again.addEntry(1, 3, 2, pieces(1, 3), true);
  t.same(await readIds(again, 1, 0), range(0, 10));
  // Nobody knows whose entry the damaged record was: its file, and so every later one, stays.
  await again.deleteLedger(1);
  await again.deleteLedger(2);
  await addRange(again, 3, 0, 20);
  t.same(journalFiles(dir).slice(0, files.length), files, "the damaged file and its successors are kept");
});

void t.test("a bit flipped in a file while the storage is open is caught by the crc on read", async (t) => {
  const dir = t.testdir();
  const storage = await openStorage(t, dir);
  await addRange(storage, 1, 0, 10);
  const path = join(dir, journalFileName(1));
  const bytes = readFileSync(path);
  // Find entry 5's record by its header: tag 1, seq 5 (the storage is not asked where it is).
  let position = 0;
  for (;;) {
    const length = bytes.readUInt32BE(position + 4);
    if (bytes.readUInt32BE(position + 8) === 1 && bytes.readUInt32BE(position + 20) === 5 && bytes.readUInt32BE(position + 12) === 0) break;
    position += journalRecordHeaderBytes + length;
  }
  flipByte(path, position + journalRecordHeaderBytes + ledgerEntryHeaderBytes + 2);
  const err = await rejection(storage.readEntries(1, 5, 100));
  t.equal(err.code, "DATA_CORRUPTION");
  t.match(err.message, `${journalFileName(1)}: ledger 1 entry 5, record at byte ${position}`);
  t.same(await readIds(storage, 1, 2), [2, 3, 4], "a read stops before the damaged entry");
  t.same(await readIds(storage, 1, 6), range(6, 10));
  flipByte(path, position + journalRecordHeaderBytes + ledgerEntryHeaderBytes + 2);
  t.same(await readIds(storage, 1, 5), range(5, 10), "repaired bytes read again");

  // A sound record that is not the one the index named (seq rewritten, crc made to match) is caught too.
  const forged = readFileSync(path);
  const recordEnd = position + journalRecordHeaderBytes + forged.readUInt32BE(position + 4);
  forged.writeUInt32BE(77, position + 20);
  forged.writeUInt32BE(crc32(forged.subarray(position + 4, recordEnd)), position);
  writeFileSync(path, forged);
  t.match((await rejection(storage.readEntries(1, 5, 100))).message, /entry 5, record at byte \d+, is damaged: the record there is ledger 1 entry 77/);
});

void t.test("bad arguments are INVALID_ARGUMENT, and every call after close is CLOSED", async (t) => {
  const storage = await LedgerStorage.open(t.testdir());
  const data = [Buffer.from("x")];
  for (const ledger of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
    t.equal((await rejection(storage.addEntry(ledger, 0, -1, data, false))).code, "INVALID_ARGUMENT", `ledger ${ledger}`);
    t.equal((await rejection(storage.readEntries(ledger, 0, 10))).code, "INVALID_ARGUMENT");
    t.equal((await rejection(storage.readState(ledger))).code, "INVALID_ARGUMENT");
    t.equal((await rejection(storage.fence(ledger))).code, "INVALID_ARGUMENT");
    t.equal((await rejection(storage.deleteLedger(ledger))).code, "INVALID_ARGUMENT");
  }
  for (const entryId of [-1, 0.5, 2 ** 53]) {
    t.equal((await rejection(storage.addEntry(1, entryId, -1, data, false))).code, "INVALID_ARGUMENT", `entry ${entryId}`);
    t.equal((await rejection(storage.readEntries(1, entryId, 10))).code, "INVALID_ARGUMENT");
  }
  for (const lac of [-2, 0.5, 2 ** 53]) t.equal((await rejection(storage.addEntry(1, 0, lac, data, false))).code, "INVALID_ARGUMENT", `lac ${lac}`);
  for (const maxBytes of [0, -1, 0.5]) t.equal((await rejection(storage.readEntries(1, 0, maxBytes))).code, "INVALID_ARGUMENT", `maxBytes ${maxBytes}`);
  const big = [Buffer.alloc(ledgerEntryBytesMax), Buffer.alloc(1)];
  t.equal((await rejection(storage.addEntry(1, 0, -1, big, false))).code, "INVALID_ARGUMENT", "data above ledgerEntryBytesMax");
  await storage.addEntry(1, 0, -1, [Buffer.alloc(ledgerEntryBytesMax)], false);
  t.equal((await storage.readEntries(1, 0, 1))[0]?.length, ledgerEntryBytesMax, "exactly the limit is fine");
  t.equal(storage.stats.records, 1, "nothing bad was written");

  const pending = storage.addEntry(1, 1, 0, data, false);
  await storage.close();
  await pending;
  t.equal((await rejection(storage.addEntry(1, 2, 1, data, false))).code, "CLOSED");
  t.equal((await rejection(storage.readEntries(1, 0, 10))).code, "CLOSED");
  t.equal((await rejection(storage.readState(1))).code, "CLOSED");
  t.equal((await rejection(storage.fence(1))).code, "CLOSED");
  t.equal((await rejection(storage.deleteLedger(1))).code, "CLOSED");
  await storage.close();
});

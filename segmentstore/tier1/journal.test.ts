// Proves the journal group-commits, replays every entry exactly and in order with where it lies, bounds its queue, removes files from the front, skips damage when asked, and survives SIGKILL, on real files.
import t from "tap";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SluiceError, journalRecordHeaderBytes, KiB, logEntryBytesMax, syncedMarkPath, verifyRecord } from "../../common/index.js";
import { entryPayload } from "./fixtures/payload.js";
import { Journal, journalFileName } from "./index.js";
import type { JournalLocation, JournalOptions } from "./journal.js";

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = join(here, "..", "..");

interface Entry {
  ledger: number;
  entryId: number;
  payload: Buffer;
}

async function openCollecting(dir: string, opts: JournalOptions = {}) {
  const entries: Entry[] = [];
  const journal = await Journal.open(dir, (ledger, entryId, payload) => entries.push({ ledger, entryId, payload }), opts);
  return { journal, entries };
}

/**
 * Checks that the replayed entries of each ledger are exactly ids 0..n-1 in order with the
 * deterministic payloads, and answers the count per ledger (or a description of the first fault).
 */
function checkReplay(entries: readonly Entry[]): Map<number, number> | string {
  const next = new Map<number, number>();
  for (const [i, e] of entries.entries()) {
    const want = next.get(e.ledger) ?? 0;
    if (e.entryId !== want) return `entry ${i}: ledger ${e.ledger} has entry ${e.entryId} where ${want} was due`;
    if (!e.payload.equals(entryPayload(e.ledger, e.entryId))) return `entry ${i}: payload of ${e.ledger}/${e.entryId} differs`;
    next.set(e.ledger, want + 1);
  }
  return next;
}

/** Appends `count` entries round-robin over `ledgers`, all at once, continuing each ledger's ids. */
function appendMany(journal: Journal, next: number[], count: number): Promise<JournalLocation>[] {
  const acks: Promise<JournalLocation>[] = [];
  for (let i = 0; i < count; i++) {
    const ledger = i % next.length;
    const entryId = next[ledger] ?? 0;
    next[ledger] = entryId + 1;
    acks.push(journal.append(ledger, entryId, entryPayload(ledger, entryId)));
  }
  return acks;
}

/** The per-ledger counts that checkReplay answers after appendMany advanced `next`. */
function countsOf(next: readonly number[]): Map<number, number> {
  return new Map(next.map((n, ledger) => [ledger, n]));
}

function journalFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^journal-\d{10}\.log$/.test(n))
    .sort();
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

void t.test("10k concurrent appends group-commit and replay exactly, per ledger in order", async (t) => {
  const dir = t.testdir();
  const { journal } = await openCollecting(dir);
  t.same(journal.recovery, { files: 0, records: 0, truncatedBytes: 0, damaged: [] });
  const next = new Array<number>(7).fill(0);
  const order: number[] = [];
  const acks = appendMany(journal, next, 10_000).map((p, i) => p.then(() => order.push(i)));
  await Promise.all(acks);
  t.equal(order.length, 10_000, "every append resolved");
  t.ok(order.every((v, i) => v === i), "appends resolved in append order");
  const stats = journal.stats;
  t.equal(stats.records, 10_000);
  t.ok(stats.batches * 50 <= stats.records, `group commit: ${stats.records} records in ${stats.batches} batches`);
  t.equal(stats.bytes, statSync(join(dir, journalFileName(1))).size, "stats.bytes is what the file holds");
  await journal.close();

  const again = await openCollecting(dir);
  t.same(again.journal.recovery, { files: 1, records: 10_000, truncatedBytes: 0, damaged: [] });
  const counts = checkReplay(again.entries);
  t.same(counts, countsOf(next), "every entry replayed with its exact payload");
  await again.journal.close();
});

void t.test("a lone append goes out at once, in a batch of its own", async (t) => {
  const { journal } = await openCollecting(t.testdir());
  for (let i = 0; i < 5; i++) await journal.append(3, i, entryPayload(3, i));
  t.same(journal.stats.batches, 5);
  t.same(journal.stats.records, 5);
  await journal.close();
});

void t.test("rollover makes several files and replay stays exact across them", async (t) => {
  const dir = t.testdir();
  const fileBytesMax = 4 * KiB;
  const { journal } = await openCollecting(dir, { fileBytesMax });
  const next = new Array<number>(3).fill(0);
  for (let wave = 0; wave < 60; wave++) await Promise.all(appendMany(journal, next, 5));
  await journal.close();
  const files = journalFiles(dir);
  t.ok(files.length >= 5, `${files.length} files`);
  t.same(files, files.map((_, i) => journalFileName(i + 1)), "files are numbered from 1 without gaps");
  for (const f of files.slice(0, -1)) {
    t.ok(statSync(join(dir, f)).size >= fileBytesMax, `${f} was full before the roll`);
  }

  const again = await openCollecting(dir, { fileBytesMax });
  t.same(again.journal.recovery, { files: files.length, records: 300, truncatedBytes: 0, damaged: [] });
  t.same(checkReplay(again.entries), countsOf(next), "every entry replayed with its exact payload");
  // Appends continue after the reopen, and survive another.
  await Promise.all(appendMany(again.journal, next, 30));
  await again.journal.close();
  const third = await openCollecting(dir, { fileBytesMax });
  t.same(checkReplay(third.entries), countsOf(next));
  await third.journal.close();
});

void t.test("a torn tail in the last file is cut; torn bytes in an earlier file are corruption", async (t) => {
  const dir = t.testdir();
  const fileBytesMax = 4 * KiB;
  const { journal } = await openCollecting(dir, { fileBytesMax });
  const next = [0, 0];
  for (let wave = 0; wave < 20; wave++) await Promise.all(appendMany(journal, next, 4));
  await journal.close();
  const files = journalFiles(dir);
  t.ok(files.length >= 3, `${files.length} files`);
  const lastPath = join(dir, files[files.length - 1] ?? "");
  const lastBytes = readFileSync(lastPath);
  t.ok(lastBytes.length > journalRecordHeaderBytes * 2, "the last file holds records");

  // Cut the last file in the middle of its last record's payload.
  writeFileSync(lastPath, lastBytes.subarray(0, lastBytes.length - journalRecordHeaderBytes - 5)); // past the batch marker
  // As a crash leaves it: after a clean close the synced mark covers the whole file (common/record-synced-mark.ts).
  rmSync(syncedMarkPath(lastPath));
  const cut = await openCollecting(dir, { fileBytesMax });
  t.ok(cut.journal.recovery.truncatedBytes > 0, "torn bytes were cut");
  t.equal(cut.journal.recovery.records, 79, "every entry but the torn one replayed");
  const counts = checkReplay(cut.entries);
  t.same(counts, new Map([[0, 40], [1, 39]]), "the entries before the tear are exact");
  // The torn entry can be appended again and the journal goes on.
  await Promise.all(appendMany(cut.journal, [40, 39], 2));
  await cut.journal.close();
  const healed = await openCollecting(dir, { fileBytesMax });
  t.same(checkReplay(healed.entries), new Map([[0, 41], [1, 40]]));
  await healed.journal.close();

  // The same tear in the first file is corruption: it was closed cleanly before its successor began.
  const firstPath = join(dir, files[0] ?? "");
  const firstBytes = readFileSync(firstPath);
  writeFileSync(firstPath, firstBytes.subarray(0, firstBytes.length - 5));
  const err = await rejection(openCollecting(dir, { fileBytesMax }));
  t.equal((err as SluiceError).code, "DATA_CORRUPTION");
  t.match((err as Error).message, files[0] ?? "", "the error names the file");
  t.equal(statSync(firstPath).size, firstBytes.length - 5, "the earlier file was not truncated");

  // An emptied earlier file is corruption too: a file is rolled away from only once it holds records.
  writeFileSync(firstPath, firstBytes);
  const middlePath = join(dir, files[1] ?? "");
  writeFileSync(middlePath, Buffer.alloc(0));
  await t.rejects(openCollecting(dir, { fileBytesMax }), { code: "DATA_CORRUPTION" });
});

void t.test("a gap in file numbers is corruption", async (t) => {
  const dir = t.testdir({
    [journalFileName(1)]: "",
    [journalFileName(3)]: "",
  });
  await t.rejects(Journal.open(dir, () => {}), { code: "DATA_CORRUPTION" });
});

void t.test("append after close is CLOSED; bad arguments and options are typed errors", async (t) => {
  const dir = t.testdir();
  await t.rejects(Journal.open(dir, () => {}, { fileBytesMax: 0 }), { code: "INVALID_CONFIG" });
  await t.rejects(Journal.open(dir, () => {}, { queueBytesMax: 1.5 }), { code: "INVALID_CONFIG" });
  const { journal } = await openCollecting(dir);
  await t.rejects(journal.append(0, 0, Buffer.alloc(logEntryBytesMax + 1)), { code: "INVALID_ARGUMENT" });
  await t.rejects(journal.append(-1, 0, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  await t.rejects(journal.append(0, -1, Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  await journal.append(0, 0, [Buffer.from("ab"), Buffer.from("cd")]);
  await journal.close();
  await t.rejects(journal.append(0, 1, Buffer.from("x")), { code: "CLOSED" });
  await journal.close();
  const again = await openCollecting(dir);
  t.equal(again.entries.length, 1);
  t.equal(again.entries[0]?.payload.toString(), "abcd", "a payload given in pieces is one entry");
  await again.journal.close();
});

void t.test("close writes everything appended before it", async (t) => {
  const dir = t.testdir();
  const { journal } = await openCollecting(dir);
  const next = [0, 0, 0];
  const acks = appendMany(journal, next, 1000);
  const closed = journal.close();
  const late = journal.append(0, 99_999, Buffer.from("late"));
  await t.rejects(late, { code: "CLOSED" });
  await Promise.all(acks);
  await closed;
  const again = await openCollecting(dir);
  t.equal(again.entries.length, 1000);
  t.same(checkReplay(again.entries), new Map([[0, 334], [1, 333], [2, 333]]));
  await again.journal.close();
});

void t.test("the queue bound makes appends wait, and they all complete", async (t) => {
  const dir = t.testdir();
  const queueBytesMax = 8 * KiB;
  const { journal } = await openCollecting(dir, { queueBytesMax });
  const payload = Buffer.alloc(1000, 7);
  const acks: Promise<JournalLocation>[] = [];
  for (let i = 0; i < 2000; i++) acks.push(journal.append(i % 2, i >> 1, payload));
  await Promise.all(acks);
  const { batches, records, bytes } = journal.stats;
  t.equal(records, 2000, "every append completed");
  t.ok(bytes / batches <= queueBytesMax, `batches stay within the bound: ${bytes} bytes in ${batches} batches`);
  t.ok(batches >= 2000 / 8, "so many more batches were needed than without the bound");
  await journal.close();
  const again = await openCollecting(dir);
  t.equal(again.entries.length, 2000);
  t.ok(
    again.entries.every((e, i) => e.ledger === i % 2 && e.entryId === i >> 1 && e.payload.equals(payload)),
    "in append order",
  );
  await again.journal.close();
});

void t.test("a failed write fails the journal: pending and later appends reject with it", async (t) => {
  const dir = t.testdir();
  const { journal } = await openCollecting(dir);
  await journal.append(0, 0, Buffer.from("ok"));
  // Pull the descriptor out from under the journal's file so that the next writev fails (EBADF).
  const file = (journal as unknown as { file: { handle: { close(): Promise<void> } } }).file;
  await file.handle.close();
  const pending = [1, 2, 3].map((id) => rejection(journal.append(0, id, Buffer.from("x"))));
  const errs = await Promise.all(pending);
  const first = errs[0] as SluiceError;
  t.equal(first.code, "INTERNAL");
  t.ok(first.cause !== undefined, "the I/O error is the cause");
  t.ok(errs.every((e) => e === first), "every pending append rejects with the same error");
  t.equal(journal.failed, first, "failed is set");
  t.equal(await rejection(journal.append(0, 9, Buffer.from("y"))), first, "later appends reject with it too");
});

void t.test("entries acked before SIGKILL all survive", async (t) => {
  const dir = t.testdir();
  const ackedWanted = 3000;
  const child = spawn(process.execPath, ["--import", "tsx", join(here, "fixtures", "journal-writer.ts"), dir], {
    cwd: projectRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let errText = "";
  let lines = 0;
  child.stderr.on("data", (chunk: Buffer) => (errText += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  const deadline = setTimeout(() => child.kill("SIGKILL"), 120_000);
  child.stdout.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    for (const c of text) if (c === "\n") lines++;
    if (lines >= ackedWanted) child.kill("SIGKILL");
  });
  const signal = await exited;
  clearTimeout(deadline);
  t.equal(signal, "SIGKILL", `the writer was killed mid-run ${errText}`);
  // Only whole lines are acks; a line cut by the kill was never fully printed.
  const acked = out
    .split("\n")
    .slice(0, -1)
    .map((line) => line.split(" ").map(Number));
  t.ok(acked.length >= ackedWanted, `${acked.length} entries acked before the kill`);

  const { journal, entries } = await openCollecting(dir);
  const counts = checkReplay(entries);
  t.type(counts, Map, `replay is exact and in order per ledger: ${typeof counts === "string" ? counts : ""}`);
  const missing = acked.filter(([ledger, entryId]) => {
    const n = counts instanceof Map ? (counts.get(ledger ?? -1) ?? 0) : 0;
    return (entryId ?? Infinity) >= n;
  });
  t.same(missing, [], "every acked entry is in the journal");
  t.ok(journal.recovery.files > 1, `the writer rolled files (${journal.recovery.files})`);
  await journal.close();
});

void t.test("an append resolves only after fdatasync returns (invariant 1)", async (t) => {
  const dir = t.testdir();
  const { journal } = await openCollecting(dir);
  // Hold every datasync of this process until released, as a slow disk would.
  const probe = await open(join(dir, "probe"), "w");
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const realDatasync = proto.datasync;
  const held: (() => void)[] = [];
  proto.datasync = function (this: unknown) {
    return new Promise<void>((resolve) => held.push(resolve)).then(() => realDatasync.call(this));
  };
  t.teardown(() => {
    proto.datasync = realDatasync;
  });
  let acked = false;
  const appended = journal.append(0, 0, Buffer.from("must be synced first")).then(() => (acked = true));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(held.length, 1, "the journal is waiting on its fdatasync");
  t.notOk(acked, "no ack while the sync has not returned");
  proto.datasync = realDatasync;
  for (const release of held.splice(0)) release();
  await appended;
  t.ok(acked, "acked once the sync returned");
  await journal.close();
});

void t.test("open and append tell where each record is: file number, position and length", async (t) => {
  const dir = t.testdir();
  const fileBytesMax = 4 * KiB;
  const { journal } = await openCollecting(dir, { fileBytesMax });
  const next = [0, 0, 0];
  const where: JournalLocation[] = [];
  for (let wave = 0; wave < 20; wave++) where.push(...(await Promise.all(appendMany(journal, next, 4))));
  await journal.close();
  t.ok(new Set(where.map((w) => w.fileNumber)).size >= 3, "the records span several files");

  const replayed: JournalLocation[] = [];
  const entries: Entry[] = [];
  const again = await Journal.open(dir, (ledger, entryId, payload, fileNumber, position) => {
    replayed.push({ fileNumber, position, bytes: journalRecordHeaderBytes + payload.length });
    entries.push({ ledger, entryId, payload });
  }, { fileBytesMax });
  t.same(replayed, where, "replay names the places append answered");
  await again.close();
  // Each place holds the record that was appended there.
  const files = new Map<number, Buffer>();
  const bad = where.filter((w, i) => {
    const bytes = files.get(w.fileNumber) ?? readFileSync(join(dir, journalFileName(w.fileNumber)));
    files.set(w.fileNumber, bytes);
    const rec = verifyRecord(bytes.subarray(w.position, w.position + w.bytes));
    const e = entries[i];
    return "bad" in rec || rec.tag !== e?.ledger || rec.seq !== e.entryId || !rec.payload.equals(entryPayload(rec.tag, rec.seq));
  });
  t.same(bad, [], "every place holds its record");
});

void t.test("removeOldestFile removes from the front only, and the journal reopens from there", async (t) => {
  const dir = t.testdir();
  const fileBytesMax = 4 * KiB;
  const { journal } = await openCollecting(dir, { fileBytesMax });
  const next = [0, 0];
  for (let wave = 0; wave < 30; wave++) await Promise.all(appendMany(journal, next, 4));
  const files = journalFiles(dir);
  t.ok(files.length >= 4, `${files.length} files`);
  t.same(journal.fileNumbers, { oldest: 1, current: files.length });
  t.equal(await journal.removeOldestFile(), 1);
  t.equal(await journal.removeOldestFile(), 2);
  t.same(journalFiles(dir), files.slice(2), "the two oldest files went");
  t.same(journal.fileNumbers, { oldest: 3, current: files.length });
  await journal.close();
  await t.rejects(journal.removeOldestFile(), { code: "CLOSED" });

  const again = await openCollecting(dir, { fileBytesMax });
  t.same(again.journal.fileNumbers, { oldest: 3, current: files.length });
  t.ok(again.entries.length > 0 && again.entries.length < 120, `only the remaining files replay (${again.entries.length} entries)`);
  // The file being written is never removed.
  while (again.journal.fileNumbers.oldest < again.journal.fileNumbers.current) await again.journal.removeOldestFile();
  await t.rejects(again.journal.removeOldestFile(), /the one being written/);
  t.same(journalFiles(dir), [journalFileName(files.length)]);
  await again.journal.close();
});

void t.test("with skipDamaged, damaged records are listed and skipped instead of failing open", async (t) => {
  const dir = t.testdir();
  const fileBytesMax = 4 * KiB;
  const { journal } = await openCollecting(dir, { fileBytesMax });
  const next = [0, 0];
  const where: JournalLocation[] = [];
  for (let wave = 0; wave < 20; wave++) where.push(...(await Promise.all(appendMany(journal, next, 2))));
  await journal.close();
  // A payload byte of the third record of file 1 (a later batch follows it in the file), and of the
  // last record of file 2 (only the next file proves it was synced).
  const inFile1 = where.filter((w) => w.fileNumber === 1)[2];
  const inFile2 = where.filter((w) => w.fileNumber === 2).at(-1);
  for (const w of [inFile1, inFile2]) {
    const path = join(dir, journalFileName(w?.fileNumber ?? 0));
    const bytes = readFileSync(path);
    const at = (w?.position ?? 0) + journalRecordHeaderBytes + 3;
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    writeFileSync(path, bytes);
  }
  await t.rejects(openCollecting(dir, { fileBytesMax }), { code: "DATA_CORRUPTION" }, "the default is strict");

  const again = await openCollecting(dir, { fileBytesMax, skipDamaged: true });
  const { damaged, records } = again.journal.recovery;
  const lostInFile2 = where.filter((w) => w.fileNumber === 2 && w.position >= (inFile2?.position ?? 0)).length;
  t.equal(lostInFile2, 1, "the damaged record is the last of file 2");
  t.equal(records, 38, "every other entry replayed");
  t.equal(again.entries.length, 38);
  t.match(damaged, [
    { fileNumber: 1, file: journalFileName(1), position: inFile1?.position, bytes: inFile1?.bytes, reason: /crc/ },
    { fileNumber: 2, file: journalFileName(2), position: inFile2?.position, reason: /crc/ },
  ]);
  t.equal(damaged[1]?.bytes, statSync(join(dir, journalFileName(2))).size - (inFile2?.position ?? 0), "the rest of file 2 was skipped");
  // Appends go on in the last file, and the damage stays listed after another reopen.
  await Promise.all(appendMany(again.journal, next, 4));
  await again.journal.close();
  const third = await openCollecting(dir, { fileBytesMax, skipDamaged: true });
  t.equal(third.entries.length, 42);
  t.equal(third.journal.recovery.damaged.length, 2);
  await third.journal.close();
});

void t.test("a journal file deleted while stopped, its synced mark left: DATA_CORRUPTION naming it; a mark left by a removal's crash is cleared", async (t) => {
  const fileBytesMax = 4 * KiB;
  async function filled(dir: string): Promise<string[]> {
    const { journal } = await openCollecting(dir, { fileBytesMax });
    const next = [0, 0];
    for (let wave = 0; wave < 20; wave++) await Promise.all(appendMany(journal, next, 4));
    await journal.close();
    return journalFiles(dir);
  }
  await t.test("the newest file: the rest are still numbered without a gap", async (t) => {
    const dir = t.testdir();
    const files = await filled(dir);
    t.ok(files.length >= 3, `${files.length} files`);
    const newest = files.at(-1)!;
    rmSync(join(dir, newest));
    const err = await rejection(openCollecting(dir, { fileBytesMax }));
    t.equal((err as SluiceError).code, "DATA_CORRUPTION");
    t.match((err as Error).message, newest, "the error names the file");
  });
  await t.test("every file (rm journal-*): marks kept", async (t) => {
    const dir = t.testdir();
    await filled(dir);
    // As on a node that ran a while: the first file was removed (with its mark) long ago.
    const { journal } = await openCollecting(dir, { fileBytesMax });
    t.equal(await journal.removeOldestFile(), 1);
    await journal.close();
    for (const f of journalFiles(dir)) rmSync(join(dir, f));
    await t.rejects(openCollecting(dir, { fileBytesMax }), { code: "DATA_CORRUPTION" });
    t.same(journalFiles(dir), [], "no new empty journal was started");
  });
  await t.test("a crash in removeOldestFile after the unlink of the file, before that of its mark", async (t) => {
    const dir = t.testdir();
    const { journal } = await openCollecting(dir, { fileBytesMax });
    const next = [0, 0];
    for (let wave = 0; wave < 20; wave++) await Promise.all(appendMany(journal, next, 4));
    const oldest = join(dir, journalFileName(1));
    const mark = readFileSync(syncedMarkPath(oldest));
    t.equal(await journal.removeOldestFile(), 1);
    await journal.close();
    writeFileSync(syncedMarkPath(oldest), mark);
    const again = await openCollecting(dir, { fileBytesMax });
    t.notOk(readdirSync(dir).includes(`.${journalFileName(1)}.synced`), "the leftover mark is removed");
    await again.journal.close();
    // A second file gone below it is not what a crash leaves.
    writeFileSync(syncedMarkPath(oldest), mark);
    rmSync(join(dir, journalFileName(2)));
    await t.rejects(openCollecting(dir, { fileBytesMax }), { code: "DATA_CORRUPTION" });
  });
});

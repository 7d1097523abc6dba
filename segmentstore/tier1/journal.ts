/**
 * The local durable journal of a log node: entries of many ledgers (u32 ids) share one sequence of
 * journal files, `journal-0000000001.log`, `journal-0000000002.log`, ..., written with group
 * commit. Each entry is one record of common/record-log.ts with the ledger id as its tag and the
 * entry id as its seq.
 *
 * Group commit: while one writev + fdatasync runs, new appends gather in a queue; when it finishes,
 * what gathered (up to journalBatchBytesMax; a single larger record goes alone) is written with one
 * writev and one fdatasync. A lone append with nothing in flight goes out at once, so there is no
 * linger timer to tune and an idle journal adds no latency.
 *
 * Old files are removed from the front only (removeOldestFile), so the files held are always a
 * contiguous run of numbers, and a record never outlives a record written before it.
 *
 * A full disk is not a failure. A batch the disk refuses (ENOSPC) is cut off again by the record
 * file, and it, every append queued behind it, and every append for the next journalFullRetryMs
 * reject STORAGE_FULL at once, without touching the disk (so a full disk costs no I/O storm and
 * holds no memory). After that the next append tries the disk again; `checkSpace` tells a caller
 * that wants to know before writing (the log node's health probe) whether the disk has room
 * again. Any other write or sync error fails the journal for good (fail-stop).
 */
import { readdir, statfs, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  assert,
  ClosedError,
  DataCorruptionError,
  encodeRecord,
  InternalError,
  InvalidConfigError,
  isDiskFull,
  journalBatchBytesMax,
  journalFileBytesMax,
  journalFreeBytesResume,
  journalFullRetryMs,
  journalFullRetryMsMax,
  journalQueueBytesMax,
  journalRecordHeaderBytes,
  logger,
  makeDurableDir,
  readSyncedMark,
  RecordFile,
  removeSyncedMark,
  SluiceError,
  StorageFullError,
  syncDirectory,
  systemClock,
  type Clock,
  type RecordFileDamage,
} from "../../common/index.js";

const log = logger("journal");

/** Journal file names carry a zero-padded sequence number so that they sort in write order. */
const fileNamePattern = /^journal-(\d{10})\.log$/;
/** The synced mark beside a journal file (common/record-synced-mark.ts `syncedMarkPath`). */
const markNamePattern = /^\.journal-(\d{10})\.log\.synced$/;
const fileNumberDigits = 10;
const fileNumberMax = 10 ** fileNumberDigits - 1;
/** Largest fileBytesMax a caller may configure (1 TiB); far above any sensible journal file. */
const fileBytesMaxLimit = 2 ** 40;

export function journalFileName(fileNumber: number): string {
  return `journal-${String(fileNumber).padStart(fileNumberDigits, "0")}.log`;
}

export interface JournalOptions {
  /** A file is closed and the next begun, between batches, once it reaches this size. */
  fileBytesMax?: number;
  /** Bytes appended but not yet durable (queued or being written); above it append waits. */
  queueBytesMax?: number;
  /**
   * Skip damaged records that are not a torn tail instead of failing open (RecordFile's
   * `skipDamaged`): for the log node, whose entries have replicas elsewhere. Default false.
   */
  skipDamaged?: boolean;
  /** Times the pause after a full disk (the system clock by default). */
  clock?: Clock;
  /** Free bytes of the journal's disk, for checkSpace (statfs by default; tests stand in a disk that claims room). */
  freeBytes?: (dir: string) => Promise<number>;
}

async function statfsFreeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** Where a record landed: its journal file, the offset of its header there, and its length. */
export interface JournalLocation {
  fileNumber: number;
  position: number;
  /** The whole record: header and payload. */
  bytes: number;
}

/** A damaged record that open skipped (only with `skipDamaged`). */
export interface JournalDamage extends RecordFileDamage {
  fileNumber: number;
  /** The file's name in the journal directory. */
  file: string;
}

/** What open calls for each replayed entry, in journal order. */
export type JournalEntryHandler = (ledger: number, entryId: number, payload: Buffer, fileNumber: number, position: number) => void;

export interface JournalRecovery {
  /** Journal files replayed. */
  files: number;
  /** Entries replayed. */
  records: number;
  /** Bytes of torn tail cut off the last file. */
  truncatedBytes: number;
  /** Damaged records skipped, in journal order (empty unless `skipDamaged`). */
  damaged: JournalDamage[];
}

export interface JournalStats {
  /** Batches written, each with one writev and one fdatasync. */
  batches: number;
  /** Entries made durable. */
  records: number;
  /** Bytes made durable, record headers included. */
  bytes: number;
}

/** One append waiting to be written. */
interface PendingRecord {
  pieces: Buffer[];
  bytes: number;
  resolve: (where: JournalLocation) => void;
  reject: (err: SluiceError) => void;
}

export class Journal {
  private readonly dir: string;
  private readonly fileBytesMax: number;
  private readonly queueBytesMax: number;
  private readonly recoveryStats: JournalRecovery;
  private readonly counters: JournalStats = { batches: 0, records: 0, bytes: 0 };

  private file: RecordFile;
  private fileNumber: number;
  /** The oldest file still held; files oldestFileNumber..fileNumber all exist. */
  private oldestFileNumber: number;
  private removing = false;
  /** Admitted appends in order, not yet taken into a batch. */
  private readonly queue: PendingRecord[] = [];
  /**
   * Appends waiting for room under queueBytesMax, in order. It holds no bytes of its own (each
   * waiting append's payload is the caller's); its length is bounded by the callers' own bounds
   * on what they have in flight (the container operation queue).
   */
  private readonly waiting: PendingRecord[] = [];
  /** Bytes admitted and not yet durable: the queue plus the batch being written. */
  private admittedBytes = 0;
  /** The batch loop, while it runs; it never rejects. */
  private draining: Promise<void> | undefined;
  private closing = false;
  private closed = false;
  private failure: SluiceError | undefined;
  /**
   * Set while the disk is full: the last refusal, when to try the disk again (monotonic ms), the
   * pause that set it, and whether checkSpace has since seen room (a resume).
   */
  private full: { error: StorageFullError; sinceMs: number; retryAtMs: number; pauseMs: number; resumed: boolean } | undefined;
  private readonly clock: Clock;
  private freeBytes: (dir: string) => Promise<number> = statfsFreeBytes;

  private constructor(
    dir: string,
    file: RecordFile,
    fileNumber: number,
    oldestFileNumber: number,
    recovery: JournalRecovery,
    fileBytesMax: number,
    queueBytesMax: number,
    clock: Clock,
  ) {
    this.clock = clock;
    this.dir = dir;
    this.file = file;
    this.fileNumber = fileNumber;
    this.oldestFileNumber = oldestFileNumber;
    this.recoveryStats = recovery;
    this.fileBytesMax = fileBytesMax;
    this.queueBytesMax = queueBytesMax;
  }

  /**
   * Opens (creating if needed) the journal in `dir` and replays every entry, in journal order,
   * through `onEntry` (with the file number and the record's position in it) before resolving;
   * entries of one ledger arrive in the order they were appended. A torn tail is accepted only in
   * the last file, where it is cut off; a gap in the file numbers rejects with DATA_CORRUPTION, and
   * so does a bad record anywhere else unless `skipDamaged` (then it is listed in
   * `recovery.damaged`). Bad options reject with INVALID_CONFIG naming the option and its range.
   *
   * Before any file is replayed, the synced marks are checked against the files: a mark whose
   * file is gone means the file held synced, so acknowledged, entries, unless the mark is what a
   * crash in removeOldestFile leaves (the mark of the file just below the oldest one held: the file
   * is unlinked before its mark, and removals go one at a time with a directory fsync between) or
   * marks nothing. Those are removed; any other (the newest file deleted, every file deleted while
   * the marks and the node's cookie stayed, several oldest files deleted) rejects DATA_CORRUPTION
   * naming the file, since the node would otherwise answer "I do not hold it" for entries it
   * acknowledged.
   */
  static async open(dir: string, onEntry: JournalEntryHandler, opts: JournalOptions = {}): Promise<Journal> {
    const fileBytesMax = checkOption("fileBytesMax", opts.fileBytesMax ?? journalFileBytesMax, 1, fileBytesMaxLimit);
    const queueBytesMax = checkOption("queueBytesMax", opts.queueBytesMax ?? journalQueueBytesMax, 1, journalQueueBytesMax);

    await makeDurableDir(dir);
    const numbers = (await readdir(dir))
      .map((name) => fileNamePattern.exec(name)?.[1])
      .filter((digits): digits is string => digits !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (let i = 1; i < numbers.length; i++) {
      if (numbers[i] !== (numbers[i - 1] ?? 0) + 1) {
        // Old files are removed from the front only, so a hole means a file went missing.
        throw new DataCorruptionError(`${dir}: journal file ${journalFileName((numbers[i - 1] ?? 0) + 1)} is missing`);
      }
    }
    await checkMarksWithoutFiles(dir, numbers);

    const recovery: JournalRecovery = { files: 0, records: 0, truncatedBytes: 0, damaged: [] };
    const skipDamaged = opts.skipDamaged ?? false;
    let file: RecordFile | undefined;
    let fileNumber = numbers[numbers.length - 1] ?? 1;
    for (const [i, n] of numbers.entries()) {
      const last = i === numbers.length - 1;
      // Every file but the last was fully synced before its successor was created, so only the
      // last may end in a torn batch.
      const onRecord = (rec: { tag: number; seq: number; payload: Buffer; position: number }): void => {
        onEntry(rec.tag, rec.seq, rec.payload, n, rec.position);
      };
      const opened = await RecordFile.open(join(dir, journalFileName(n)), onRecord, { allowTornTail: last, skipDamaged });
      for (const damage of opened.recovery.damaged) recovery.damaged.push({ ...damage, fileNumber: n, file: journalFileName(n) });
      if (!last && opened.recovery.validBytes === 0 && opened.recovery.damaged.length === 0) {
        // A file is rolled away from only after a batch was written to it, so an empty earlier
        // file lost its records.
        await opened.file.close();
        throw new DataCorruptionError(`${dir}: journal file ${journalFileName(n)} is empty but is not the last`);
      }
      recovery.files++;
      recovery.records += opened.recovery.records;
      recovery.truncatedBytes += opened.recovery.truncatedBytes;
      if (last) file = opened.file;
      else await opened.file.close();
    }
    if (file === undefined) {
      fileNumber = 1;
      file = (await RecordFile.open(join(dir, journalFileName(fileNumber)), () => assert(false, "a new journal file is empty"), { create: true })).file;
    }
    if (recovery.files > 0) log.info("journal replayed", { dir, ...recovery, damaged: recovery.damaged.length });
    const journal = new Journal(dir, file, fileNumber, numbers[0] ?? fileNumber, recovery, fileBytesMax, queueBytesMax, opts.clock ?? systemClock);
    if (opts.freeBytes !== undefined) journal.freeBytes = opts.freeBytes;
    return journal;
  }

  /** What open replayed. */
  get recovery(): JournalRecovery {
    return { ...this.recoveryStats, damaged: this.recoveryStats.damaged.map((d) => ({ ...d })) };
  }

  /** The journal's directory. */
  get directory(): string {
    return this.dir;
  }

  /** The numbers of the oldest file held and of the file being written; every one between exists. */
  get fileNumbers(): { oldest: number; current: number } {
    return { oldest: this.oldestFileNumber, current: this.fileNumber };
  }

  /**
   * Removes the oldest file, which must be older than the file being written (the caller decides
   * that nothing in it is needed any more): unlink, then fsync of the directory before the next
   * removal, so that a crash cannot leave a later file gone and an earlier one back (a gap, which
   * open refuses). Resolves with the removed file's number. Calls must be serialised by the
   * caller. Rejects with CLOSED once close has begun; an I/O error fails the journal (INTERNAL,
   * cause: the error), since the directory's state is then unknown.
   */
  async removeOldestFile(): Promise<number> {
    if (this.closing) throw new ClosedError(`${this.dir}: journal is closed`);
    if (this.failure !== undefined) throw this.failure;
    assert(!this.removing, "removeOldestFile calls are serialised by the caller");
    const n = this.oldestFileNumber;
    assert(n < this.fileNumber, `journal file ${n} is the one being written`);
    this.removing = true;
    try {
      await unlink(join(this.dir, journalFileName(n)));
      // The name is gone: whatever happens next, it is not unlinked twice.
      this.oldestFileNumber = n + 1;
      // Its synced mark goes too (a mark left behind only litters: file names are never reused).
      await removeSyncedMark(join(this.dir, journalFileName(n)));
      await syncDirectory(this.dir);
    } catch (err) {
      this.fail(new InternalError(`${this.dir}: cannot remove journal file ${journalFileName(n)}`, { cause: err }), []);
      throw this.failure ?? err;
    } finally {
      this.removing = false;
    }
    log.debug("journal file removed", { dir: this.dir, file: journalFileName(n) });
    return n;
  }

  /** Counters of what was made durable since open; records / batches is records per fdatasync. */
  get stats(): JournalStats {
    return { ...this.counters };
  }

  /** The error that failed the journal for good, if one has. */
  get failed(): SluiceError | undefined {
    return this.failure;
  }

  /** The last STORAGE_FULL refusal while the disk is (or was last seen) full; undefined once a batch is written again. */
  get storageFull(): StorageFullError | undefined {
    return this.full?.error;
  }

  /**
   * Whether the journal can take appends as far as space goes: resolves undefined when it is not
   * known to be full, or when the disk has journalFreeBytesResume bytes free again (which ends the
   * pause after a refusal, so the next append tries the disk); otherwise resolves the STORAGE_FULL
   * error appends get. Looks at the disk (statfs) at most once per pause (journalFullRetryMs, more
   * after resumes the disk refused again: see refuseFull). Never
   * rejects: a statfs that fails counts as still full.
   */
  async checkSpace(): Promise<StorageFullError | undefined> {
    const full = this.full;
    if (full === undefined) return undefined;
    if (this.clock.monotonicMs() < full.retryAtMs) return full.error;
    full.retryAtMs = this.clock.monotonicMs() + journalFullRetryMs;
    let freeBytes: number;
    try {
      freeBytes = await this.freeBytes(this.dir);
    } catch (err) {
      log.warn("cannot tell the journal disk's free space", { dir: this.dir, error: err });
      return full.error;
    }
    if (this.full !== full) return this.full?.error;
    if (freeBytes < journalFreeBytesResume) return full.error;
    // Room again: the next append goes to the disk, whose answer is the final word.
    full.retryAtMs = 0;
    full.resumed = true;
    log.info("the journal disk has room again", { dir: this.dir, freeBytes, fullForMs: Math.round(this.clock.monotonicMs() - full.sinceMs) });
    return undefined;
  }

  /**
   * Appends one entry. Resolves, with where the record landed, only once the entry is written and
   * fdatasync'd; entries appended
   * earlier (of any ledger) are durable no later, so one ledger's entries become durable in append
   * order. When more than queueBytesMax bytes are admitted and not yet durable, the entry waits for
   * room before it is admitted (backpressure, not an error); later appends queue behind it.
   * The payload buffers must not change until the promise settles.
   *
   * Rejects with INVALID_ARGUMENT for a ledger that is not a u32, an entry id that is not a safe
   * integer >= 0, or a payload above logEntryBytesMax; with CLOSED once close has begun; with
   * STORAGE_FULL when the disk refused its batch or one before it (the batch is cut off again, see
   * the file comment; its outcome is nonetheless unknown, as for a timeout: a crash before the cut
   * is synced can bring the entry back at the next open, where it is replayed like any entry the
   * node stored but never acknowledged); and with INTERNAL (cause: the I/O error) once a write or sync has
   * failed otherwise, which fails the journal.
   */
  append(ledger: number, entryId: number, payload: Buffer | readonly Buffer[]): Promise<JournalLocation> {
    if (this.closing) return Promise.reject(new ClosedError(`${this.dir}: journal is closed`));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.full !== undefined && this.clock.monotonicMs() < this.full.retryAtMs) return Promise.reject(this.full.error);
    let pieces: Buffer[];
    try {
      pieces = encodeRecord(ledger, entryId, payload);
    } catch (err) {
      return Promise.reject(err instanceof SluiceError ? err : new InternalError("cannot encode entry", { cause: err }));
    }
    let bytes = 0;
    for (const piece of pieces) bytes += piece.length;
    return new Promise<JournalLocation>((resolve, reject) => {
      const rec: PendingRecord = { pieces, bytes, resolve, reject };
      if (this.waiting.length === 0 && this.hasRoom(bytes)) {
        this.admit(rec);
        this.kick();
      } else {
        this.waiting.push(rec);
      }
    });
  }

  /**
   * Waits for the batch being written, writes everything appended before close, then closes the
   * file. Appends after close reject with CLOSED. If the journal has failed, close only releases
   * the file (the appends have already been rejected). Idempotent.
   */
  async close(): Promise<void> {
    this.closing = true;
    while (this.draining !== undefined) await this.draining;
    if (this.closed) return;
    this.closed = true;
    assert(this.failure !== undefined || (this.queue.length === 0 && this.waiting.length === 0), "close wrote everything");
    await this.file.close();
  }

  private hasRoom(bytes: number): boolean {
    // A record larger than the bound is admitted alone, so it cannot wait forever.
    return this.admittedBytes === 0 || this.admittedBytes + bytes <= this.queueBytesMax;
  }

  private admit(rec: PendingRecord): void {
    this.admittedBytes += rec.bytes;
    this.queue.push(rec);
  }

  /** Starts the batch loop unless it runs already. */
  private kick(): void {
    if (this.draining !== undefined || this.failure !== undefined) return;
    this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && this.failure === undefined) {
      await this.writeBatch();
    }
    // Cleared in the same synchronous step as the emptiness check above, so an append made from
    // here on starts a new loop instead of leaving its record stranded in the queue.
    this.draining = undefined;
  }

  /** Writes one batch from the head of the queue; a failure fails the journal instead of throwing. */
  private async writeBatch(): Promise<void> {
    const batch: PendingRecord[] = [];
    const pieces: Buffer[] = [];
    let batchBytes = 0;
    for (;;) {
      const rec = this.queue[0];
      if (rec === undefined || (batch.length > 0 && batchBytes + rec.bytes > journalBatchBytesMax)) break;
      this.queue.shift();
      batch.push(rec);
      for (const piece of rec.pieces) pieces.push(piece);
      batchBytes += rec.bytes;
    }
    let position: number;
    try {
      if (this.file.sizeBytes >= this.fileBytesMax) await this.roll();
      position = this.file.sizeBytes;
      await this.file.appendBatch(pieces, batchBytes);
    } catch (err) {
      if (err instanceof StorageFullError && this.file.failed === undefined) this.refuseFull(err, batch);
      else this.fail(err, batch);
      return;
    }
    if (this.full !== undefined) {
      log.info("the journal writes again after a full disk", { dir: this.dir, fullForMs: Math.round(this.clock.monotonicMs() - this.full.sinceMs) });
      this.full = undefined;
    }
    const fileNumber = this.fileNumber;
    this.counters.batches++;
    this.counters.records += batch.length;
    // The file also holds the marker that closes every batch.
    this.counters.bytes += batchBytes + journalRecordHeaderBytes;
    this.admittedBytes -= batchBytes;
    for (const rec of batch) {
      rec.resolve({ fileNumber, position, bytes: rec.bytes });
      position += rec.bytes;
    }
    for (;;) {
      const next = this.waiting[0];
      if (next === undefined || !this.hasRoom(next.bytes)) break;
      this.waiting.shift();
      this.admit(next);
    }
  }

  /**
   * Begins the next file and closes the full one; called between batches only. The next file is
   * opened first, so a disk too full to create it (STORAGE_FULL) leaves the journal on the old one.
   */
  private async roll(): Promise<void> {
    const nextNumber = this.fileNumber + 1;
    if (nextNumber > fileNumberMax) throw new InternalError(`${this.dir}: journal file numbers are used up`);
    let opened: Awaited<ReturnType<typeof RecordFile.open>>;
    try {
      opened = await RecordFile.open(join(this.dir, journalFileName(nextNumber)), () => {}, { create: true });
    } catch (err) {
      if (isDiskFull(err) || (err instanceof Error && isDiskFull(err.cause))) {
        throw new StorageFullError(`${this.dir}: cannot begin journal file ${journalFileName(nextNumber)}: the disk is full`, { cause: err });
      }
      throw err;
    }
    await this.file.close();
    this.file = opened.file;
    this.fileNumber = nextNumber;
    log.debug("journal rolled to a new file", { dir: this.dir, file: journalFileName(nextNumber) });
  }

  /**
   * The disk refused a batch (the record file cut it off again and stays usable): the batch and
   * everything queued or waiting behind it reject STORAGE_FULL, and so does every append for the
   * next journalFullRetryMs, doubled (up to journalFullRetryMsMax) for each refusal that follows a
   * resume (checkSpace saw room) with no batch written between. Rejecting what is queued keeps a ledger's entries on this node free of
   * gaps a refused batch would leave before later ones, and frees their memory at once.
   */
  private refuseFull(err: StorageFullError, batch: readonly PendingRecord[]): void {
    const nowMs = this.clock.monotonicMs();
    const error = new StorageFullError(`${this.dir}: the journal disk is full; appends are refused until it has room (${err.message})`, { cause: err });
    if (this.full === undefined) log.warn("the journal disk is full; appends are refused until it has room", { dir: this.dir, error: err.message });
    // Refused again, before any batch went through, after checkSpace saw room: statfs shows room
    // the writes do not get (a quota, no inodes, reserved blocks), and each such resume would
    // place a new ledger here (the health probe passes) only for it to fail. So the pause doubles,
    // to a bound. A refusal without such a resume keeps the pause it had.
    const last = this.full;
    const pauseMs = last === undefined ? journalFullRetryMs : last.resumed ? Math.min(2 * last.pauseMs, journalFullRetryMsMax) : last.pauseMs;
    this.full = { error, sinceMs: last?.sinceMs ?? nowMs, retryAtMs: nowMs + pauseMs, pauseMs, resumed: false };
    const rejected = [...batch, ...this.queue.splice(0), ...this.waiting.splice(0)];
    this.admittedBytes = 0;
    for (const rec of rejected) rec.reject(error);
  }

  /** Fail-stop: every pending and later append rejects with the error; nothing is retried. */
  private fail(err: unknown, batch: readonly PendingRecord[]): void {
    const failure =
      err instanceof SluiceError ? err : new InternalError(`${this.dir}: journal write failed`, { cause: err });
    this.failure = failure;
    log.error("journal failed; every pending and later append is rejected", { dir: this.dir, error: failure });
    const rejected = [...batch, ...this.queue.splice(0), ...this.waiting.splice(0)];
    this.admittedBytes = 0;
    for (const rec of rejected) rec.reject(failure);
  }
}

function checkOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`journal option ${name}: ${value} is not an integer in [${min}, ${max}]`);
  }
  return value;
}

/** See the comment above Journal.open: refuses a journal whose synced marks name files that are gone. */
async function checkMarksWithoutFiles(dir: string, numbers: readonly number[]): Promise<void> {
  const held = new Set(numbers);
  const oldest = numbers[0];
  const orphans = (await readdir(dir))
    .map((name) => markNamePattern.exec(name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .filter((n) => !held.has(n))
    .sort((a, b) => a - b);
  if (orphans.length === 0) return;
  for (const n of orphans) {
    const path = join(dir, journalFileName(n));
    const leftOverFromRemoval = oldest !== undefined && n === oldest - 1;
    const markedBytes = (await readSyncedMark(path))?.lengthBytes ?? 0;
    if (!leftOverFromRemoval && markedBytes > 0) {
      const where = oldest === undefined ? "no journal file is left" : n > (numbers[numbers.length - 1] ?? 0) ? "it was the newest" : "older files are gone too";
      throw new DataCorruptionError(
        `${dir}: journal file ${journalFileName(n)} is missing (${where}), but its synced mark says ${markedBytes} bytes were synced to it: ` +
          `it was deleted while the node was stopped, and acknowledged entries are gone`,
      );
    }
    log.info("removing the synced mark of a journal file that is gone", { dir, file: journalFileName(n), markedBytes });
    await removeSyncedMark(path);
  }
  await syncDirectory(dir);
}

/**
 * A log node's storage (like a BookKeeper bookie's): the entries of every ledger the node holds, in
 * one shared journal written with group commit (journal.ts; record layout in ledger-records.ts),
 * with an in-memory index from (ledger, entry id) to where each record lies (ledger-index.ts),
 * rebuilt by replaying the journal at open. Reads go back to the journal files (pread) and verify
 * each record's crc.
 *
 * Durability and order: every add, fence and delete is a journal record and resolves only once
 * that record is fdatasync'd. The journal makes records durable in append order, so everything
 * admitted before a fence or delete is durable by the time it resolves. An entry joins the index
 * (is readable, counts in lastEntryId and lac) only once durable.
 *
 * Space: journal files go oldest first, once every ledger they hold a record of is deleted (its
 * delete record durable) and they are not the file being written. A ledger that is still live pins
 * its oldest file and every later one. Deleted ledger ids are remembered (adds to them refused)
 * while some remaining file holds a record of them.
 *
 * Full disk: an add, fence or delete whose journal batch the disk refused rejects STORAGE_FULL and
 * wrote nothing (journal.ts); the node goes on, and takes writes again once there is room. While
 * its journal is known full, the health probe (readState of probeLedgerId) answers STORAGE_FULL, so
 * writers place no new ledger here until statfs shows room again (BookKeeper's read-only bookie).
 *
 * Damage: open skips damaged records that are not a torn tail (RecordFile `skipDamaged`), logs and
 * lists them; from then on an entry this node does not hold answers DATA_CORRUPTION, not
 * NO_SUCH_ENTRY, since it may have been among them. Which ledger a damaged record belonged to is
 * unknown (its header is not to be trusted), so the file holding it, and every later one, is never
 * removed: removing it would turn that DATA_CORRUPTION into a NO_SUCH_ENTRY after the next restart,
 * which a recovering writer may take for proof that the entry was never written.
 */
import { readdir } from "node:fs/promises";
import {
  ClosedError,
  DataCorruptionError,
  journalRecordHeaderBytes,
  LedgerFencedError,
  ledgerEntryHeaderBytes,
  lockDir,
  logger,
  logNodeEntriesMax,
  logNodeLedgersMax,
  logNodeReadBytesMax,
  logNodeReadEntriesMax,
  NoSuchEntryError,
  StorageFullError,
  toSluiceError,
  type DirLock,
  type SluiceError,
} from "../../../common/index.js";
import { probeLedgerId } from "../log-metadata.js";
import { Journal, journalFileName, type JournalDamage, type JournalLocation, type JournalRecovery, type JournalStats } from "../journal.js";
import type { LedgerState, LogNodeApi } from "../log-node-api.js";
import { readEntryRecords } from "./entry-reads.js";
import { loadOrCreateCookie } from "./node-cookie.js";
import { JournalReader } from "./journal-reader.js";
import { FileLedgers, LedgerEntries, LedgerInfo, type EntryLocation } from "./ledger-index.js";
import { checkEntryData, checkEntryId, checkLac, checkLedgerId, checkMaxBytes, controlPayload, controlTag, deleteSeq, entryHeader, fenceSeq } from "./ledger-records.js";
import { ledgerReplay } from "./ledger-replay.js";

const log = logger("lognode");

export interface LedgerStorageOptions {
  /**
   * The node's address in ledger ensembles (LogNodeApi.address); `local:DIR` by default. The
   * in-process node of a standalone passes a name without the path, so a moved data directory
   * still finds its ledgers.
   */
  address?: string;
  /** Journal file roll size (journalFileBytesMax by default). */
  fileBytesMax?: number;
  /** Journal bytes admitted and not yet durable before adds wait (journalQueueBytesMax by default). */
  queueBytesMax?: number;
}

/** Runs `fn`, turning a synchronous throw (a failed argument check) into a rejection. */
function settle<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(asError(err));
  }
}

function asError(err: unknown): SluiceError {
  return toSluiceError(err);
}

export class LedgerStorage implements LogNodeApi {
  readonly address: string;
  private readonly reader: JournalReader;
  /** Durable entries indexed plus adds in flight, across ledgers (bounded by logNodeEntriesMax). */
  private entriesHeld = 0;
  /** The newest journal file a durable record was seen in; a newer one means a roll. */
  private newestFile: number;
  /** File removals run one at a time, chained here; the chain never rejects. */
  private removals: Promise<void> = Promise.resolve();
  private readonly readsInFlight = new Set<Promise<unknown>>();
  /** Damaged records skipped at open. */
  private readonly damage: readonly JournalDamage[];
  /** The first journal file with damage: it and later files are kept (see the module comment). */
  private readonly damagedFileMin: number;
  private closing: Promise<void> | undefined;
  /** The journal directory's lock (common/dir-lock.ts), released after the journal is closed. */
  private lock: DirLock | undefined;

  private constructor(
    private readonly dir: string,
    private readonly journal: Journal,
    private readonly ledgers: Map<number, LedgerInfo>,
    private readonly fileLedgers: FileLedgers,
    address: string,
    private readonly cookieInstanceId: string,
  ) {
    this.address = address;
    this.reader = new JournalReader(dir);
    this.newestFile = journal.fileNumbers.current;
    for (const info of ledgers.values()) this.entriesHeld += info.entries?.size ?? 0;
    this.damage = journal.recovery.damaged;
    this.damagedFileMin = Math.min(Infinity, ...this.damage.map((d) => d.fileNumber));
  }

  /**
   * Opens (creating if needed) the storage in `dir`: replays the journal into the index, skipping
   * (and listing in `recovery.damaged`) damaged records, then removes the journal files that are
   * no longer needed. Rejects with INVALID_CONFIG for bad options, and DATA_CORRUPTION for damage
   * it cannot step over (see Journal.open) or a crc-good record that makes no sense, and
   * DATA_DIR_LOCKED, having read nothing, while another live process has `dir` open.
   */
  static async open(dir: string, opts: LedgerStorageOptions = {}): Promise<LedgerStorage> {
    // One process writes a journal directory: a second is refused (DATA_DIR_LOCKED) before anything is read or cut.
    const lock = await lockDir(dir, "log node");
    try {
      const storage = await LedgerStorage.openLocked(dir, opts);
      storage.lock = lock;
      return storage;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async openLocked(dir: string, opts: LedgerStorageOptions): Promise<LedgerStorage> {
    const ledgers = new Map<number, LedgerInfo>();
    const fileLedgers = new FileLedgers();
    // The cookie first: a directory whose journal is gone (deleted, wiped) gets a new identity,
    // which the segment stores compare with the one their ledgers recorded (node-cookie.ts).
    const hadData = (await readdir(dir)).some((name) => name.startsWith("journal-"));
    const instanceId = await loadOrCreateCookie(dir, hadData);
    const journal = await Journal.open(dir, ledgerReplay(dir, ledgers, fileLedgers), { ...opts, skipDamaged: true });
    const storage = new LedgerStorage(dir, journal, ledgers, fileLedgers, opts.address ?? `local:${dir}`, instanceId);
    if (ledgers.size > logNodeLedgersMax || storage.entriesHeld > logNodeEntriesMax) {
      log.warn("the journal holds more than the node's bounds; adds of new entries fail STORAGE_FULL until deletes make room", {
        dir,
        ledgers: ledgers.size,
        entries: storage.entriesHeld,
      });
    }
    if (storage.damage.length > 0) {
      log.error("the journal holds damaged records; their file and every later one are kept until an operator deals with them", {
        dir,
        damaged: storage.damage.length,
        file: journalFileName(storage.damagedFileMin),
      });
    }
    await storage.removeDeadFiles();
    const failed = journal.failed;
    if (failed !== undefined) {
      await storage.close();
      throw failed;
    }
    return storage;
  }

  /** The identity of the data in this node's directory (its cookie, node-cookie.ts). */
  instanceId(): Promise<string> {
    return Promise.resolve(this.cookieInstanceId);
  }

  /** What open replayed: journal files, records, torn bytes cut, damaged records skipped. */
  get recovery(): JournalRecovery {
    return this.journal.recovery;
  }

  /** What the journal made durable since open. */
  get stats(): JournalStats {
    return this.journal.stats;
  }

  addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void> {
    return settle(() => {
      this.checkOpen();
      checkLedgerId(ledger);
      checkEntryId(entryId);
      checkLac(lac);
      checkEntryData(data);
      const known = this.ledgers.get(ledger);
      if (known?.deleted === true) throw new LedgerFencedError(`${this.address}: ledger ${ledger} was deleted`);
      if (known?.fenced === true && !recovery) throw new LedgerFencedError(`${this.address}: ledger ${ledger} is fenced`);
      // Entries never change: one held, or on its way, is not written again.
      if ((known?.entries?.indexOf(entryId) ?? -1) >= 0) return Promise.resolve();
      const pending = known?.inflight?.get(entryId);
      if (pending !== undefined) return pending;
      if (this.entriesHeld >= logNodeEntriesMax) {
        throw new StorageFullError(`${this.address}: the node holds ${this.entriesHeld} entries, its bound (logNodeEntriesMax)`);
      }
      const info = known ?? this.newLedger(ledger);
      // The writer's data goes to writev as it is, behind its own record header and the lac.
      const written = this.journal.append(ledger, entryId, [entryHeader(lac), ...data]);
      this.entriesHeld++;
      const durable = written.then(
        (where) => {
          this.settled(info, entryId);
          this.noteDurable(where, ledger, info);
          if (info.deleted || !(info.entries ??= new LedgerEntries()).insert(entryId, where.fileNumber, where.position, where.bytes)) {
            this.entriesHeld--;
            return;
          }
          info.lac = Math.max(info.lac, lac);
        },
        (err: unknown) => {
          this.settled(info, entryId);
          this.entriesHeld--;
          throw asError(err);
        },
      );
      (info.inflight ??= new Map()).set(entryId, durable);
      return durable;
    });
  }

  readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]> {
    return settle(() => {
      this.checkOpen();
      checkLedgerId(ledger);
      checkEntryId(firstEntryId);
      checkMaxBytes(maxBytes);
      const info = this.ledgers.get(ledger);
      if (info?.deleted === true) throw new NoSuchEntryError(`${this.address}: ledger ${ledger} was deleted`);
      const entries = info?.entries;
      const first = entries?.indexOf(firstEntryId) ?? -1;
      if (info === undefined || entries === undefined || first < 0) throw this.missing(ledger, firstEntryId);
      // The entries to read, chosen now: contiguous ids from the first, within the byte bounds.
      const bytesMax = Math.min(maxBytes, logNodeReadBytesMax);
      const wanted: EntryLocation[] = [];
      let dataBytes = 0;
      for (let i = first; i < entries.size && wanted.length < logNodeReadEntriesMax; i++) {
        const where = entries.locationAt(i);
        const bytes = where.bytes - journalRecordHeaderBytes - ledgerEntryHeaderBytes;
        if (where.entryId !== firstEntryId + wanted.length || (wanted.length > 0 && dataBytes + bytes > bytesMax)) break;
        wanted.push(where);
        dataBytes += bytes;
      }
      const reading = readEntryRecords(this.reader, ledger, wanted, { address: this.address, dir: this.dir, deleted: () => info.deleted });
      this.readsInFlight.add(reading);
      return reading.finally(() => this.readsInFlight.delete(reading));
    });
  }

  /** As LogNodeApi.readState; for the health probe's ledger id, rejects STORAGE_FULL while the journal disk is full (see the module comment). */
  readState(ledger: number): Promise<LedgerState> {
    return settle(() => {
      this.checkOpen();
      checkLedgerId(ledger);
      if (ledger === probeLedgerId && this.journal.storageFull !== undefined) {
        return this.journal.checkSpace().then((full) => {
          if (full !== undefined) throw full;
          return this.stateOf(this.ledgers.get(ledger));
        });
      }
      return Promise.resolve(this.stateOf(this.ledgers.get(ledger)));
    });
  }

  fence(ledger: number): Promise<LedgerState> {
    return settle(() => {
      this.checkOpen();
      checkLedgerId(ledger);
      const known = this.ledgers.get(ledger);
      // A deleted ledger refuses every add already; its delete record is what must be durable.
      if (known?.deleted === true) return (known.deleting ?? Promise.resolve()).then(() => this.stateOf(known));
      const info = known ?? this.newLedger(ledger);
      if (info.fenced && info.fencing === undefined) return Promise.resolve(this.stateOf(info));
      info.fenced = true;
      info.fencing ??= this.journal.append(controlTag, fenceSeq, controlPayload(ledger)).then(
        (where) => {
          this.noteDurable(where, ledger, info);
          info.fencing = undefined;
        },
        (err: unknown) => {
          // Not durable (a full disk, say): the ledger was not fenced before this record (else
          // nothing would have been written), and the fencer learns it failed, so it is unfenced
          // again and the next fence writes the record anew.
          info.fencing = undefined;
          info.fenced = false;
          throw asError(err);
        },
      );
      return info.fencing.then(() => this.stateOf(info));
    });
  }

  deleteLedger(ledger: number): Promise<void> {
    return settle(() => {
      this.checkOpen();
      checkLedgerId(ledger);
      const known = this.ledgers.get(ledger);
      if (known?.deleteDurable === true) return Promise.resolve();
      if (known?.deleting !== undefined) return known.deleting;
      if (known === undefined && this.ledgers.size >= logNodeLedgersMax) {
        // The node holds nothing of it, and has no room to remember it: only stray late adds
        // would notice, and ledger ids are never reused.
        log.warn("deleting an unknown ledger with the ledger table full: not remembered", { address: this.address, ledger });
        return Promise.resolve();
      }
      const info = known ?? this.newLedger(ledger);
      this.entriesHeld -= info.markDeleted();
      // Resolves once the delete record is durable and the files it freed are gone. A failed
      // removal fails the journal (logged by the removal chain), which the next call reports.
      info.deleting = this.journal.append(controlTag, deleteSeq, controlPayload(ledger)).then(
        (where) => {
          this.noteDurable(where, ledger, info);
          info.deleteDurable = true;
          info.deleting = undefined;
          return this.removeDeadFiles();
        },
        (err: unknown) => {
          info.deleting = undefined;
          throw asError(err);
        },
      );
      return info.deleting;
    });
  }

  /** Writes what was admitted, then closes the journal and the read handles. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    // Removals check `closing` before each file, so the chain ends after the one under way.
    await this.removals;
    await this.journal.close();
    await Promise.allSettled([...this.readsInFlight]);
    await this.reader.close();
    await this.lock?.release();
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new ClosedError(`${this.address}: log node storage is closed`);
  }

  private newLedger(ledger: number): LedgerInfo {
    if (this.ledgers.size >= logNodeLedgersMax) {
      throw new StorageFullError(`${this.address}: the node knows ${this.ledgers.size} ledgers, its bound (logNodeLedgersMax)`);
    }
    const info = new LedgerInfo();
    this.ledgers.set(ledger, info);
    return info;
  }

  private stateOf(info: LedgerInfo | undefined): LedgerState {
    if (info === undefined) return { lac: -1, lastEntryId: -1, fenced: false };
    // A deleted ledger holds nothing and refuses adds as a fenced one does.
    if (info.deleted) return { lac: -1, lastEntryId: -1, fenced: true };
    return { lac: info.lac, lastEntryId: info.lastEntryId, fenced: info.fenced };
  }

  /** An add is durable or failed: it is no longer in flight. */
  private settled(info: LedgerInfo, entryId: number): void {
    info.inflight?.delete(entryId);
    if (info.inflight?.size === 0) info.inflight = undefined;
  }

  private missing(ledger: number, entryId: number): SluiceError {
    const damaged = this.damage;
    if (damaged.length === 0) return new NoSuchEntryError(`${this.address}: ledger ${ledger} entry ${entryId} is not held here`);
    const first = damaged[0];
    return new DataCorruptionError(
      `${this.address}: ledger ${ledger} entry ${entryId} is not held here, and the journal had ${damaged.length} damaged ` +
        `record(s) at open (first: ${first?.file} at byte ${first?.position}); it may have been among them`,
    );
  }

  /** Records that a record of `ledger` is durable in `where`, and removes files a roll freed. */
  private noteDurable(where: JournalLocation, ledger: number, info: LedgerInfo): void {
    this.fileLedgers.note(where.fileNumber, ledger, info);
    if (where.fileNumber > this.newestFile) {
      this.newestFile = where.fileNumber;
      // The file just closed may be the last one a deleted ledger held. Nobody waits on this run.
      void this.removeDeadFiles();
    }
  }

  /**
   * Queues a removal run behind any under way; resolves when it is done. Never rejects: a failed
   * removal has failed the journal (Journal.removeOldestFile), so every later write reports it;
   * here it is logged once.
   */
  private removeDeadFiles(): Promise<void> {
    this.removals = this.removals
      .then(() => this.removeDeadFilesNow())
      .catch((err: unknown) => log.error("journal file removal failed", { address: this.address, error: err }));
    return this.removals;
  }

  /** Removes the oldest files while they are not being written and all they hold is deleted. */
  private async removeDeadFilesNow(): Promise<void> {
    for (;;) {
      if (this.closing !== undefined) return;
      const { oldest, current } = this.journal.fileNumbers;
      if (oldest >= current || oldest >= this.damagedFileMin) return;
      const held = this.fileLedgers.ledgersIn(oldest);
      for (const ledger of held) {
        if (this.ledgers.get(ledger)?.deleteDurable === false) return;
      }
      this.reader.forget(oldest);
      await this.journal.removeOldestFile();
      this.fileLedgers.forget(oldest);
      for (const ledger of held) {
        // Forgotten once no remaining file holds a record of it (its delete record went too).
        const info = this.ledgers.get(ledger);
        if (info !== undefined && info.lastFile <= oldest) this.ledgers.delete(ledger);
      }
      log.info("removed a journal file whose ledgers are all deleted", { address: this.address, file: journalFileName(oldest), ledgers: held.size });
    }
  }
}

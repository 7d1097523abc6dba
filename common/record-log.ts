/**
 * A file of checksummed records, appended in group-committed batches. The segment store's journal
 * and the controller's embedded metadata store both keep their durable state in these files.
 *
 * Record layout (big-endian), `journalRecordHeaderBytes` (24) of header, then the payload:
 *
 *   u32 crc            zlib crc32 over bytes 4..end of the record (rest of header and payload)
 *   u32 payloadLength  at most logEntryBytesMax
 *   u32 tag            the caller's (the journal puts the ledger id here)
 *   u32 flags          0 for a record; 1 for the empty marker that closes every batch; any other
 *                      value is a bad record
 *   i64 seq            the caller's (the journal puts the entry id here): high i32, low u32;
 *                      a safe integer >= 0
 *
 * Recovery tells a torn tail from corruption. Only the last batch can be torn by a crash, because
 * every earlier batch was fdatasync'd before the next was written. A bad record is corruption, and
 * is reported, never skipped (invariant 8), when a later batch provably follows it (its batch's
 * marker and then another good record), or when more than one batch (`tornWindowBytes`, asserted
 * in appendBatch) lies between the last batch marker and the end of the file. Otherwise it is a
 * torn tail and is cut off. A caller whose records have copies elsewhere (the log node's journal)
 * may ask open to skip provable corruption instead of failing (`skipDamaged`); the damage is then
 * logged and listed in the recovery, never passed over silently.
 *
 * Acknowledged records are never taken for a torn tail: each file keeps a synced mark in a side
 * file (record-synced-mark.ts), a length known to have been synced. A file shorter than its mark,
 * or a missing file whose mark remains, or a bad record below the mark, is DATA_CORRUPTION at open
 * (whatever `skipDamaged` says for the shorter file: cut records cannot be stepped over), so a file
 * cut while the process was stopped is refused, not served short.
 */
import { constants as fsConstants } from "node:fs";
import { mkdir, open as openFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { assert } from "./assert.js";
import { ClosedError, DataCorruptionError, InternalError, SluiceError, StorageFullError } from "./errors.js";
import type { Clock } from "./clock.js";
import { journalRecordHeaderBytes } from "./limits.js";
import { logger } from "./log.js";
import { batchEndMarker, tornWindowBytes } from "./record-format.js";
import { laterBatchAfter, scanRecords } from "./record-scan.js";
import { readSyncedMark, SyncedMarkWriter, syncedMarkPath, type SyncedMarkValue } from "./record-synced-mark.js";

export { encodeRecord, tornWindowBytes, verifyRecord } from "./record-format.js";
export type { VerifiedRecord } from "./record-format.js";
export { readSyncedMark, removeSyncedMark, syncedMarkPath } from "./record-synced-mark.js";

const log = logger("record-log");


/** One record as replayed by `RecordFile.open`. The payload buffer belongs to the callee. */
export interface RecordFileRecord {
  tag: number;
  seq: number;
  payload: Buffer;
  /** Byte offset of the record's header in the file. */
  position: number;
}

export interface RecordFileRecovery {
  /** Records replayed. */
  records: number;
  /** Length of the file after recovery: the end of the last good record. */
  validBytes: number;
  /** Bytes of torn tail cut off (0 when the file ended cleanly). */
  truncatedBytes: number;
  /** Damaged records skipped (only with `skipDamaged`; otherwise damage rejects open). */
  damaged: RecordFileDamage[];
}

/** A damaged record that open skipped: the bytes from `position` on that no good record covers. */
export interface RecordFileDamage {
  /** Byte offset of the damaged record's header. */
  position: number;
  /** Bytes skipped: the damaged record, or the rest of the file when nothing after it could be trusted. */
  bytes: number;
  /** What was wrong with it (crc mismatch, bad length, ...). */
  reason: string;
}

export interface RecordFileOpenOptions {
  /** Create the file (and fsync its directory) when it does not exist. Default false. */
  create?: boolean;
  /**
   * Whether a bad record within the torn-tail window may be cut off as a torn tail. Default true.
   * A caller that knows the file was closed cleanly (an earlier file in a sequence) passes false,
   * so any bad record there is reported as corruption and the file is left untouched.
   */
  allowTornTail?: boolean;
  /**
   * How far from the end a bad record may start and still be taken for a torn tail: the largest
   * batch one appendBatch writes. A file written one record per batch passes its largest record.
   */
  tornWindowBytes?: number;
  /**
   * What to do with a bad record that is not a torn tail (a later batch follows it, or the file
   * may not have a torn tail). Default false: open rejects with DATA_CORRUPTION, for callers whose
   * state is only right when every record is. True (the log node's journal, whose replicas hold
   * copies): the record is logged at error level, listed in `recovery.damaged`, and the scan
   * resumes after it; when nothing after it can be trusted, the rest of the file is skipped and the
   * file refuses appends. A bad record beyond the torn-tail window with no later batch found after
   * it still rejects: where good records resume cannot be told, and cutting would lose them.
   */
  skipDamaged?: boolean;
  /**
   * Keep a synced mark for this file (default true). False only for a file whose completeness is
   * proven otherwise, e.g. a snapshot written under a temporary name, synced and renamed whole.
   */
  syncedMark?: boolean;
  /** How often the synced mark is written while appends go on (syncedMarkIntervalMs by default). */
  syncedMarkIntervalMs?: number;
  /** Times the synced mark's writes (the system clock by default). */
  clock?: Clock;
}

/**
 * An open record file positioned at its end. Appends are whole batches written with one writev and
 * made durable with one fdatasync. If a write or sync fails the file is failed for good: the page
 * cache state after a failed fsync is unknown, so nothing is retried and every later call rejects
 * with the same error. One failure is not fatal: a full disk (ENOSPC, EDQUOT). The batch is then cut
 * off again (ftruncate back to the end of the last durable batch, then fdatasync) and the append
 * rejects STORAGE_FULL; the file stays at its last good length and takes appends again once there
 * is space. That is safe because every byte below that length was made durable by an fdatasync that
 * succeeded before this batch was written, and the blocks holding it are not given back by a failed
 * write-back of newer bytes; only the refused batch is lost, and it was never acknowledged. If the
 * cut itself fails, the file is failed for good as above.
 */
export class RecordFile {
  readonly path: string;
  private readonly handle: FileHandle;
  private size: number;
  /** False when open skipped damage running to the end of the file: appends there would be lost. */
  private readonly appendable: boolean;
  private writing = false;
  private closed = false;
  private failure: SluiceError | undefined;
  /** Keeps the side file marking how much of this file is known synced (none with `syncedMark: false`). */
  private readonly mark: SyncedMarkWriter | undefined;

  private constructor(path: string, handle: FileHandle, sizeBytes: number, appendable: boolean, mark: SyncedMarkWriter | undefined) {
    this.path = path;
    this.handle = handle;
    this.size = sizeBytes;
    this.appendable = appendable;
    this.mark = mark;
  }

  /**
   * Opens `path`, replays every good record through `onRecord` in file order, and leaves the file
   * ready for appends after the last good record. A torn tail is cut off (ftruncate + fsync) and
   * logged; any other bad record rejects with DATA_CORRUPTION naming the file and position, and
   * the file is left untouched (or, with `skipDamaged`, is skipped: see that option). If
   * `onRecord` throws, open rejects with that.
   * A missing file without `create` rejects with INTERNAL whose cause is the ENOENT error.
   * DATA_CORRUPTION also when the file is shorter than its synced mark, or is missing while its
   * mark says bytes were synced to it, or a bad record lies below the mark (it cannot be torn).
   */
  static async open(
    path: string,
    onRecord: (rec: RecordFileRecord) => void,
    opts: RecordFileOpenOptions = {},
  ): Promise<{ file: RecordFile; recovery: RecordFileRecovery }> {
    const mark = await readMark(path);
    const markedBytes = mark?.lengthBytes ?? 0;
    const handle = await openHandle(path, opts.create ?? false, markedBytes);
    try {
      const fileBytes = (await handle.stat()).size;
      if (fileBytes < markedBytes) {
        throw new DataCorruptionError(
          `${path} is ${fileBytes} bytes, but at least ${markedBytes} bytes were synced to it (its synced mark, ${syncedMarkPath(path)}): ` +
            `the file was cut or replaced while closed, and acknowledged records are gone`,
        );
      }
      const damaged: RecordFileDamage[] = [];
      let records = 0;
      let scan = await scanRecords(handle, path, fileBytes, onRecord);
      records += scan.records;
      let truncatedBytes = 0;
      let appendable = true;
      while (scan.bad !== undefined) {
        const bad = scan.bad;
        const later = await laterBatchAfter(handle, path, fileBytes, bad.position);
        const allowTornTail = opts.allowTornTail ?? true;
        const windowBytes = opts.tornWindowBytes ?? tornWindowBytes;
        // Below the synced mark nothing can be torn: a crash tears only what was never synced.
        if (later === undefined && allowTornTail && bad.position >= markedBytes) {
          // The torn batch is the last one: it starts after the last batch marker read.
          if (fileBytes - scan.lastBatchEnd > windowBytes) {
            throw new DataCorruptionError(
              `${path}: bad record at byte ${bad.position} (${bad.reason}), ${fileBytes - bad.position} bytes before the end ` +
                `of the file, which is beyond the torn-tail window of ${windowBytes} bytes`,
            );
          }
          await handle.truncate(bad.position);
          await handle.sync();
          truncatedBytes = fileBytes - bad.position;
          log.warn("cut a torn tail off a record file", { file: path, position: bad.position, reason: bad.reason, validBytes: scan.validBytes, truncatedBytes });
          break;
        }
        const why =
          later !== undefined
            ? `in a batch that a later batch follows (at byte ${later.laterBatch}), so it was synced`
            : bad.position < markedBytes
              ? `below the ${markedBytes} bytes known synced (its synced mark), so it is not a torn tail`
              : "in a file that may not have a torn tail";
        if (!(opts.skipDamaged ?? false)) {
          throw new DataCorruptionError(`${path}: bad record at byte ${bad.position} (${bad.reason}) ${why}: the file is corrupt`);
        }
        // Skipped, never cut: the bytes stay for inspection, and the caller learns of them.
        const resumeAt = later?.resumeAt ?? fileBytes;
        const damage: RecordFileDamage = { position: bad.position, bytes: resumeAt - bad.position, reason: bad.reason };
        damaged.push(damage);
        log.error("skipped a damaged record in a record file; its records are lost here", { file: path, ...damage, why });
        if (later === undefined) {
          // Nothing after the damage can be trusted to start a record: the rest of the file is
          // skipped, and appending after bytes that no scan can step over would lose the appends.
          appendable = false;
          scan = { records: 0, validBytes: fileBytes, lastBatchEnd: fileBytes };
          break;
        }
        scan = await scanRecords(handle, path, fileBytes, onRecord, resumeAt);
        records += scan.records;
      }
      if (truncatedBytes === 0) {
        // Records written before a crash may sit only in the page cache (written, never synced, so
        // never acknowledged). They are about to be treated as stored: make them durable first.
        await handle.datasync();
      }
      const markWriter = (opts.syncedMark ?? true) ? new SyncedMarkWriter(path, mark, opts.syncedMarkIntervalMs, opts.clock) : undefined;
      // Everything kept was just made durable and is served from now on, as good as acknowledged:
      // marked now (creating the side file of a new file, or one older than marks), so later mark
      // writes only overwrite the side file in place.
      if (markWriter !== undefined && appendable && (mark === undefined || scan.validBytes > markedBytes)) await markWriter.markNow(scan.validBytes);
      return {
        file: new RecordFile(path, handle, scan.validBytes, appendable, markWriter),
        recovery: { records, validBytes: scan.validBytes, truncatedBytes, damaged },
      };
    } catch (err) {
      await closeQuietly(handle, path);
      throw err;
    }
  }

  /** Length of the file: the end of the last durable record. */
  get sizeBytes(): number {
    return this.size;
  }

  /** The error that failed this file for good, if one has. */
  get failed(): SluiceError | undefined {
    return this.failure;
  }

  /**
   * Writes `pieces` (whole encoded records, `totalBytes` in all) at the end of the file with one
   * writev, then makes them durable with one fdatasync. Resolves only once both succeed. Calls must
   * be serialised by the caller. A batch may be at most `tornWindowBytes` long, which holds when it
   * is at most journalBatchBytesMax or a single record; recovery relies on it. Rejects with CLOSED
   * after close; with STORAGE_FULL (cause: the ENOSPC or EDQUOT error) when the disk is full, which
   * leaves the file at its last good length and usable (see the class comment). STORAGE_FULL is an
   * unknown outcome for the refused batch, as a timeout is: when the writev went through and the
   * fdatasync was refused, the cut back is synced only afterwards, and a crash before that sync
   * may leave the whole batch in the file, replayed at the next open. Callers must not take it
   * for "not written"; it is "not acknowledged". With INTERNAL
   * (cause: the I/O error) when the write or sync fails otherwise, which fails the file for good.
   */
  async appendBatch(pieces: readonly Buffer[], totalBytes: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new ClosedError(`${this.path}: record file is closed`);
    if (!this.appendable) throw new DataCorruptionError(`${this.path}: the file ends in damage, so it takes no appends`);
    assert(!this.writing, "appendBatch calls are serialised by the caller");
    let sum = 0;
    for (const piece of pieces) sum += piece.length;
    assert(sum === totalBytes, `batch pieces hold ${sum} bytes, not the ${totalBytes} stated`);
    assert(totalBytes + journalRecordHeaderBytes <= tornWindowBytes, `a batch of ${totalBytes} bytes is longer than the torn-tail window`);
    if (totalBytes === 0) return;
    this.writing = true;
    const position = this.size;
    const batchBytes = totalBytes + batchEndMarker.length;
    try {
      await writeAll(this.handle, [...pieces, batchEndMarker], position, batchBytes);
      await this.handle.datasync();
      this.size = position + batchBytes;
      // Synced: the mark may cover it (lagging an interval, off this path; see record-synced-mark.ts).
      this.mark?.note(this.size);
    } catch (err) {
      if (isDiskFull(err)) throw await this.cutRefusedBatch(position, err);
      this.failure =
        err instanceof SluiceError
          ? err
          : new InternalError(`${this.path}: write or sync failed at byte ${position}; the file is failed for good`, {
              cause: err,
            });
      throw this.failure;
    } finally {
      this.writing = false;
    }
  }

  /**
   * After the disk refused a batch at `position`: cuts whatever part of it reached the file and
   * syncs that, so the file ends at its last durable batch again. Returns the error to raise:
   * STORAGE_FULL, or INTERNAL (which fails the file for good) when the cut fails.
   */
  private async cutRefusedBatch(position: number, err: unknown): Promise<SluiceError> {
    try {
      await this.handle.truncate(position);
      await this.handle.datasync();
    } catch (cutErr) {
      this.failure = new InternalError(
        `${this.path}: the disk is full, and cutting the refused batch off at byte ${position} failed; the file is failed for good`,
        { cause: cutErr },
      );
      log.error("cannot cut a refused batch off a record file", { file: this.path, position, error: cutErr });
      return this.failure;
    }
    const code = err instanceof SluiceError ? err.code : (err as NodeJS.ErrnoException).code;
    return new StorageFullError(`${this.path}: the disk is full (${code}); the batch at byte ${position} may not have been written (it was cut off again, but a crash before that cut was synced can bring it back)`, {
      cause: err,
    });
  }

  /**
   * Writes the synced mark (after a clean close the whole file: nothing in it can be torn any
   * more) and closes the file handle. Idempotent; must not be called while a batch is being written.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    assert(!this.writing, "close waits for the batch being written");
    this.closed = true;
    await this.mark?.close();
    await this.handle.close();
  }

  /** The length the side file marks as synced (for tests and tools). */
  get syncedMarkBytes(): number {
    return this.mark?.markedBytes ?? 0;
  }
}

async function readMark(path: string): Promise<SyncedMarkValue | undefined> {
  try {
    return await readSyncedMark(path);
  } catch (err) {
    throw new InternalError(`${syncedMarkPath(path)}: cannot read the synced mark`, { cause: err });
  }
}

async function openHandle(path: string, create: boolean, markedBytes: number): Promise<FileHandle> {
  try {
    return await openFile(path, fsConstants.O_RDWR);
  } catch (err) {
    if (isErrno(err, "ENOENT") && markedBytes > 0) {
      throw new DataCorruptionError(
        `${path} is missing, but at least ${markedBytes} bytes were synced to it (its synced mark, ${syncedMarkPath(path)}): ` +
          `it was deleted while closed, and acknowledged records are gone`,
        { cause: err },
      );
    }
    if (!create || !isErrno(err, "ENOENT")) {
      throw new InternalError(`${path}: cannot open record file`, { cause: err });
    }
  }
  let handle: FileHandle;
  try {
    handle = await openFile(path, fsConstants.O_RDWR | fsConstants.O_CREAT);
  } catch (err) {
    throw new InternalError(`${path}: cannot create record file`, { cause: err });
  }
  try {
    // The new name must be durable before any record in the file is acknowledged as durable.
    await syncDirectory(dirname(path));
  } catch (err) {
    await closeQuietly(handle, path);
    throw new InternalError(`${path}: cannot sync the directory of a new record file`, { cause: err });
  }
  return handle;
}

/**
 * Creates `dir` and its missing parents, and fsyncs the parent of each directory created, so that
 * the directory is itself durable before any record in it is acknowledged.
 */
export async function makeDurableDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  for (let path = dir; ; path = dirname(path)) {
    await syncDirectory(dirname(path));
    if (path === created || dirname(path) === path) break;
  }
}

/** Fsyncs a directory, making the names created in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await openFile(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function closeQuietly(handle: FileHandle, path: string): Promise<void> {
  try {
    await handle.close();
  } catch (err) {
    // The caller is already failing with a more telling error; this one is only worth a line.
    log.warn("closing a record file failed", { file: path, error: err });
  }
}

/**
 * Writes `buffers` (`bytes` in all) at `position`. libuv's writev loops over IOV_MAX groups and
 * partial writes itself, and returns a short count only when a write fails after some bytes went
 * through, dropping that write's errno; writing the rest again brings the errno back (ENOSPC when
 * the disk is full), or finishes the batch if space came back meanwhile. A write that takes no byte
 * and raises nothing is taken for a full disk. Bounded: each round writes at least one byte.
 */
async function writeAll(handle: FileHandle, buffers: readonly Buffer[], position: number, bytes: number): Promise<void> {
  let done = 0;
  let rest = buffers;
  for (;;) {
    const { bytesWritten } = await handle.writev(rest, position + done);
    done += bytesWritten;
    if (done >= bytes) return;
    if (bytesWritten === 0) throw new StorageFullError(`the disk took 0 of ${bytes - done} bytes at byte ${position + done}`);
    rest = skipBytes(rest, bytesWritten);
  }
}

/** `buffers` without their first `n` bytes (views, no copies). */
function skipBytes(buffers: readonly Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** A full disk or an exhausted quota: the write was refused, and may succeed once space is freed. */
export function isDiskFull(err: unknown): boolean {
  if (err instanceof StorageFullError) return true;
  return isErrno(err, "ENOSPC") || isErrno(err, "EDQUOT");
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

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
 */
import { constants as fsConstants } from "node:fs";
import { mkdir, open as openFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { assert } from "./assert.js";
import { ClosedError, DataCorruptionError, InternalError, SluiceError } from "./errors.js";
import { journalRecordHeaderBytes } from "./limits.js";
import { logger } from "./log.js";
import { batchEndMarker, tornWindowBytes } from "./record-format.js";
import { laterBatchAfter, scanRecords } from "./record-scan.js";

export { encodeRecord, tornWindowBytes, verifyRecord } from "./record-format.js";
export type { VerifiedRecord } from "./record-format.js";

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
}

/**
 * An open record file positioned at its end. Appends are whole batches written with one writev and
 * made durable with one fdatasync. If a write or sync ever fails the file is failed for good: the
 * page cache state after a failed fsync is unknown, so nothing is retried and every later call
 * rejects with the same error.
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

  private constructor(path: string, handle: FileHandle, sizeBytes: number, appendable: boolean) {
    this.path = path;
    this.handle = handle;
    this.size = sizeBytes;
    this.appendable = appendable;
  }

  /**
   * Opens `path`, replays every good record through `onRecord` in file order, and leaves the file
   * ready for appends after the last good record. A torn tail is cut off (ftruncate + fsync) and
   * logged; any other bad record rejects with DATA_CORRUPTION naming the file and position, and
   * the file is left untouched (or, with `skipDamaged`, is skipped: see that option). If
   * `onRecord` throws, open rejects with that.
   * A missing file without `create` rejects with INTERNAL whose cause is the ENOENT error.
   */
  static async open(
    path: string,
    onRecord: (rec: RecordFileRecord) => void,
    opts: RecordFileOpenOptions = {},
  ): Promise<{ file: RecordFile; recovery: RecordFileRecovery }> {
    const handle = await openHandle(path, opts.create ?? false);
    try {
      const fileBytes = (await handle.stat()).size;
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
        if (later === undefined && allowTornTail) {
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
          later === undefined
            ? "in a file that may not have a torn tail"
            : `in a batch that a later batch follows (at byte ${later.laterBatch}), so it was synced`;
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
      return {
        file: new RecordFile(path, handle, scan.validBytes, appendable),
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
   * after close, and with INTERNAL (cause: the I/O error) when the write or sync fails, which fails
   * the file for good.
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
      // libuv's writev writes every buffer (it loops over IOV_MAX groups and partial writes) and
      // returns a short count only when the disk refuses the rest; that is a failure here.
      const { bytesWritten } = await this.handle.writev([...pieces, batchEndMarker], position);
      if (bytesWritten !== batchBytes) {
        throw new InternalError(`${this.path}: short write of ${bytesWritten} of ${batchBytes} bytes at byte ${position}`);
      }
      await this.handle.datasync();
      this.size = position + batchBytes;
    } catch (err) {
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

  /** Closes the file handle. Idempotent; must not be called while a batch is being written. */
  async close(): Promise<void> {
    if (this.closed) return;
    assert(!this.writing, "close waits for the batch being written");
    this.closed = true;
    await this.handle.close();
  }
}

async function openHandle(path: string, create: boolean): Promise<FileHandle> {
  try {
    return await openFile(path, fsConstants.O_RDWR);
  } catch (err) {
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

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

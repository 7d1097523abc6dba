/**
 * Positioned reads (pread) of journal files for the log node, through a bounded cache of read-only
 * handles: the least recently used idle handle is closed once more than `handlesMax` are open. A
 * handle in use by a read is never closed under it; if every cached handle is in use, the cache
 * holds more until reads finish (so the true bound is handlesMax plus the reads in flight, which
 * the node's callers bound).
 */
import { constants as fsConstants } from "node:fs";
import { open as openFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ClosedError, DataCorruptionError, InternalError, logger, logNodeReadHandlesMax } from "../../../common/index.js";
import { journalFileName } from "../journal.js";

const log = logger("lognode");

interface CachedHandle {
  fileNumber: number;
  opening: Promise<FileHandle>;
  users: number;
  /** The open failed: there is nothing to close, and the next read tries again. */
  failed: boolean;
  /** Out of the cache (evicted, its file removed, or the reader closed): close once idle. */
  retired: boolean;
}

/** A read that failed because the journal file is not there (removed since it was looked up). */
export class JournalFileMissingError extends InternalError {}

export class JournalReader {
  /** In least recently used order: a handle is moved to the end when used. */
  private readonly handles = new Map<number, CachedHandle>();
  private readonly closes = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly handlesMax = logNodeReadHandlesMax,
  ) {}

  /** Open handles, cached or retired and still in use (for tests). */
  get openHandles(): number {
    return this.handles.size;
  }

  /**
   * Reads `bytes` bytes at `position` of journal file `fileNumber` into a new buffer. Rejects with
   * DATA_CORRUPTION if the file ends first, with JournalFileMissingError (INTERNAL) if the file is
   * not there, with INTERNAL (cause: the I/O error) for other failures, and CLOSED after close.
   */
  async read(fileNumber: number, position: number, bytes: number): Promise<Buffer> {
    const cached = this.acquire(fileNumber);
    try {
      const handle = await cached.opening;
      const buffer = Buffer.allocUnsafe(bytes);
      let done = 0;
      while (done < bytes) {
        const { bytesRead } = await handle.read(buffer, done, bytes - done, position + done);
        if (bytesRead === 0) {
          throw new DataCorruptionError(
            `${join(this.dir, journalFileName(fileNumber))}: the file ends at byte ${position + done}, inside the ${bytes} bytes at ${position}`,
          );
        }
        done += bytesRead;
      }
      return buffer;
    } catch (err) {
      if (err instanceof DataCorruptionError || err instanceof JournalFileMissingError) throw err;
      throw new InternalError(`${join(this.dir, journalFileName(fileNumber))}: read of ${bytes} bytes at ${position} failed`, { cause: err });
    } finally {
      this.release(cached);
    }
  }

  /** Drops the cached handle of a file about to be removed (closed now, or when its reads finish). */
  forget(fileNumber: number): void {
    const cached = this.handles.get(fileNumber);
    if (cached === undefined) return;
    this.handles.delete(fileNumber);
    this.retire(cached);
  }

  /** Closes every handle; the caller has let its reads finish. Later reads reject CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const cached of this.handles.values()) this.retire(cached);
    this.handles.clear();
    await Promise.all(this.closes);
  }

  private acquire(fileNumber: number): CachedHandle {
    if (this.closed) throw new ClosedError(`${this.dir}: journal reader is closed`);
    let cached = this.handles.get(fileNumber);
    if (cached === undefined) {
      const path = join(this.dir, journalFileName(fileNumber));
      const entry: CachedHandle = { fileNumber, opening: openFile(path, fsConstants.O_RDONLY), users: 0, failed: false, retired: false };
      entry.opening = entry.opening.catch((err: unknown) => {
        entry.failed = true;
        if (this.handles.get(fileNumber) === entry) this.handles.delete(fileNumber);
        if (err instanceof Error && (err as NodeJS.ErrnoException).code === "ENOENT") {
          throw new JournalFileMissingError(`${path}: journal file is not there`, { cause: err });
        }
        throw new InternalError(`${path}: cannot open journal file for reading`, { cause: err });
      });
      cached = entry;
    } else {
      this.handles.delete(fileNumber);
    }
    this.handles.set(fileNumber, cached);
    cached.users++;
    for (const [n, other] of this.handles) {
      if (this.handles.size <= this.handlesMax) break;
      if (other.users > 0) continue;
      this.handles.delete(n);
      this.retire(other);
    }
    return cached;
  }

  private release(cached: CachedHandle): void {
    cached.users--;
    if (cached.users === 0 && cached.retired) this.closeHandle(cached);
  }

  private retire(cached: CachedHandle): void {
    cached.retired = true;
    if (cached.users === 0) this.closeHandle(cached);
  }

  private closeHandle(cached: CachedHandle): void {
    const closing = cached.opening
      .then((handle) => handle.close())
      .catch((err: unknown) => {
        // A file that never opened has nothing to close (its read reported why); a failed close
        // of a read-only handle loses nothing, so it is worth a line, not a failure.
        if (!cached.failed) log.warn("closing a journal read handle failed", { file: journalFileName(cached.fileNumber), error: err });
      })
      .finally(() => this.closes.delete(closing));
    this.closes.add(closing);
  }
}

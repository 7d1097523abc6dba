/**
 * FileChunkStorage: Tier-2 chunks as files under one folder (the standalone default); each `/`-part
 * of a chunk name but the last is a subfolder. The contract is ChunkStorage's (chunk-storage.ts);
 * how it is kept here:
 * - A chunk is never partly visible: its bytes go to a temp file beside it (writev, fdatasync), which
 *   is then hard-linked to the final name. link() fails with EEXIST instead of replacing, which is
 *   the never-overwrite rule; existing content equal to ours is a retried write and resolves. The
 *   folder is fsynced so the new name survives a crash.
 * - Temp files end in `.tmp~` ("~" is never part of a chunk name), are never listed or read, and
 *   those a crash left behind are removed by open().
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, link, mkdir, open, opendir, readdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import {
  ChunkExistsError, ClosedError, DataCorruptionError, InternalError, InvalidArgumentError, InvalidConfigError, MiB,
  NoSuchChunkError, SluiceError, StorageFullError, logger,
} from "../../common/index.js";
import { checkChunkName, checkChunkPrefix, namePartPattern } from "./chunk-names.js";
import type { ChunkInfo, ChunkStorage } from "./chunk-storage.js";

/** Largest single read: the reply is one buffer of this size at most (as for S3). */
export const fileChunkReadBytesMax = 64 * MiB;
/** Buffers one writev passes (IOV_MAX on Linux is 1024). */
const writevBuffersMax = 1024;
/** Comparing an existing chunk with ours reads it this much at a time, into one reused buffer. */
const compareBytes = 1 * MiB;
/** Name parts: the chunk-name alphabet of chunk-storage.ts, and a bound on length (NAME_MAX is 255). */
const tempSuffix = ".tmp~";

const log = logger("tier2-file");

export class FileChunkStorage implements ChunkStorage {
  readonly description: string;
  private closed = false;

  private constructor(private readonly root: string) {
    this.description = `file://${root}`;
  }

  /** Makes `dir` if needed, checks it can be written, and removes temp files a crash left there. */
  static async open(dir: string): Promise<FileChunkStorage> {
    const root = resolve(dir);
    try {
      await mkdir(root, { recursive: true });
      await access(root, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
    } catch (err) {
      throw new InvalidConfigError(`Tier-2 folder ${root} cannot be made or written: ${errorText(err)}`, { cause: err });
    }
    const removed = await removeTempFiles(root);
    if (removed > 0) log.info("removed temp files left by an earlier crash", { root, removed });
    return new FileChunkStorage(root);
  }

  async create(name: string, data: readonly Buffer[]): Promise<void> {
    const path = this.pathOf(name);
    const folder = dirname(path);
    let firstMade: string | undefined;
    try {
      firstMade = await mkdir(folder, { recursive: true });
    } catch (err) {
      const code = codeOf(err);
      // A file named like one of the folders: chunk "a" exists, so "a/b" cannot (S3 could hold both; names never do that).
      if (code === "EEXIST" || code === "ENOTDIR") throw new InvalidArgumentError(`chunk name ${name} runs through another chunk's name in ${this.description}`);
      throw mapFsError(err, `create of chunk ${name} in ${this.description}`);
    }
    const temp = `${path}.${randomBytes(6).toString("hex")}${tempSuffix}`;
    let bytes = 0;
    for (const piece of data) bytes += piece.length;
    try {
      const file = await open(temp, "wx", 0o644);
      try {
        for (let i = 0; i < data.length; i += writevBuffersMax) {
          const batch = data.slice(i, i + writevBuffersMax);
          let want = 0;
          for (const b of batch) want += b.length;
          const { bytesWritten } = await file.writev(batch);
          // libuv loops over short writes itself; a shortfall left here means the disk refused the rest.
          if (bytesWritten !== want) throw new StorageFullError(`short write of chunk ${name}: ${bytesWritten} of ${want} bytes`);
        }
        await file.datasync();
      } finally {
        await file.close();
      }
      try {
        await link(temp, path);
      } catch (err) {
        if (codeOf(err) !== "EEXIST") throw err;
        await this.settleExisting(name, path, data, bytes);
        return;
      }
      // The new name (and any folder made for it) must be on disk before create resolves.
      await syncFolders(this.root, folder, firstMade);
    } catch (err) {
      throw mapFsError(err, `create of chunk ${name} in ${this.description}`);
    } finally {
      await unlink(temp).catch((err: unknown) => {
        if (codeOf(err) !== "ENOENT") log.warn("could not remove a temp file", { temp, error: errorText(err) });
      });
    }
  }

  async read(name: string, offset: number, length: number): Promise<Buffer> {
    const path = this.pathOf(name);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || length > fileChunkReadBytesMax) {
      throw new InvalidArgumentError(`read of chunk ${name}: offset ${offset} and length ${length} must be integers >= 0, length at most ${fileChunkReadBytesMax}`);
    }
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT" || code === "ENOTDIR") throw new NoSuchChunkError(`chunk ${name} does not exist in ${this.description}`);
      throw mapFsError(err, `read of chunk ${name} in ${this.description}`);
    }
    try {
      const stats = await file.stat();
      // A folder of chunks opens too (on Linux) but is no chunk.
      if (!stats.isFile()) throw new NoSuchChunkError(`chunk ${name} does not exist in ${this.description} (a folder has its name)`);
      const size = stats.size;
      if (offset + length > size) {
        throw new InvalidArgumentError(`read of chunk ${name}: bytes ${offset}-${offset + length - 1} are past its end (the chunk holds ${size} bytes)`);
      }
      const buf = Buffer.allocUnsafe(length);
      let at = 0;
      while (at < length) {
        const { bytesRead } = await file.read(buf, at, length - at, offset + at);
        // Chunks never change after create: a short read of bytes stat counted means the file was altered.
        if (bytesRead === 0) throw new DataCorruptionError(`chunk ${name} in ${this.description} ended at ${offset + at} though it holds ${size} bytes`);
        at += bytesRead;
      }
      return buf;
    } finally {
      await file.close();
    }
  }

  async delete(name: string): Promise<void> {
    const path = this.pathOf(name);
    try {
      await unlink(path);
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return;
      throw mapFsError(err, `delete of chunk ${name} in ${this.description}`);
    }
  }

  /**
   * Walks the folders under the prefix's folder in name order. Entries are sorted with a folder
   * counting as its name plus "/", so the order is that of the full names (as S3 lists keys):
   * "a-b" comes before "a/x" because "-" sorts before "/".
   */
  async *list(prefix: string): AsyncIterable<ChunkInfo> {
    this.checkOpen();
    checkChunkPrefix(prefix);
    const cut = prefix.lastIndexOf("/");
    const base = cut < 0 ? "" : prefix.slice(0, cut + 1);
    yield* this.walk(base, prefix);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Chunks under folder `relative` (ending in "/", or "") whose names start with `prefix`. */
  private async *walk(relative: string, prefix: string): AsyncGenerator<ChunkInfo> {
    let entries;
    try {
      entries = await readdir(join(this.root, relative), { withFileTypes: true });
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw mapFsError(err, `list of ${relative} in ${this.description}`);
    }
    const keyed = entries
      .filter((e) => (e.isDirectory() || e.isFile()) && !e.name.endsWith(tempSuffix) && namePartPattern.test(e.name))
      .map((e) => ({ entry: e, key: relative + e.name + (e.isDirectory() ? "/" : "") }))
      .filter(({ key }) => key.startsWith(prefix) || prefix.startsWith(key))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const { entry, key } of keyed) {
      if (entry.isDirectory()) {
        yield* this.walk(key, prefix);
      } else if (key.startsWith(prefix)) {
        const { size } = await stat(join(this.root, key));
        yield { name: key, bytes: size };
      }
    }
  }

  private pathOf(name: string): string {
    this.checkOpen();
    checkChunkName(name);
    const path = join(this.root, ...name.split("/"));
    if (!path.startsWith(this.root + sep)) throw new InvalidArgumentError(`chunk name ${JSON.stringify(name)} leaves ${this.root}`);
    return path;
  }

  /** `path` exists: resolve if it holds exactly `data`, else CHUNK_EXISTS. */
  private async settleExisting(name: string, path: string, data: readonly Buffer[], bytes: number): Promise<void> {
    const file = await open(path, "r");
    try {
      const stats = await file.stat();
      const size = stats.size;
      if (stats.isFile() && size === bytes && (await sameBytes(file, data))) return;
      throw new ChunkExistsError(`chunk ${name} exists in ${this.description} with other content (${size} bytes; ours ${bytes}); chunks are never overwritten`);
    } finally {
      await file.close();
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(`${this.description} is closed`);
  }
}

/** Whether the file, read from its start, holds exactly the bytes of `data` (sizes already equal). */
async function sameBytes(file: FileHandle, data: readonly Buffer[]): Promise<boolean> {
  const buf = Buffer.allocUnsafe(compareBytes);
  let position = 0;
  for (const piece of data) {
    for (let at = 0; at < piece.length;) {
      const want = Math.min(compareBytes, piece.length - at);
      const { bytesRead } = await file.read(buf, 0, want, position);
      if (bytesRead === 0 || !buf.subarray(0, bytesRead).equals(piece.subarray(at, at + bytesRead))) return false;
      at += bytesRead;
      position += bytesRead;
    }
  }
  return true;
}

/** fsyncs `folder` and, when mkdir made folders for it (`firstMade` the top one), each parent up to the one that existed. */
async function syncFolders(root: string, folder: string, firstMade: string | undefined): Promise<void> {
  const stop = firstMade === undefined ? folder : dirname(firstMade);
  for (let f = folder; ; f = dirname(f)) {
    const handle = await open(f, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (f === stop || f === root || f === dirname(f)) break;
  }
}

/** Removes every `*.tmp~` file under `root`; returns how many. */
async function removeTempFiles(root: string): Promise<number> {
  let removed = 0;
  // opendir streams the walk: a folder of millions of chunks is never held in memory at once.
  for await (const e of await opendir(root, { recursive: true })) {
    if (e.isFile() && e.name.endsWith(tempSuffix)) {
      await unlink(join(e.parentPath, e.name));
      removed++;
    }
  }
  return removed;
}

function mapFsError(err: unknown, what: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const code = codeOf(err);
  if (code === "ENOSPC" || code === "EDQUOT") return new StorageFullError(`${what}: the disk is full (${code})`, { cause: err });
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new InvalidConfigError(`${what}: not allowed (${code}); check the Tier-2 folder's owner and mode`, { cause: err });
  }
  return new InternalError(`${what} failed: ${errorText(err)}`, { cause: err });
}

function codeOf(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

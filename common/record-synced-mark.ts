/**
 * The synced mark of a record file: a small side file, `.<record file>.synced` beside it (a dot
 * file, so that listings of the record files by name, by tools and people, pass it by), holding a length of
 * the record file that is known to have been fdatasync'd. Recovery uses it to tell a torn tail
 * (which only ever lies past the mark) from a file cut, emptied or deleted while the process was
 * stopped (shorter than the mark, or gone while its mark stays): that is DATA_CORRUPTION, never a
 * torn tail, since records below the mark were acknowledged.
 *
 * Cost: never an extra fsync per append. While appends go on, the mark is written off the hot
 * path once per `syncedMarkIntervalMs` (one pwrite + one fdatasync of its own), and at close.
 *
 * What it covers, honestly: after a clean close, the whole file (nothing can be torn then). While
 * the file is open, the mark lags on purpose: each write marks the length synced one interval
 * earlier, so a batch is covered one to two intervals after its sync, never at once. A crash
 * (SIGKILL, power loss) therefore leaves the batches of the last interval or two unmarked, and a
 * torn tail there is still cut as before (as tools and tests simulate it, by cutting into the last
 * batches of a killed process); a cut of a stopped file is caught down to the mark, that is all
 * but those last batches.
 *
 * Layout: two 32-byte slots, written alternately in place, each
 *   u32 magic "SLSM" | u32 crc32 of bytes 8..32 | u32 counter high | u32 counter low |
 *   u32 length high | u32 length low | 8 bytes zero
 * The slot with the higher counter whose crc holds wins; a slot torn by a crash fails its crc and the
 * other (one interval older) is used. A side file without a good slot (a crash before its first
 * write completed) marks nothing.
 */
import { constants as fsConstants } from "node:fs";
import { open as openFile, readFile, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { systemClock, type Clock, type TimerHandle } from "./clock.js";
import { syncedMarkIntervalMs } from "./limits.js";
import { logger } from "./log.js";

const log = logger("record-log");

const slotBytes = 32;
const magic = 0x534c_534d; // "SLSM"
const twoTo32 = 2 ** 32;

/** The side file's path for a record file: `DIR/.NAME.synced`. */
export function syncedMarkPath(recordPath: string): string {
  return join(dirname(recordPath), `.${basename(recordPath)}.synced`);
}

/** What a side file holds: the marked length and the counter of its newest good slot. */
export interface SyncedMarkValue {
  lengthBytes: number;
  counter: number;
}

/**
 * Reads the mark of `recordPath`: undefined when there is no side file, `{ lengthBytes: 0 }` when
 * it holds no good slot (logged). Other I/O errors reject as they are.
 */
export async function readSyncedMark(recordPath: string): Promise<SyncedMarkValue | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(syncedMarkPath(recordPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let best: SyncedMarkValue | undefined;
  for (let at = 0; at + slotBytes <= bytes.length && at < 2 * slotBytes; at += slotBytes) {
    const slot = bytes.subarray(at, at + slotBytes);
    if (slot.readUInt32BE(0) !== magic || slot.readUInt32BE(4) !== crc32(slot.subarray(8))) continue;
    const counter = slot.readUInt32BE(8) * twoTo32 + slot.readUInt32BE(12);
    const lengthBytes = slot.readUInt32BE(16) * twoTo32 + slot.readUInt32BE(20);
    if (best === undefined || counter > best.counter) best = { lengthBytes, counter };
  }
  if (best === undefined) {
    log.warn("a synced-mark file holds no good slot; it marks nothing", { file: syncedMarkPath(recordPath), bytes: bytes.length });
    return { lengthBytes: 0, counter: 0 };
  }
  return best;
}

/** Removes the side file of `recordPath`, if any (after the record file itself was removed). */
export async function removeSyncedMark(recordPath: string): Promise<void> {
  try {
    await unlink(syncedMarkPath(recordPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * Keeps the side file of one open record file up to date. `note` is called after every synced
 * batch and returns at once; writes happen in the background (at most one at a time, at most one
 * per interval) and `close` writes the last value noted. A failed write of the mark is logged and
 * retried at the next interval; it never fails the record file, whose data is durable regardless:
 * only the check at the next open is weaker while the mark lags.
 */
export class SyncedMarkWriter {
  private handle: FileHandle | undefined;
  private counter: number;
  /** The length last made durable in the side file. */
  private written: number;
  /** The length last noted synced. */
  private latest: number;
  /** `latest` as it was at the previous tick, so at least an interval ago: the next tick marks it. */
  private sampled: number;
  private writing: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private failing = false;
  private closed = false;
  /**
   * Set when this writer created the side file and its directory has not been fsync'd since: kept
   * across writes, so that a first write that fails after the create leaves the fsync to the next
   * write that succeeds (else the side file's name could vanish in a crash while it marks data).
   */
  private dirNeedsSync = false;

  constructor(
    private readonly recordPath: string,
    start: SyncedMarkValue | undefined,
    private readonly intervalMs: number = syncedMarkIntervalMs,
    private readonly clock: Clock = systemClock,
    /** fsyncs a directory (a stand-in in tests, to see that it happens). */
    private readonly syncDirectory: (dir: string) => Promise<void> = syncDir,
  ) {
    this.counter = start?.counter ?? 0;
    this.written = start?.lengthBytes ?? 0;
    this.latest = this.written;
    this.sampled = this.written;
  }

  /** The length last made durable in the side file. */
  get markedBytes(): number {
    return this.written;
  }

  /** Notes that the file is synced up to `lengthBytes`; the mark follows an interval or two later. */
  note(lengthBytes: number): void {
    if (lengthBytes <= this.latest) return;
    this.latest = lengthBytes;
    this.arm();
  }

  /**
   * Marks `lengthBytes` (known synced) at once, creating the side file if needed: for a file that
   * has none when it is opened. Never rejects (a failure is logged, and the mark lags).
   */
  async markNow(lengthBytes: number): Promise<void> {
    if (lengthBytes > this.latest) this.latest = lengthBytes;
    this.sampled = this.latest;
    await this.writeNow(this.latest);
  }

  /** Waits for a write under way, marks the last length noted, and closes the side file. Idempotent; never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.writing;
    if (this.latest > this.written) await this.writeNow(this.latest);
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) {
      try {
        await handle.close();
      } catch (err) {
        log.warn("closing a synced-mark file failed", { file: syncedMarkPath(this.recordPath), error: err });
      }
    }
  }

  /** Starts the ticks unless they run; they stop once the mark has caught up with `latest`. */
  private arm(): void {
    if (this.closed || this.timer !== undefined || this.writing !== undefined) return;
    this.timer = this.clock.setTimer(this.intervalMs, () => this.tick());
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    const target = this.sampled;
    this.sampled = this.latest;
    if (target <= this.written) {
      if (this.latest > this.written) this.arm();
      return;
    }
    this.writing = this.writeNow(target).finally(() => {
      this.writing = undefined;
      if (this.latest > this.written) this.arm();
    });
  }

  /** Writes `lengthBytes` into the older slot and syncs it; logs a failure instead of rejecting. */
  private async writeNow(lengthBytes: number): Promise<void> {
    const file = syncedMarkPath(this.recordPath);
    try {
      if (this.handle === undefined) {
        try {
          this.handle = await openFile(file, fsConstants.O_RDWR);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          this.handle = await openFile(file, fsConstants.O_RDWR | fsConstants.O_CREAT);
          this.dirNeedsSync = true;
        }
      }
      const counter = this.counter + 1;
      const slot = Buffer.alloc(slotBytes);
      slot.writeUInt32BE(magic, 0);
      slot.writeUInt32BE(Math.floor(counter / twoTo32), 8);
      slot.writeUInt32BE(counter % twoTo32, 12);
      slot.writeUInt32BE(Math.floor(lengthBytes / twoTo32), 16);
      slot.writeUInt32BE(lengthBytes % twoTo32, 20);
      slot.writeUInt32BE(crc32(slot.subarray(8)), 4);
      const { bytesWritten } = await this.handle.write(slot, 0, slotBytes, (counter % 2) * slotBytes);
      if (bytesWritten !== slotBytes) throw new Error(`short write of ${bytesWritten} of ${slotBytes} bytes`);
      await this.handle.datasync();
      if (this.dirNeedsSync) {
        await this.syncDirectory(dirname(file));
        this.dirNeedsSync = false;
      }
      this.counter = counter;
      this.written = lengthBytes;
      if (this.failing) log.info("the synced mark is written again", { file, lengthBytes });
      this.failing = false;
    } catch (err) {
      // The record file's data is durable whatever happens here; only the next open's check is
      // weaker while the mark lags, so this is worth a warning, once per run of failures.
      if (!this.failing) log.warn("cannot write the synced mark of a record file; it lags until a later write succeeds", { file, error: err });
      this.failing = true;
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await openFile(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

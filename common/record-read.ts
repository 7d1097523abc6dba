/**
 * Read-only replay of a record file (record-log.ts format), for tools that look at a directory
 * another process may be writing (`sluice container list --metadata file://DIR`). The file is
 * opened O_RDONLY and never truncated, repaired or synced: a bad record in the last batch (a torn
 * tail, or the batch the owner is writing right now) ends the replay in memory only, and the
 * owner cuts it, if it is torn, at its own next open. A bad record that a later batch provably
 * follows, or one beyond the torn-tail window, is corruption and rejects with DATA_CORRUPTION, as
 * RecordFile.open would (invariant 8).
 */
import { constants as fsConstants } from "node:fs";
import { open } from "node:fs/promises";
import { DataCorruptionError, InternalError } from "./errors.js";
import { tornWindowBytes } from "./record-format.js";
import type { RecordFileRecord } from "./record-log.js";
import { laterBatchAfter, scanRecords } from "./record-scan.js";

export interface RecordFileReadOnly {
  records: number;
  /** End of the last good record. */
  validBytes: number;
  /** Bytes after `validBytes` that were not replayed (a torn or in-progress last batch); 0 when the file ended cleanly. */
  ignoredBytes: number;
}

/**
 * Replays every good record of `path` through `onRecord` without writing anything. Rejects with
 * INTERNAL (cause ENOENT) for a missing file, DATA_CORRUPTION for damage that is not a torn tail,
 * and with whatever `onRecord` throws.
 */
export async function readRecordFileReadOnly(path: string, onRecord: (rec: RecordFileRecord) => void, opts: { allowTornTail?: boolean } = {}): Promise<RecordFileReadOnly> {
  let handle;
  try {
    handle = await open(path, fsConstants.O_RDONLY);
  } catch (err) {
    throw new InternalError(`${path}: cannot open record file to read`, { cause: err });
  }
  try {
    const fileBytes = (await handle.stat()).size;
    const scan = await scanRecords(handle, path, fileBytes, onRecord);
    if (scan.bad === undefined) return { records: scan.records, validBytes: scan.validBytes, ignoredBytes: 0 };
    const later = await laterBatchAfter(handle, path, fileBytes, scan.bad.position);
    if (later !== undefined) {
      throw new DataCorruptionError(`${path}: bad record at byte ${scan.bad.position} (${scan.bad.reason}) in a batch that a later batch follows (at byte ${later.laterBatch}): the file is corrupt`);
    }
    if (!(opts.allowTornTail ?? true) || fileBytes - scan.lastBatchEnd > tornWindowBytes) {
      throw new DataCorruptionError(`${path}: bad record at byte ${scan.bad.position} (${scan.bad.reason}) where no torn tail can be`);
    }
    return { records: scan.records, validBytes: scan.validBytes, ignoredBytes: fileBytes - scan.validBytes };
  } finally {
    await handle.close();
  }
}

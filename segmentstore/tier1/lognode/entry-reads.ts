/**
 * Reading ledger entries back from the journal files: the records the index chose are read with
 * pread (neighbours in one file in one read) and each is verified as the recovery scan verifies
 * records, and must be the record the index named there. A damaged first record is an error; a
 * damaged later one ends the answer before it. Nothing damaged is ever returned.
 */
import { DataCorruptionError, journalRecordHeaderBytes, ledgerEntryHeaderBytes, logger, NoSuchEntryError, verifyRecord } from "../../../common/index.js";
import { journalFileName } from "../journal.js";
import { JournalFileMissingError, type JournalReader } from "./journal-reader.js";
import type { EntryLocation } from "./ledger-index.js";

const log = logger("lognode");

export interface EntryReadContext {
  /** For messages: the node's address and its journal directory. */
  address: string;
  dir: string;
  /** Whether the ledger was deleted meanwhile (its files may then be gone). */
  deleted: () => boolean;
}

/**
 * Reads the entries at `wanted` (contiguous entry ids of `ledger`, in order) and answers their
 * data. Rejects with DATA_CORRUPTION (naming file and position) if the first is damaged, with
 * NO_SUCH_ENTRY if the ledger was deleted and its file removed under the read, and with INTERNAL
 * for I/O errors.
 */
export async function readEntryRecords(reader: JournalReader, ledger: number, wanted: readonly EntryLocation[], ctx: EntryReadContext): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < wanted.length; ) {
    const first = wanted[i];
    if (first === undefined) break;
    // Records next to each other in one file (a batch marker apart at most) are read at once.
    let end = i + 1;
    let spanEnd = first.position + first.bytes;
    for (let next = wanted[end]; next !== undefined && next.fileNumber === first.fileNumber; next = wanted[++end]) {
      if (next.position < spanEnd || next.position - spanEnd > journalRecordHeaderBytes) break;
      spanEnd = next.position + next.bytes;
    }
    let span: Buffer;
    try {
      span = await reader.read(first.fileNumber, first.position, spanEnd - first.position);
    } catch (err) {
      if (err instanceof JournalFileMissingError && ctx.deleted()) throw new NoSuchEntryError(`${ctx.address}: ledger ${ledger} was deleted`);
      if (out.length > 0 && err instanceof DataCorruptionError) {
        log.error("a journal file is shorter than its index says; the read stops before it", { address: ctx.address, error: err });
        return out;
      }
      throw err;
    }
    for (; i < end; i++) {
      const where = wanted[i];
      if (where === undefined) break;
      const at = where.position - first.position;
      const data = checkedEntry(span.subarray(at, at + where.bytes), ledger, where.entryId);
      if (typeof data === "string") {
        const message = `${ctx.dir}/${journalFileName(where.fileNumber)}: ledger ${ledger} entry ${where.entryId}, record at byte ${where.position}, is damaged: ${data}`;
        if (out.length === 0) throw new DataCorruptionError(message);
        log.error("damaged record; the read stops before it", { address: ctx.address, message });
        return out;
      }
      out.push(data);
    }
  }
  return out;
}

/** The entry data of a sound record of (ledger, entryId), or why the record is not that. */
function checkedEntry(record: Buffer, ledger: number, entryId: number): Buffer | string {
  const checked = verifyRecord(record);
  if ("bad" in checked) return checked.bad;
  if (checked.tag !== ledger || checked.seq !== entryId) return `the record there is ledger ${checked.tag} entry ${checked.seq}`;
  if (checked.payload.length < ledgerEntryHeaderBytes) return `its payload of ${checked.payload.length} bytes has no header`;
  return checked.payload.subarray(ledgerEntryHeaderBytes);
}

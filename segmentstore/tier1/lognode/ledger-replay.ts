/**
 * Rebuilding the log node's index at open: each journal record replayed, in journal order, is
 * applied to the ledger table (entries indexed with where they lie, fences, deletes) and to the
 * table of which ledgers each journal file holds.
 */
import { DataCorruptionError, journalRecordHeaderBytes } from "../../../common/index.js";
import { journalFileName, type JournalEntryHandler } from "../journal.js";
import { LedgerEntries, LedgerInfo, type FileLedgers } from "./ledger-index.js";
import { decodeLedgerRecord } from "./ledger-records.js";

/**
 * The handler Journal.open calls for each record. It throws DATA_CORRUPTION for a record that
 * passed its crc but makes no sense (the node must not guess at it), which fails open.
 */
export function ledgerReplay(dir: string, ledgers: Map<number, LedgerInfo>, fileLedgers: FileLedgers): JournalEntryHandler {
  return (tag, seq, payload, fileNumber, position) => {
    const rec = decodeLedgerRecord(tag, seq, payload);
    if (typeof rec === "string") throw new DataCorruptionError(`${dir}/${journalFileName(fileNumber)}: record at byte ${position}: ${rec}`);
    let info = ledgers.get(rec.ledger);
    if (info === undefined) {
      info = new LedgerInfo();
      ledgers.set(rec.ledger, info);
    }
    fileLedgers.note(fileNumber, rec.ledger, info);
    switch (rec.kind) {
      case "entry":
        // Adds to a deleted ledger are refused, so none follows its delete record.
        if (info.deleted) break;
        info.entries ??= new LedgerEntries();
        if (info.entries.insert(rec.entryId, fileNumber, position, journalRecordHeaderBytes + payload.length)) {
          info.lac = Math.max(info.lac, rec.lac);
        }
        break;
      case "fence":
        info.fenced = true;
        break;
      case "delete":
        info.markDeleted();
        info.deleteDurable = true;
        break;
    }
  };
}

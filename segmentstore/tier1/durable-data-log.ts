/**
 * DurableDataLog: a container's write-ahead log in Tier-1. The foundation backs it with the local
 * journal (one ledger per container, ensemble 1); the Tier-1 issue replaces that with replicated
 * ledgers on log nodes behind the same interface.
 */
import type { Journal } from "./journal.js";

export interface DurableDataLog {
  /**
   * Appends one entry made of `pieces` (written as one record, never copied into one buffer).
   * Resolves with the entry's id once it is durable on the ack quorum (here: written and
   * fdatasync'd). Entries resolve in append order. A rejection (INTERNAL with the I/O cause, or
   * CLOSED) means the log can no longer be trusted: the owner must stop using it (fail-stop).
   */
  append(pieces: readonly Buffer[]): Promise<number>;
}

/** A container's log as one ledger of the local journal. */
export class JournalDataLog implements DurableDataLog {
  private nextEntryId: number;

  constructor(
    private readonly journal: Journal,
    readonly ledger: number,
    firstEntryId: number,
  ) {
    this.nextEntryId = firstEntryId;
  }

  append(pieces: readonly Buffer[]): Promise<number> {
    const entryId = this.nextEntryId++;
    return this.journal.append(this.ledger, entryId, pieces).then(() => entryId);
  }
}

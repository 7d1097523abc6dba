/**
 * DurableDataLog: a container's write-ahead log in Tier-1. The implementation is Tier1DataLog
 * (replicated ledgers on log nodes); a container sees only this interface.
 */
import type { SluiceError } from "../../common/index.js";
import type { Journal } from "./journal.js";

/** One entry read back from a log. */
export interface LogEntry {
  /** The entry's address: ordered like the log, as append resolved it. */
  address: number;
  data: Buffer;
}

export interface DurableDataLog {
  /** The owner epoch the log was opened with; a newer owner has a higher one. */
  readonly epoch: number;
  /**
   * STORAGE_FULL while the log's disks refuse its entries (it holds them and waits for room):
   * new work is better refused with it than queued. Undefined otherwise (and for logs that cannot tell).
   */
  readonly storageFull?: SluiceError | undefined;
  /**
   * Appends one entry made of `pieces` (not copied; they must not change until it settles).
   * Resolves with the entry's address once it is durable on the ack quorum. Entries resolve in
   * append order. A rejection means the log can no longer be used by this owner (fail-stop):
   * WRITER_NOT_PRIMARY once a newer owner fenced it, CLOSED after close, STORAGE_FULL when its
   * disks stayed full too long.
   */
  append(pieces: readonly Buffer[]): Promise<number>;
  /**
   * Entries from `from` (an address; 0: the start), or from the truncation point if that is
   * later, to the last acknowledged one, in order, with no gap.
   */
  read(from?: number): AsyncIterable<LogEntry>;
  /**
   * Entries below `address` are gone: later reads start at it. Whole ledgers below it are removed
   * (metadata first, then the log nodes).
   */
  truncate(address: number): Promise<void>;
  /** Lets go of the log; the next owner recovers what this one left. */
  close(): Promise<void>;
}

/** What a container appends through; the foundation's local journal provides only this. */
export type DataLogAppender = Pick<DurableDataLog, "append">;

/** A container's log as one ledger of the local journal (the foundation's Tier-1, until the segment store moves to Tier1DataLog). */
export class JournalDataLog implements DataLogAppender {
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

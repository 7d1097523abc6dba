/**
 * What a ledger client asks of one log node (a Tier-1 replica, like a BookKeeper bookie). Two
 * implementations: the node's own storage called in-process (standalone, and the log node server
 * behind its TCP port), and a remote node over the wire protocol (proto/wire, log-node frames).
 * Both give the same answers and the same typed errors.
 *
 * Ids: a ledger id is a u32 >= 1 allocated by the metadata store and never reused; an entry id is
 * a safe integer >= 0. `-1` stands for "none" in last-add-confirmed and last-entry fields.
 */

export interface LedgerState {
  /** The largest last-add-confirmed any stored entry of the ledger carried; -1 if none. */
  lac: number;
  /** The largest entry id this node stores for the ledger; -1 if none. */
  lastEntryId: number;
  /** True once the ledger is fenced here: adds without the recovery flag then fail LEDGER_FENCED. */
  fenced: boolean;
}

export interface LogNodeApi {
  /**
   * `host:port` of the node, or `local:...` for an in-process one; for messages and placement. The
   * name ledgers record the node under; it says where to reach the node, not which data it holds
   * (that is `instanceId`).
   */
  readonly address: string;

  /**
   * Stores one entry and resolves once it is written and fdatasync'd. `lac` is the writer's
   * last-add-confirmed when it sent the entry (stored with it; see LedgerState.lac). Adding an
   * entry id the node already holds resolves without storing it again (entries never change).
   * Rejects LEDGER_FENCED if the ledger is fenced and `recovery` is false; INVALID_ARGUMENT for bad
   * ids or data above ledgerEntryBytesMax; UNAVAILABLE / TIMEOUT / CONNECTION_CLOSED when a remote
   * node cannot be reached (the outcome is then unknown); CLOSED after close.
   */
  addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void>;

  /**
   * Reads entries `firstEntryId`, `firstEntryId + 1`, ... that this node holds, stopping before the
   * first it does not hold, or once `maxBytes` of entry data are gathered (the first entry is
   * returned whatever its size), or before an entry whose checksum fails. Every entry's checksum
   * is verified when read. Rejects NO_SUCH_ENTRY if the first entry is not held here (or the
   * ledger is deleted or unknown), and DATA_CORRUPTION if the first entry's record is damaged, or
   * if it is missing while the node's journal holds damaged records (it may have been among them).
   */
  readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]>;

  /** The node's state of the ledger; an unknown ledger answers { lac: -1, lastEntryId: -1, fenced: false }. */
  readState(ledger: number): Promise<LedgerState>;

  /**
   * Fences the ledger durably (a record fdatasync'd before this resolves), even if the node holds
   * no entry of it yet, so that no later add without the recovery flag succeeds here, also after a
   * restart. Resolves with the ledger's state after fencing. Idempotent.
   */
  fence(ledger: number): Promise<LedgerState>;

  /**
   * Deletes the ledger durably: its entries are no longer served, and journal files are removed
   * once every ledger in them is deleted (oldest files first). Idempotent: deleting an unknown
   * ledger resolves.
   */
  deleteLedger(ledger: number): Promise<void>;

  /**
   * The identity of the data the node holds (its cookie, lognode/node-cookie.ts): a random id made
   * at the node's first start and kept in its data directory, so it survives restarts and moves of
   * the directory, and changes when the directory is wiped, deleted or swapped. Ledger metadata
   * records it per node; a node answering another id no longer holds what it held. Optional: a
   * node that cannot tell (an older node) has no such method, and its identity is not checked.
   * Rejects as readState does when the node cannot be reached.
   */
  instanceId?(): Promise<string>;

  /** Releases the connection or the storage. Later calls reject CLOSED. Idempotent. */
  close(): Promise<void>;
}

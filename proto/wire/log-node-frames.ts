/**
 * Log node frames: a ledger client (the segment store's Tier-1 log) to a log node (wire.md, "Log
 * node frames"). Shapes only; frames.ts gathers them into the Frame union.
 */
export interface AddEntryFrame {
  type: "AddEntry";
  requestId: number;
  /** u32 ledger id. */
  ledger: number;
  /** >= 0. */
  entryId: number;
  /** The writer's last-add-confirmed when it sent the entry; -1 if none. */
  lac: number;
  /** Set by a recovering writer: the add is taken even if the ledger is fenced. */
  recovery: boolean;
  /**
   * The entry's bytes, as pieces sent one after another without being copied. Decoding gives one
   * view of the payload (or none for an empty entry).
   */
  data: readonly Buffer[];
}

export interface EntryAddedFrame {
  type: "EntryAdded";
  requestId: number;
  ledger: number;
  entryId: number;
}

export interface ReadEntriesFrame {
  type: "ReadEntries";
  requestId: number;
  ledger: number;
  /** >= 0. */
  firstEntryId: number;
  /** Entry bytes wanted; the first entry is returned whatever its size. */
  maxBytes: number;
}

export interface EntriesReadFrame {
  type: "EntriesRead";
  requestId: number;
  ledger: number;
  firstEntryId: number;
  /** Entries `firstEntryId`, `firstEntryId + 1`, ...; views of the payload once decoded. */
  entries: readonly Buffer[];
}

export interface ReadLedgerStateFrame {
  type: "ReadLedgerState";
  requestId: number;
  ledger: number;
}

/** A ledger's state on one log node (LedgerState in segmentstore/tier1/log-node-api.ts). */
interface LedgerStateFields {
  requestId: number;
  ledger: number;
  /** -1 if none. */
  lac: number;
  /** -1 if none. */
  lastEntryId: number;
  fenced: boolean;
}

export interface LedgerStateReadFrame extends LedgerStateFields {
  type: "LedgerStateRead";
}

export interface FenceLedgerFrame {
  type: "FenceLedger";
  requestId: number;
  ledger: number;
}

export interface LedgerFencedFrame extends LedgerStateFields {
  type: "LedgerFenced";
}

export interface DeleteLedgerFrame {
  type: "DeleteLedger";
  requestId: number;
  ledger: number;
}

export interface LedgerDeletedFrame {
  type: "LedgerDeleted";
  requestId: number;
  ledger: number;
}

/** Asks the node for the identity of the data it holds (LogNodeApi.instanceId). */
export interface ReadNodeIdentityFrame {
  type: "ReadNodeIdentity";
  requestId: number;
}

export interface NodeIdentityFrame {
  type: "NodeIdentity";
  requestId: number;
  /** The node's cookie: an instance id made at its first start, kept in its data directory. */
  instanceId: string;
}

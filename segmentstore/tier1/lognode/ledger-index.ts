/**
 * The log node's in-memory index: for each ledger, where each durable entry's record lies in the
 * journal, and what the node knows of the ledger (fenced, deleted, largest last-add-confirmed).
 *
 * Memory: an entry costs 24 bytes (entry id and position as f64, file number and record length as
 * u32) in four parallel typed arrays per ledger, sorted by entry id and searched by bisection. A
 * ledger's entries normally arrive in increasing id order, which appends; an out-of-order id is
 * inserted in place.
 */
import { assert } from "../../../common/index.js";

const capacityInitial = 8;

/** Where one entry's record is: journal file, header offset, whole record length. */
export interface EntryLocation {
  entryId: number;
  fileNumber: number;
  position: number;
  bytes: number;
}

/** One ledger's durable entries, sorted by entry id. */
export class LedgerEntries {
  private ids = new Float64Array(capacityInitial);
  private files = new Uint32Array(capacityInitial);
  private positions = new Float64Array(capacityInitial);
  private lengths = new Uint32Array(capacityInitial);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The largest entry id held; -1 if none. */
  get lastEntryId(): number {
    return this.count === 0 ? -1 : this.idAt(this.count - 1);
  }

  /** The index of `entryId` in id order, or -1 if it is not held. */
  indexOf(entryId: number): number {
    const at = this.lowerBound(entryId);
    return at < this.count && this.idAt(at) === entryId ? at : -1;
  }

  idAt(i: number): number {
    return this.ids[i] ?? -1;
  }

  locationAt(i: number): EntryLocation {
    assert(i >= 0 && i < this.count, `entry index ${i} of ${this.count}`);
    return { entryId: this.idAt(i), fileNumber: this.files[i] ?? 0, position: this.positions[i] ?? 0, bytes: this.lengths[i] ?? 0 };
  }

  /** Adds an entry's location; answers false, changing nothing, if the id is held already. */
  insert(entryId: number, fileNumber: number, position: number, bytes: number): boolean {
    let at = this.count;
    if (this.count > 0 && this.idAt(this.count - 1) >= entryId) {
      at = this.lowerBound(entryId);
      if (this.idAt(at) === entryId) return false;
    }
    if (this.count === this.ids.length) this.grow();
    if (at < this.count) {
      this.ids.copyWithin(at + 1, at, this.count);
      this.files.copyWithin(at + 1, at, this.count);
      this.positions.copyWithin(at + 1, at, this.count);
      this.lengths.copyWithin(at + 1, at, this.count);
    }
    this.ids[at] = entryId;
    this.files[at] = fileNumber;
    this.positions[at] = position;
    this.lengths[at] = bytes;
    this.count++;
    return true;
  }

  /** The first index whose id is >= entryId (count if none). */
  private lowerBound(entryId: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.idAt(mid) < entryId) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const capacity = this.ids.length * 2;
    const ids = new Float64Array(capacity);
    const files = new Uint32Array(capacity);
    const positions = new Float64Array(capacity);
    const lengths = new Uint32Array(capacity);
    ids.set(this.ids);
    files.set(this.files);
    positions.set(this.positions);
    lengths.set(this.lengths);
    this.ids = ids;
    this.files = files;
    this.positions = positions;
    this.lengths = lengths;
  }
}

/** What the node knows of one ledger. */
export class LedgerInfo {
  /** Durable entries; undefined until the first, and again once the ledger is deleted. */
  entries: LedgerEntries | undefined;
  /** Adds written but not yet durable, by entry id: a duplicate add waits for the same write. */
  inflight: Map<number, Promise<void>> | undefined;
  /** The largest last-add-confirmed stored with a durable entry; -1 if none. */
  lac = -1;
  /** Set when fence() is called (adds arriving later are refused), and at replay of a fence record. */
  fenced = false;
  /** The fence record being written, until it is durable. */
  fencing: Promise<void> | undefined;
  /** Set when deleteLedger() is called: adds are refused and entries are no longer served. */
  deleted = false;
  /** The delete record being written (and the file removal after it), until done. */
  deleting: Promise<void> | undefined;
  /** Set once the delete record is durable: only then may files holding the ledger's records go. */
  deleteDurable = false;
  /** The newest journal file holding a durable record of the ledger; 0 if none. */
  lastFile = 0;

  get lastEntryId(): number {
    return this.entries?.lastEntryId ?? -1;
  }

  /** Marks the ledger deleted and drops its index; answers how many indexed entries went. */
  markDeleted(): number {
    const dropped = this.entries?.size ?? 0;
    this.deleted = true;
    this.entries = undefined;
    this.lac = -1;
    return dropped;
  }
}

/** Which ledgers each journal file holds records of (entries, fences, deletes). */
export class FileLedgers {
  private readonly byFile = new Map<number, Set<number>>();

  /** Notes that `fileNumber` holds a durable record of `ledger`. */
  note(fileNumber: number, ledger: number, info: LedgerInfo): void {
    let ledgers = this.byFile.get(fileNumber);
    if (ledgers === undefined) {
      ledgers = new Set();
      this.byFile.set(fileNumber, ledgers);
    }
    ledgers.add(ledger);
    if (fileNumber > info.lastFile) info.lastFile = fileNumber;
  }

  /** The ledgers `fileNumber` holds records of (none if it holds no record). */
  ledgersIn(fileNumber: number): ReadonlySet<number> {
    return this.byFile.get(fileNumber) ?? new Set();
  }

  forget(fileNumber: number): void {
    this.byFile.delete(fileNumber);
  }
}

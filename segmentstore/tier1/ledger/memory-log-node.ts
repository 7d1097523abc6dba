/**
 * An in-memory LogNodeApi for unit tests of the ledger client, with faults to inject: a node that
 * is down (every call fails UNAVAILABLE), one that is stopped (calls wait until it is continued,
 * like SIGSTOP), damaged entries (reads fail DATA_CORRUPTION), and a full disk (adds and fences
 * fail STORAGE_FULL, and so does the health probe, as LedgerStorage's do). Not a storage path:
 * process tests use real log nodes.
 */
import { ClosedError, DataCorruptionError, LedgerFencedError, NoSuchEntryError, StorageFullError, UnavailableError } from "../../../common/index.js";
import { probeLedgerId } from "../log-metadata.js";
import type { LedgerState, LogNodeApi } from "../log-node-api.js";

interface MemoryLedger {
  entries: Map<number, { lac: number; data: Buffer }>;
  fenced: boolean;
}

export class MemoryLogNode implements LogNodeApi {
  readonly ledgers = new Map<number, MemoryLedger>();
  readonly deleted = new Set<number>();
  readonly damaged = new Set<string>();
  /** Calls made, by kind (for assertions). */
  readonly calls = { add: 0, read: 0, fence: 0, delete: 0, state: 0 };
  private down = false;
  private full = false;
  private stoppedCalls: (() => void)[] | undefined;
  private closed = false;

  constructor(readonly address: string) {}

  /** Every call fails UNAVAILABLE until `up()`; calls waiting on a stop fail too. */
  crash(): void {
    this.down = true;
  }

  up(): void {
    this.down = false;
  }

  /** Calls wait (neither resolve nor reject) until `resume()`. */
  stop(): void {
    this.stoppedCalls ??= [];
  }

  resume(): void {
    const calls = this.stoppedCalls ?? [];
    this.stoppedCalls = undefined;
    for (const run of calls) run();
  }

  /** Adds, fences and the health probe fail STORAGE_FULL until `makeRoom()`. */
  fill(): void {
    this.full = true;
  }

  makeRoom(): void {
    this.full = false;
  }

  damage(ledger: number, entryId: number): void {
    this.damaged.add(`${ledger}/${entryId}`);
  }

  addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void> {
    this.calls.add++;
    const copy = Buffer.concat(data);
    return this.run(() => {
      if (this.full) throw new StorageFullError(`${this.address}: the disk is full`);
      if (this.deleted.has(ledger)) throw new LedgerFencedError(`ledger ${ledger} is deleted`);
      const l = this.ledger(ledger);
      if (l.fenced && !recovery) throw new LedgerFencedError(`ledger ${ledger} is fenced`);
      if (!l.entries.has(entryId)) l.entries.set(entryId, { lac, data: copy });
    });
  }

  readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]> {
    this.calls.read++;
    return this.run(() => {
      const l = this.ledgers.get(ledger);
      const out: Buffer[] = [];
      let bytes = 0;
      for (let e = firstEntryId; ; e++) {
        const entry = l?.entries.get(e);
        if (entry === undefined || (out.length > 0 && bytes + entry.data.length > maxBytes)) break;
        if (this.damaged.has(`${ledger}/${e}`)) {
          if (out.length > 0) break;
          throw new DataCorruptionError(`${this.address}: ledger ${ledger} entry ${e} fails its checksum`);
        }
        out.push(entry.data);
        bytes += entry.data.length;
      }
      if (out.length === 0) throw new NoSuchEntryError(`${this.address}: no entry ${firstEntryId} of ledger ${ledger}`);
      return out;
    });
  }

  readState(ledger: number): Promise<LedgerState> {
    this.calls.state++;
    return this.run(() => {
      if (this.full && ledger === probeLedgerId) throw new StorageFullError(`${this.address}: the disk is full`);
      return this.state(ledger);
    });
  }

  fence(ledger: number): Promise<LedgerState> {
    this.calls.fence++;
    return this.run(() => {
      if (this.full) throw new StorageFullError(`${this.address}: the disk is full`);
      this.ledger(ledger).fenced = true;
      return this.state(ledger);
    });
  }

  deleteLedger(ledger: number): Promise<void> {
    this.calls.delete++;
    return this.run(() => {
      this.ledgers.delete(ledger);
      this.deleted.add(ledger);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private ledger(id: number): MemoryLedger {
    let l = this.ledgers.get(id);
    if (l === undefined) {
      l = { entries: new Map(), fenced: false };
      this.ledgers.set(id, l);
    }
    return l;
  }

  private state(ledger: number): LedgerState {
    const l = this.ledgers.get(ledger);
    if (l === undefined) return { lac: -1, lastEntryId: -1, fenced: false };
    let lac = -1;
    let last = -1;
    for (const [id, e] of l.entries) {
      lac = Math.max(lac, e.lac);
      last = Math.max(last, id);
    }
    return { lac, lastEntryId: last, fenced: l.fenced };
  }

  private run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const go = (): void => {
        if (this.closed) return reject(new ClosedError(`${this.address} is closed`));
        if (this.down) return reject(new UnavailableError(`${this.address} is down`));
        try {
          resolve(fn());
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      };
      if (this.stoppedCalls !== undefined) this.stoppedCalls.push(go);
      else queueMicrotask(go);
    });
  }
}

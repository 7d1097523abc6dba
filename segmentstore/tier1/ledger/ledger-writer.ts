/**
 * Writes one ledger: each entry goes to its write set (Qw nodes of the ensemble), adds are
 * pipelined, and entries are acknowledged in order once Qa nodes have each durable. A node that
 * fails an add is dropped for the rest of the ledger (its later entries go to the others); while
 * every entry can still reach Qa the ledger goes on "degraded". When it cannot, or when a node
 * answers LEDGER_FENCED (a newer owner is recovering the ledger), the writer is broken: it takes no
 * more adds, acknowledges nothing more, and reports it once through `onBroken`. The owner then
 * closes the ledger at `lac` and re-sends what was not acknowledged to a new ledger. When every node
 * dropped refused for a full disk, the writer breaks with STORAGE_FULL (not UNAVAILABLE), so the
 * owner knows to wait for room rather than for nodes.
 */
import { assert, LedgerFencedError, StorageFullError, UnavailableError, logger, toSluiceError, type SluiceError } from "../../../common/index.js";
import type { LogNodeApi } from "../log-node-api.js";
import { quorumReachable, writeSet } from "./quorum.js";

const log = logger("tier1");

export interface LedgerWriterEvents {
  /** The last-add-confirmed advanced to `lac`: every entry up to it is acknowledged. */
  onAcked(lac: number): void;
  /** The writer broke (LEDGER_FENCED, or too few nodes left); called once, after which nothing is acked. */
  onBroken(err: SluiceError): void;
}

interface PendingAdd {
  entryId: number;
  acks: number;
}

export class LedgerWriter {
  private nextEntryId = 0;
  private lastAcked = -1;
  /** Entries sent and not yet acknowledged, in entry order. */
  private readonly pending: PendingAdd[] = [];
  /** Ensemble indexes of nodes dropped for this ledger. */
  private readonly down = new Set<number>();
  /** Dropped nodes whose failure was a full disk (STORAGE_FULL). */
  private readonly full = new Set<number>();
  private broken: SluiceError | undefined;
  private abandoned = false;
  private dataBytes = 0;

  constructor(
    readonly ledgerId: number,
    private readonly ensemble: readonly LogNodeApi[],
    private readonly writeQuorum: number,
    private readonly ackQuorum: number,
    private readonly events: LedgerWriterEvents,
  ) {
    assert(ackQuorum >= 1 && ackQuorum <= writeQuorum && writeQuorum <= ensemble.length, "quorums fit the ensemble");
  }

  /** Entries acknowledged up to here (-1: none). */
  get lac(): number {
    return this.lastAcked;
  }

  /** The id the next add gets; lac + 1 when nothing is pending. */
  get nextEntry(): number {
    return this.nextEntryId;
  }

  /** Data bytes added so far (for rollover by size). */
  get bytes(): number {
    return this.dataBytes;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Some node of the ensemble was dropped: entries are stored on fewer than Qw nodes. */
  get degraded(): boolean {
    return this.down.size > 0;
  }

  get failure(): SluiceError | undefined {
    return this.broken;
  }

  /** Addresses of the dropped nodes. */
  get downNodes(): string[] {
    return [...this.down].map((i) => this.ensemble[i]?.address ?? String(i));
  }

  /**
   * Sends one entry to its write set and returns its id; the ack comes through onAcked. Must not
   * be called once broken or abandoned. The data buffers must not change until it is acknowledged
   * or the writer is abandoned.
   */
  add(data: readonly Buffer[]): number {
    assert(this.broken === undefined && !this.abandoned, "add on a broken or abandoned ledger writer");
    const entryId = this.nextEntryId++;
    const add: PendingAdd = { entryId, acks: 0 };
    this.pending.push(add);
    for (const piece of data) this.dataBytes += piece.length;
    for (const i of writeSet(entryId, this.ensemble.length, this.writeQuorum)) {
      if (this.down.has(i)) continue;
      const node = this.ensemble[i]!;
      node.addEntry(this.ledgerId, entryId, this.lastAcked, data, false).then(
        () => this.acked(add),
        (err: unknown) => this.nodeFailed(i, toSluiceError(err)),
      );
    }
    // Its write set may already lack Qa live nodes.
    this.checkReachable();
    return entryId;
  }

  /** Stops listening: later acks and failures are ignored, onAcked/onBroken are not called again. */
  abandon(): void {
    this.abandoned = true;
  }

  private acked(add: PendingAdd): void {
    if (this.abandoned || this.broken !== undefined) return;
    add.acks++;
    let advanced = false;
    for (;;) {
      const head = this.pending[0];
      if (head === undefined || head.acks < this.ackQuorum) break;
      this.pending.shift();
      this.lastAcked = head.entryId;
      advanced = true;
    }
    if (advanced) this.events.onAcked(this.lastAcked);
  }

  private nodeFailed(index: number, err: SluiceError): void {
    if (this.abandoned || this.broken !== undefined) return;
    const address = this.ensemble[index]?.address;
    if (err instanceof LedgerFencedError) {
      this.break(err);
      return;
    }
    if (!this.down.has(index)) {
      log.warn("log node dropped from ledger", { ledger: this.ledgerId, node: address, error: err.message });
      this.down.add(index);
      if (err instanceof StorageFullError) this.full.add(index);
    }
    this.checkReachable();
  }

  private checkReachable(): void {
    if (this.broken !== undefined || this.abandoned) return;
    if (this.pending.length === 0 && this.down.size === 0) return;
    if (!quorumReachable(this.ensemble.length, this.writeQuorum, this.ackQuorum, this.down)) {
      const why = `too few log nodes left for an ack quorum of ${this.ackQuorum} (down: ${this.downNodes.join(", ")})`;
      this.break(
        this.full.size === this.down.size
          ? new StorageFullError(`ledger ${this.ledgerId}: the disks of its log nodes are full: ${why}`)
          : new UnavailableError(`ledger ${this.ledgerId}: ${why}`),
      );
    }
  }

  private break(err: SluiceError): void {
    this.broken = err;
    this.events.onBroken(err);
  }
}
